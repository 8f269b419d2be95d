/* tir_print.c — the tile IR text form (docs/TILE_IR.md). One op per line:
 *
 *   %r0, %r1 = name %a, %b {key=value ...} : T0, T1
 *
 * `for` adds its body arguments and a nested block:
 *   %6, %7 = for %5, %2, %3 : T6, T7 args(%8: box<8x8>, %9: T, %10: T) {
 *     ...
 *     yield %20, %21
 *   }
 * Expression attributes use expr_print's prefix form. tir_parse.c reads
 * exactly this text back. */
#include <math.h>
#include <string.h>

#include "tile_ir.h"
#include "tir_text.h"

const char *const tir_space_names[4] = {"none", "global", "shared", "reg"};
const char *const tir_layout_names[6] = {"any", "mma_a", "mma_b", "mma_acc", "smem_row", "host"};
const char *const tir_tensor_names[TENSOR_COUNT] = {"q",     "k",     "v",   "o",   "lse", "param", "do",  "dq",  "dk",
                                                    "dv",    "dparam", "delta", "slots", "qdq", "kdk", "dox", "dkh", "dvh"};
const char *const tir_programs_names[PROG_COUNT] = {"default", "qtiles", "heads", "kvtiles",
                                                    "kvheads", "slots",  "elems", "one"};
const char *const tir_range_names[4] = {"all", "bounds", "table", "inverse"};
const char *const tir_feature_names[3] = {"identity", "elu1", "relu"};
const char *const tir_decay_names[3] = {"none", "head", "token"};
const char *const tir_family_names[2] = {"softmax", "linear"};
const char *const tir_arch_names[3] = {"host", "sm_80", "sm_90a"};
const char *const tir_inter_names[3] = {"state", "chunked", "chain"};

static void print_dim(strbuf *out, int v)
{
    if (v > 0)
        sb_printf(out, "%d", v);
    else
        sb_puts(out, v == TIR_DIM_TQ ? "Tq" : v == TIR_DIM_TK ? "Tk" : "?");
}

void tir_print_type(strbuf *out, const tir_type *t)
{
    switch (t->kind) {
    case TV_TILE:
        sb_puts(out, "tile<");
        print_dim(out, t->shape[0]);
        sb_putc(out, 'x');
        print_dim(out, t->shape[1]);
        sb_printf(out, ",%s,%s,%s>", dtype_name(t->dt), tir_space_names[t->space], tir_layout_names[t->layout]);
        break;
    case TV_ROWS:
        sb_puts(out, "rows<");
        print_dim(out, t->shape[0]);
        sb_printf(out, ",%s>", tir_layout_names[t->layout]);
        break;
    case TV_BOX:
        sb_puts(out, "box<");
        if (t->box_ndims == 0)
            sb_puts(out, t->box_ext[0] ? (t->box_ext[0] == TIR_DIM_TQ ? "Tq" : "Tk") : "all");
        for (int i = 0; i < t->box_ndims; i++) {
            if (i)
                sb_putc(out, 'x');
            print_dim(out, t->box_ext[i]);
        }
        sb_putc(out, '>');
        break;
    case TV_RANGE:
        sb_puts(out, "range");
        break;
    case TV_CLASS:
        sb_puts(out, "class");
        break;
    }
}

static const char *param_namer(void *user, int param)
{
    const tir_kernel *k = user;
    if (param >= 0 && param < k->nparams && k->params[param].name)
        return k->params[param].name;
    return "?";
}

static void print_expr_attr(strbuf *out, const tir_kernel *k, const char *key, const expr *e)
{
    sb_printf(out, " %s=", key);
    if (e)
        expr_print(out, e, param_namer, (void *)k);
    else
        sb_puts(out, "none");
}

static void print_float(strbuf *out, double v)
{
    if (isinf(v))
        sb_puts(out, v < 0 ? "-inf" : "inf");
    else
        sb_printf(out, "%.17g", v);
}

static void print_param_attr(strbuf *out, const tir_kernel *k, int param)
{
    if (param < 0)
        sb_puts(out, " param=none");
    else
        sb_printf(out, " param=%s", param_namer((void *)k, param));
}

