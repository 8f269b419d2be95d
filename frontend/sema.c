/*
 * sema.c — checks the parsed sections and builds the typed recipe.
 *
 * Order (sections may be written in any order): name, token grid, inputs
 * (dtype, head_dim, GQA), params, scale, then the family — mask and score
 * for softmax, the linear section for linear attention — and the tile
 * section last. Each step reports its errors and leaves the recipe in a
 * consistent state so later steps can still check their own sections.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sema.h"

bool fe_diag_full(const diag_list *d)
{
    return d->errors >= (d->max_errors > 0 ? d->max_errors : 50);
}

static const char *const dtype_words[] = {"bf16", "f16", "f32", "i32", "i64", "u8"};

/* A dtype by name, or -1 after reporting. max_dt limits it (DT_F32: q/k/v). */
static int check_dtype(sema *S, const char *name, src_loc loc, dtype max_dt)
{
    int n = (int)max_dt + 1;
    for (int i = 0; i < n; i++)
        if (!strcmp(name, dtype_words[i]))
            return i;
    const char *near = fe_suggest(name, dtype_words, n);
    char hint[64];
    snprintf(hint, sizeof hint, "write '%s'", near ? near : "");
    diag_error(S->d, loc, near ? hint : NULL, "unknown element type '%s' (%s)", name,
               max_dt == DT_F32 ? "q, k and v are bf16, f16 or f32" : "params are bf16, f16, f32, i32, i64 or u8");
    return -1;
}

static void init_sizes(recipe *r)
{
    for (int i = 0; i < SZ_EXTRA0; i++)
        r->sizes[i].name = size_id_name((size_id)i);
    r->nsizes = SZ_EXTRA0;
    r->sizes[SZ_BATCH].used = r->sizes[SZ_HEADS].used = r->sizes[SZ_TOKENS].used = true;
}

/* tokens grid(y: H, x: W) */
static void check_grid(sema *S)
{
    const syntax *syn = S->syn;
    recipe *r = S->r;
    int64_t total = 1;
    for (int d = 0; d < syn->grid_ndim; d++) {
        const dim_syntax *g = &syn->grid[d];
        if (fe_is_reserved(g->label))
            diag_error(S->d, g->label_loc, "use a name such as y, x or z", "'%s' is reserved and cannot name a grid dimension",
                       g->label);
        for (int e = 0; e < d; e++)
            if (!strcmp(g->label, syn->grid[e].label))
                diag_error(S->d, g->label_loc, NULL, "grid dimension '%s' is declared twice", g->label);
        S->grid_labels[d] = g->label;
        S->grid_label_locs[d] = g->label_loc;
        recipe_size *sz = &r->sizes[SZ_GRID0 + d];
        sz->used = true;
        if (g->name) {
            if (fe_is_reserved(g->name))
                diag_error(S->d, g->loc, "use a new name such as H or W", "'%s' cannot be a grid extent; it is reserved", g->name);
            sz->name = g->name;
            total = 0;
        } else if (g->num < 1 || g->num > (1 << 24)) {
            diag_error(S->d, g->loc, NULL, "grid extent must be from 1 to %d, not %lld", 1 << 24, (long long)g->num);
            total = 0;
        } else {
            sz->fixed = g->num;
            if (total && __builtin_mul_overflow(total, g->num, &total))
                total = 0;
        }
    }
    r->grid_ndim = syn->grid_ndim;
    for (int d = 0; d < r->grid_ndim; d++)
        r->grid_names[d] = S->grid_labels[d];
    if (r->grid_ndim && total > 0 && total < (1LL << 31))
        r->sizes[SZ_TOKENS].fixed = total;
}

static bool dim_is(const dim_syntax *d, const char *name)
{
    return d->name && !strcmp(d->name, name);
}

/* Dims 0-2 of an input shape; returns false after reporting. */
static bool check_input_dims(sema *S, const input_syntax *in, bool is_q)
{
    const char *want = is_q ? "[batch, heads, tokens, HEAD_DIM]" : "[batch, heads or kv_heads, tokens or kv_tokens, HEAD_DIM]";
    const dim_syntax *d = in->dims;
    const dim_syntax *bad = in->ndims != 4 ? NULL
                          : !dim_is(&d[0], "batch") ? &d[0]
                          : !(dim_is(&d[1], "heads") || (!is_q && dim_is(&d[1], "kv_heads"))) ? &d[1]
                          : !(dim_is(&d[2], "tokens") || (!is_q && dim_is(&d[2], "kv_tokens"))) ? &d[2]
                          : d[3].name ? &d[3] : NULL;
    if (in->ndims != 4 || bad) {
        diag_error(S->d, bad ? bad->loc : in->shape_loc, NULL, "the shape of %s must be %s", in->names[0], want);
        return false;
    }
    return true;
}

static bool head_dim_ok(sema *S, const dim_syntax *d)
{
    static const int ok[] = {16, 32, 64, 96, 128, 256};
    for (int i = 0; i < 6; i++)
        if (d->num == ok[i])
            return true;
    diag_error(S->d, d->loc, NULL, "head dimension %lld is not supported (16, 32, 64, 96, 128 or 256)", (long long)d->num);
    return false;
}

typedef struct qkv_seen {
    const input_syntax *decl[3];
} qkv_seen;

static void collect_inputs(sema *S, qkv_seen *seen)
{
    static const char *const names[3] = {"q", "k", "v"};
    for (const input_syntax *in = S->syn->inputs; in; in = in->next) {
        for (int i = 0; i < in->nnames; i++) {
            int which = -1;
            for (int j = 0; j < 3; j++)
                if (!strcmp(in->names[i], names[j]))
                    which = j;
            if (which < 0)
                diag_error(S->d, in->name_locs[i], "declare runtime tensors with 'param'",
                           "unknown input '%s'; the inputs are q, k and v", in->names[i]);
            else if (seen->decl[which])
                diag_error(S->d, in->name_locs[i], NULL, "input '%s' is declared twice", names[which]);
            else
                seen->decl[which] = in;
        }
    }
}

static void check_inputs(sema *S)
{
    static const char *const names[3] = {"q", "k", "v"};
    recipe *r = S->r;
    qkv_seen seen = {{0}};
    collect_inputs(S, &seen);
    src_loc where = S->syn->has[SEC_INPUT]    ? S->syn->loc[SEC_INPUT]
                  : S->syn->name            ? S->syn->name_loc
                  : S->syn->has[SEC_RECIPE] ? S->syn->loc[SEC_RECIPE]
                                            : (src_loc){1, 1, 1};
    int dts[3];
    for (int j = 0; j < 3; j++) {
        const input_syntax *in = seen.decl[j];
        if (!in) {
            diag_error(S->d, where, "declare them: input q, k, v : bf16 [batch, heads, tokens, 128]", "missing input '%s'",
                       names[j]);
            return;
        }
        dts[j] = check_dtype(S, in->dtype, in->dtype_loc, DT_F32);
        if (dts[j] < 0 || !check_input_dims(S, in, j == 0) || !head_dim_ok(S, &in->dims[3]))
            return;
    }
    for (int j = 1; j < 3; j++)
        if (dts[j] != dts[0]) {
            diag_error(S->d, seen.decl[j]->dtype_loc, NULL, "q, k and v must share one element type (q is %s, %s is %s)",
                       dtype_words[dts[0]], names[j], dtype_words[dts[j]]);
            return;
        }
    const dim_syntax *qd = seen.decl[0]->dims, *kd = seen.decl[1]->dims, *vd = seen.decl[2]->dims;
    if (kd[3].num != qd[3].num) {
        diag_error(S->d, kd[3].loc, NULL, "k's head dimension %lld differs from q's %lld", (long long)kd[3].num,
                   (long long)qd[3].num);
        return;
    }
    for (int i = 1; i <= 2; i++)
        if (strcmp(kd[i].name, vd[i].name)) {
            diag_error(S->d, vd[i].loc, NULL, "k and v must agree: k has '%s' here, v has '%s'", kd[i].name, vd[i].name);
            return;
        }
    r->qkv_dtype = (dtype)dts[0];
    r->qkv_dtype_loc = seen.decl[0]->dtype_loc;
    r->head_dim = (int)qd[3].num;
    r->head_dim_v = (int)vd[3].num;
    r->gqa = !strcmp(kd[1].name, "kv_heads");
    r->cross = !strcmp(kd[2].name, "kv_tokens");
    r->sizes[SZ_KV_HEADS].used = r->gqa;
    r->sizes[SZ_KV_TOKENS].used = r->cross;
    if (r->cross && r->grid_ndim)
        diag_error(S->d, kd[2].loc, NULL, "a recipe with a token grid needs k and v over the same tokens as q");
}