static void print_range_attrs(strbuf *out, const tir_kernel *k, const tir_op *op)
{
    sb_printf(out, " mode=%s", tir_range_names[op->range_mode]);
    if (op->range_mode != RANGE_BOUNDS && op->range_mode != RANGE_INVERSE && !op->span)
        return; /* a table cut by documents has bounds and its span too */
    for (int d = 0; d < op->range_ndims; d++) {
        char key[16]; /* "lo" + an int: at most 13 bytes */
        snprintf(key, sizeof key, "lo%d", d);
        print_expr_attr(out, k, key, op->range_lo[d]);
        snprintf(key, sizeof key, "hi%d", d);
        print_expr_attr(out, k, key, op->range_hi[d]);
    }
    for (int p = 0; p < op->range_nparts; p++)
        for (int d = 0; d < op->range_ndims; d++) {
            char key[32]; /* room for any two ints: gcc's -Wformat-truncation at -O0 */
            snprintf(key, sizeof key, "part%d.lo%d", p, d);
            print_expr_attr(out, k, key, op->part_lo[p][d]);
            snprintf(key, sizeof key, "part%d.hi%d", p, d);
            print_expr_attr(out, k, key, op->part_hi[p][d]);
        }
    if (op->span)
        sb_printf(out, " span=%s", param_namer((void *)k, op->span_param));
    if (op->span && op->span_full_expr)
        print_expr_attr(out, k, "span_full", op->span_full_expr);
    if (op->span && op->span_mask_expr)
        print_expr_attr(out, k, "span_mask", op->span_mask_expr);
}

/* The {...} attribute list, in a fixed order per op kind. */
static void print_attrs(strbuf *out, const tir_kernel *k, const tir_op *op)
{
    size_t start = out->len;
    sb_puts(out, " {");
    size_t body = out->len;
    switch (op->kind) {
    case TIR_LOAD:
    case TIR_STORE:
    case TIR_HEAD_SUM:
        sb_printf(out, " tensor=%s", tir_tensor_names[op->tensor]);
        if (op->tensor == TENSOR_PARAM || op->tensor == TENSOR_DPARAM || op->tensor == TENSOR_SLOTS)
            print_param_attr(out, k, op->param);
        if (op->kind == TIR_LOAD && op->aug)
            sb_puts(out, " aug=1");
        if (op->kind == TIR_LOAD && op->prefetch)
            sb_puts(out, " prefetch=1");
        break;
    case TIR_FOR:
        if (op->stages)
            sb_printf(out, " stages=%d", op->stages);
        if (op->reverse)
            sb_puts(out, " reverse=1");
        break;
    case TIR_WAIT:
        sb_printf(out, " pending=%d", op->pending);
        break;
    case TIR_FILL:
        sb_puts(out, " value=");
        print_float(out, op->fval);
        break;
    case TIR_KV_RANGE:
        print_range_attrs(out, k, op);
        break;
    case TIR_Q_RANGE:
        print_range_attrs(out, k, op);
        if (op->group)
            sb_puts(out, " group=1");
        break;
    case TIR_DOT:
        sb_printf(out, " trans_b=%d", op->trans_b);
        if (op->trans_a)
            sb_puts(out, " trans_a=1");
        break;
    case TIR_SCORE_GRAD:
        print_expr_attr(out, k, "dscore", op->score_expr);
        break;
    case TIR_PARAM_GRAD:
        print_param_attr(out, k, op->param);
        print_expr_attr(out, k, "site", op->site_expr);
        print_expr_attr(out, k, "partial", op->partial_expr);
        break;
    case TIR_SLOT_REDUCE:
        print_param_attr(out, k, op->param);
        break;
    case TIR_FEATURE_GRAD:
        sb_printf(out, " feature=%s", tir_feature_names[op->feature]);
        break;
    case TIR_GATE_GRAD:
        sb_printf(out, " decay=%s", tir_decay_names[op->decay]);
        print_param_attr(out, k, op->param);
        break;
    case TIR_TILE_CLASS:
        print_expr_attr(out, k, "full", op->full_expr);
        print_expr_attr(out, k, "empty", op->empty_expr);
        break;
    case TIR_SCORE:
        print_expr_attr(out, k, "score", op->score_expr);
        print_expr_attr(out, k, "mask", op->mask_expr);
        sb_printf(out, " base2=%d", op->base2);
        break;
    case TIR_SOFTMAX_UPDATE:
    case TIR_FINALIZE:
        sb_printf(out, " base2=%d", op->base2);
        break;
    case TIR_FEATURE_MAP:
        sb_printf(out, " feature=%s", tir_feature_names[op->feature]);
        break;
    case TIR_DECAY_MASK:
    case TIR_STATE_APPLY:
    case TIR_STATE_UPDATE:
        sb_printf(out, " decay=%s", tir_decay_names[op->decay]);
        print_param_attr(out, k, op->param);
        if (op->reverse)
            sb_puts(out, " reverse=1");
        if (op->strict)
            sb_puts(out, " strict=1");
        break;
    default:
        break;
    }
    if (out->len == body) {
        out->len = start; /* no attributes: drop the braces */
        if (out->data)
            out->data[start] = 0;
    } else {
        sb_puts(out, " }");
    }
}

static void print_value_list(strbuf *out, tir_value *const *vals, int n)
{
    for (int i = 0; i < n; i++)
        sb_printf(out, "%s%%%d", i ? ", " : "", vals[i] ? vals[i]->id : -1);
}