/* The size a param dimension names: standard, grid extent or a new extra name. */
static int param_size(sema *S, const dim_syntax *d)
{
    recipe *r = S->r;
    for (int i = 0; i < r->nsizes; i++) {
        bool grid = i >= SZ_GRID0 && i < SZ_EXTRA0;
        if (grid && (i - SZ_GRID0 >= r->grid_ndim || r->sizes[i].fixed))
            continue;
        if (r->sizes[i].name && !strcmp(r->sizes[i].name, d->name))
            return i;
    }
    if (fe_is_reserved(d->name)) {
        diag_error(S->d, d->loc, NULL, "'%s' cannot name a size", d->name);
        return -1;
    }
    if (r->nsizes == SZ_MAX) {
        diag_error(S->d, d->loc, NULL, "too many size names (at most %d besides the standard ones)", SZ_MAX - SZ_EXTRA0);
        return -1;
    }
    r->sizes[r->nsizes].name = d->name;
    return r->nsizes++;
}

static void check_param(sema *S, const param_syntax *ps, recipe_param *p)
{
    p->name = ps->name;
    p->loc = ps->name_loc;
    p->ndim = ps->ndims;
    int dt = check_dtype(S, ps->dtype, ps->dtype_loc, DT_U8);
    p->dtype = dt < 0 ? DT_F32 : (dtype)dt;
    for (int i = 0; i < ps->ndims; i++) {
        const dim_syntax *d = &ps->dims[i];
        if (!d->name) {
            if (d->num < 1 || d->num > (1 << 24))
                diag_error(S->d, d->loc, NULL, "a param dimension must be from 1 to %d, not %lld", 1 << 24, (long long)d->num);
            p->const_dims[i] = d->num;
            continue;
        }
        int sz = param_size(S, d);
        if (sz >= 0) {
            p->dims[i] = (size_id)sz;
            S->r->sizes[sz].used = true;
        }
    }
}

static void check_params(sema *S)
{
    int n = 0;
    for (const param_syntax *ps = S->syn->params; ps; ps = ps->next)
        n++;
    recipe *r = S->r;
    r->params = n ? ARENA_ARRAY(S->a, recipe_param, n) : NULL;
    if (n && !r->params)
        return;
    for (const param_syntax *ps = S->syn->params; ps; ps = ps->next) {
        bool clash = fe_is_reserved(ps->name) || fe_find_param(S, ps->name) >= 0;
        for (int d = 0; d < r->grid_ndim; d++)
            clash |= !strcmp(ps->name, r->sizes[SZ_GRID0 + d].name);
        if (clash) {
            diag_error(S->d, ps->name_loc, NULL, fe_find_param(S, ps->name) >= 0 ? "param '%s' is declared twice"
                                                                                   : "'%s' is already a name in the language",
                       ps->name);
            continue;
        }
        check_param(S, ps, &r->params[r->nparams++]);
    }
}

/* scale = CONSTANT: literals with + - * / and sqrt(). */
static bool const_float(const node *n, double *out)
{
    double l, r;
    switch (n->kind) {
    case N_INT:
    case N_FLOAT:
        *out = n->fval;
        return true;
    case N_UNARY:
        if (n->op != P_MINUS || !const_float(n->args[0], &l))
            return false;
        *out = -l;
        return true;
    case N_CALL:
        if (strcmp(n->name, "sqrt") || n->nargs != 1 || (n->keys && n->keys[0]) || !const_float(n->args[0], &l))
            return false;
        *out = sqrt(l);
        return true;
    case N_BINARY:
        if (!const_float(n->args[0], &l) || !const_float(n->args[1], &r))
            return false;
        *out = n->op == P_PLUS ? l + r : n->op == P_MINUS ? l - r : n->op == P_STAR ? l * r : n->op == P_SLASH ? l / r : NAN;
        return true;
    default:
        return false;
    }
}

static void check_scale(sema *S)
{
    recipe *r = S->r;
    r->scale = r->head_dim ? 1.0 / sqrt((double)r->head_dim) : 1.0;
    if (!S->syn->scale)
        return;
    double v;
    if (!const_float(S->syn->scale, &v))
        diag_error(S->d, S->syn->scale->span, "write scale = 0.125 or scale = 1 / sqrt(64)", "scale must be a constant number");
    else if (!(v > 0) || !isfinite(v))
        diag_error(S->d, S->syn->scale->span, NULL, "scale must be a positive finite number");
    else
        r->scale = v;
}

static void check_mask_score(sema *S)
{
    recipe *r = S->r;
    r->mask_loc = S->syn->loc[SEC_MASK];
    r->score_loc = S->syn->loc[SEC_SCORE];
    if (S->syn->mask) {
        S->ctx = CTX_MASK;
        expr *m = fe_sema_expr(S, S->syn->mask);
        if (m && m->type != TY_BOOL)
            diag_error(S->d, S->syn->mask->span, "compare it, e.g. k.t <= q.t", "a mask must be a bool expression, not %s",
                       fe_type_name(m->type));
        else if (m) {
            r->mask_surface = m;
            r->mask = fe_expand_forms(S->a, r, m);
        }
    }
    S->ctx = CTX_SCORE;
    expr *s = S->syn->score ? fe_sema_expr(S, S->syn->score)
                            : ex_binary(S->a, BIN_MUL, ex_leaf(S->a, EX_SCORE), ex_float(S->a, r->scale));
    if (s && s->type == TY_BOOL) {
        diag_error(S->d, S->syn->score->span, "masks go in the mask section", "a score must be a number, not bool");
        s = NULL;
    }
    r->score = s && s->type == TY_INT ? ex_unary(S->a, UN_TO_FLOAT, s) : s;
    r->score_origins = S->origins;
    r->nscore_origins = S->norigins;
}

static void check_family(sema *S)
{
    const syntax *syn = S->syn;
    if (!syn->has[SEC_LINEAR]) {
        S->r->family = FAMILY_SOFTMAX;
        check_mask_score(S);
        return;
    }
    S->r->family = FAMILY_LINEAR;
    static const section_kind softmax_only[] = {SEC_MASK, SEC_SCORE, SEC_SCALE};
    for (int i = 0; i < 3; i++) {
        section_kind k = softmax_only[i];
        if (syn->has[k])
            diag_error(S->d, syn->loc[k], "say causal or noncausal inside linear { ... }",
                       "a linear attention recipe cannot have a '%s' section", k == SEC_MASK ? "mask" : k == SEC_SCORE ? "score" : "scale");
    }
    fe_sema_linear(S);
}

void fe_sema_recipe(arena *a, const syntax *syn, diag_list *diags, recipe *r)
{
    sema S = {.a = a, .d = diags, .syn = syn, .r = r};
    r->name = syn->name ? syn->name : "";
    if (!syn->has[SEC_RECIPE])
        diag_error(diags, ((src_loc){1, 1, 1}), "start the file with: recipe my_attention", "missing 'recipe NAME' line");
    init_sizes(r);
    check_grid(&S);
    check_inputs(&S);
    check_params(&S);
    check_scale(&S);
    check_family(&S);
    fe_sema_tile(&S);
}