void tir_print_op_line(strbuf *out, const tir_kernel *k, const tir_op *op)
{
    if (op->nresults) {
        print_value_list(out, op->results, op->nresults);
        sb_puts(out, " = ");
    }
    sb_puts(out, tir_op_name(op->kind));
    if (op->noperands)
        sb_putc(out, ' ');
    print_value_list(out, op->operands, op->noperands);
    print_attrs(out, k, op);
    for (int i = 0; i < op->nresults; i++) {
        sb_puts(out, i ? ", " : " : ");
        tir_print_type(out, &op->results[i]->type);
    }
    if (op->body) {
        sb_puts(out, " args(");
        for (int i = 0; i < op->body->nargs; i++) {
            sb_printf(out, "%s%%%d: ", i ? ", " : "", op->body->args[i]->id);
            tir_print_type(out, &op->body->args[i]->type);
        }
        sb_putc(out, ')');
    }
}

static void print_block(strbuf *out, const tir_kernel *k, const tir_block *b, int depth)
{
    for (const tir_op *op = b->first; op; op = op->next) {
        for (int i = 0; i < depth; i++)
            sb_puts(out, "  ");
        tir_print_op_line(out, k, op);
        if (op->body) {
            sb_puts(out, " {\n");
            print_block(out, k, op->body, depth + 1);
            for (int i = 0; i < depth; i++)
                sb_puts(out, "  ");
            sb_putc(out, '}');
        }
        sb_putc(out, '\n');
    }
}

/* cross=1, extra_sizes=N and fixed=NAME:V,... (each when not the default). */
static void print_signature(strbuf *out, const tir_kernel *k)
{
    if (k->cross)
        sb_puts(out, " cross=1");
    if (k->nsizes > SZ_EXTRA0)
        sb_printf(out, " extra_sizes=%d", k->nsizes - SZ_EXTRA0);
    const char *sep = " fixed=";
    for (int i = 0; i < SZ_MAX; i++)
        if (k->size_fixed[i] > 0) {
            sb_printf(out, "%s%s:%lld", sep, size_id_name((size_id)i), (long long)k->size_fixed[i]);
            sep = ",";
        }
}

/* param NAME DT [DIM,...]: a dim is a size name or a literal extent. */
static void print_param(strbuf *out, const tir_kernel *k, int i)
{
    const tir_param *p = &k->params[i];
    sb_printf(out, "param %s %s", param_namer((void *)k, i), dtype_name(p->dtype));
    for (int d = 0; d < p->ndim; d++) {
        sb_puts(out, d ? "," : " [");
        if (p->const_dims[d] > 0)
            sb_printf(out, "%lld", (long long)p->const_dims[d]);
        else
            sb_puts(out, size_id_name(p->dims[d]));
    }
    sb_puts(out, p->ndim ? "]\n" : "\n");
}

static void print_linear(strbuf *out, const tir_kernel *k)
{
    const linear_attrs *l = &k->linear;
    sb_printf(out, "linear causal=%d feature=%s decay=%s", l->causal, tir_feature_names[l->feature],
              tir_decay_names[l->decay]);
    print_param_attr(out, k, l->decay_param);
    sb_printf(out, " normalize=%d block=%d inter=%s\n", l->normalize, l->block, tir_inter_names[l->inter]);
}

void tir_print(strbuf *out, tir_kernel *k)
{
    tir_renumber(k);
    sb_printf(out, "kernel %s family=%s dtype=%s d=%d dv=%d grid=%d arch=%s", k->name,
              tir_family_names[k->family ? 1 : 0], dtype_name(k->qkv_dtype), k->head_dim, k->head_dim_v,
              k->grid_ndim, tir_arch_names[k->arch]);
    if (tir_kernel_dilated(k)) {
        int nd = k->grid_ndim > 0 ? k->grid_ndim : 1;
        sb_puts(out, " dil=");
        for (int d = 0; d < nd; d++)
            sb_printf(out, "%s%d", d ? "," : "", k->dil[d] > 1 ? k->dil[d] : 1);
    }
    if (k->programs != PROG_DEFAULT)
        sb_printf(out, " programs=%s", tir_programs_names[k->programs]);
    if (k->programs == PROG_ELEMS)
        sb_printf(out, " elems_param=%d", k->param);
    print_signature(out, k);
    sb_puts(out, " schedule=\"");
    schedule_print_for(out, &k->sched, k->family != 0); /* 0: softmax, as tir_family_names */
    sb_puts(out, "\"\n");
    for (int i = 0; i < k->nparams; i++)
        print_param(out, k, i);
    if (k->family == FAMILY_LINEAR)
        print_linear(out, k);
    sb_puts(out, "{\n");
    print_block(out, k, k->body, 1);
    sb_puts(out, "}\n");
}

void tir_print_program(strbuf *out, tir_program *p)
{
    for (int i = 0; i < p->nkernels; i++) {
        if (i)
            sb_putc(out, '\n');
        tir_print(out, p->kernels[i]);
    }
}
