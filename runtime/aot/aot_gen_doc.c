/* aot_gen_doc.c — the ABI comment of a generated header: what each field
 * of NAME_args is (for recipe kernels: dtypes, shapes, head dims, which
 * size[] index is which size, the params), the launch configuration, and
 * the stream, ordering and threading rules. See aot.h. */
#include <inttypes.h>
#include <stdio.h>

#include "ir/expr.h"
#include "runtime/aot/aot_gen_impl.h"

/* "[batch, heads, nqb]" for a param, with literal dims as numbers. */
static void put_param_shape(strbuf *h, const aot_attn *t, const aot_attn_param *p)
{
    sb_putc(h, '[');
    for (int d = 0; d < p->ndim; d++) {
        sb_puts(h, d ? ", " : "");
        if (p->dim_size[d] >= 0)
            aot_put_comment(h, t->size_name[p->dim_size[d]]);
        else
            sb_printf(h, "%" PRId64, p->dim_const[d]);
    }
    sb_putc(h, ']');
}

/* "0..2^30" for a size limit. */
static void put_range(strbuf *h, int64_t limit)
{
    if (limit == (int64_t)1 << 30)
        sb_puts(h, "0..2^30");
    else if (limit == 2147483647)
        sb_puts(h, "0..2^31-1");
    else
        sb_printf(h, "0..%" PRId64, limit);
}

/* One line of the size[] table. */
static void put_size_line(strbuf *h, const aot_attn *t, int s)
{
    sb_printf(h, " *                [%d]%s ", s, s < 10 ? " " : "");
    strbuf nm;
    sb_init(&nm);
    aot_put_comment(&nm, t->size_name[s]);
    sb_printf(h, "%-10s ", sb_cstr(&nm));
    sb_free(&nm);
    if (s == SZ_KV_HEADS && !t->gqa) {
        sb_puts(h, "= heads (the recipe has no GQA)");
    } else if (s == SZ_KV_HEADS) {
        put_range(h, t->limit[s]);
        sb_puts(h, ", heads a multiple of it (GQA)");
    } else if (s == SZ_KV_TOKENS && !t->cross) {
        sb_puts(h, "= tokens (not cross attention)");
    } else {
        put_range(h, t->limit[s]);
        if (s >= SZ_GRID0 && s < SZ_GRID0 + t->grid_ndim)
            sb_printf(h, ", grid extent %d (extents multiply to tokens)", s - SZ_GRID0);
        else if (s >= t->first_extra)
            sb_puts(h, ", a param extent, >= 1 unless the launch is empty");
        else if (s != SZ_KV_TOKENS)
            sb_puts(h, " (0: an empty launch)");
    }
    for (int w = 0; w < t->nwindows; w++)
        if (t->window_size[w] == s)
            sb_printf(h, ", >= %" PRId64 " (window)", t->window_span[w]);
    if (t->fixed[s] > 0)
        sb_printf(h, "; fixed to %" PRId64 "%s", t->fixed[s], t->named[s] ? " (0 means that)" : "");
    sb_puts(h, "\n");
}

static void put_attn_args(const aot_spec *s, strbuf *h)
{
    const aot_attn *t = &s->attn;
    sb_printf(h, " *   q, k, v, o  device pointers (CUdeviceptr cast to void *) to %s tensors\n"
                 " *               q [batch, heads, tokens, %d], k [batch, kv_heads, kv_tokens, %d],\n"
                 " *               v [batch, kv_heads, kv_tokens, %d], o [batch, heads, tokens, %d]\n",
              t->dtype, t->head_dim, t->head_dim, t->head_dim_v, t->head_dim_v);
    if (t->linear)
        sb_puts(h, " *   lse         must be NULL (linear attention has no log-sum-exp)\n");
    else
        sb_puts(h, " *   lse         device pointer to f32 [batch, heads, tokens], each row's log-sum-exp\n"
                   " *               of its scores (-inf for a row without keys), or NULL: not written\n");
    sb_puts(h, " *   *_stride    strides in elements (not bytes) of each dim, outermost first, so\n"
               " *               any dim order works (e.g. [batch, tokens, heads, dim]): >= 0 on\n"
               " *               dims longer than 1; for q, k, v, o the last 1 and the others\n"
               " *               multiples of 16 bytes; o and lse may not map two elements to\n"
               " *               one address; a tensor spans at most 2^62 bytes\n"
               " *   size[16]    the sizes by index (int32):\n");
    for (int i = 0; i < AOT_NSIZES; i++)
        if (i <= SZ_KV_TOKENS || t->named[i])
            put_size_line(h, t, i);
    sb_puts(h, " *                others          unused: ignored (the kernel gets 0)\n");
    for (int i = 0; i < t->nparams; i++) {
        const aot_attn_param *p = &t->params[i];
        sb_printf(h, " *   %-11s ", s->params[t->first_param + i].name);
        if (p->ndim == 0) {
            sb_printf(h, "%s scalar, by value\n", p->dtype);
            continue;
        }
        sb_printf(h, "device pointer to %s ", p->dtype);
        put_param_shape(h, t, p);
        sb_puts(h, ", contiguous row-major\n");
    }
}

static void put_attn_launch(const aot_spec *s, strbuf *h)
{
    const aot_attn *t = &s->attn;
    sb_puts(h, " * Launch: grid (");
    if (t->grid_x_fixed > 0)
        sb_printf(h, "%d", t->grid_x_fixed);
    for (int d = 0; d < t->ntile_dims; d++) {
        sb_printf(h, "%sceil(", d ? " * " : "");
        aot_put_comment(h, t->size_name[t->tile_size[d]]);
        sb_printf(h, " / %d)", t->q_tile[d]);
    }
    sb_printf(h, ", heads, batch), %d threads, %d bytes of dynamic shared memory%s.\n", s->block[0], s->dyn_smem,
              !s->tma.enabled ? ""
              : s->tma.o_map  ? ";\n * tensor maps (TMA) of q, k, v and o encoded per launch"
                              : ";\n * tensor maps (TMA) of q, k and v encoded per launch");
    sb_printf(h, " * A launch with batch, heads or tokens 0 is empty: valid, and nothing runs.\n"
                 " * The checks are attnc_launch's (see %s_validate below).\n",
              s->name);
}

static const char *const type_names[] = {"void *", "int32_t", "int64_t", "float", "double"};

static void put_plain_args(const aot_spec *s, strbuf *h)
{
    for (int i = 0; i < s->nparams; i++) {
        const aot_param *p = &s->params[i];
        sb_printf(h, " *   %-11s %s", p->name, type_names[p->type]);
        if (p->count > 1)
            sb_printf(h, "[%d]", p->count);
        if (p->type == AOT_PTR)
            sb_printf(h, "  device pointer, %d-byte aligned%s", p->align ? p->align : 16,
                      p->nullable ? ", may be NULL" : ", not NULL");
        else if ((p->type == AOT_I32 || p->type == AOT_I64) && p->min <= p->max)
            sb_printf(h, "  %" PRId64 "..%" PRId64, p->min, p->max);
        sb_puts(h, "\n");
    }
    sb_puts(h, " * Launch: grid (");
    for (int i = 0; i < 3; i++) {
        const aot_dim *d = &s->grid[i];
        sb_puts(h, i ? ", " : "");
        if (d->arg[0] < 0 && d->arg[1] < 0) {
            sb_printf(h, "%" PRId64, d->div);
            continue;
        }
        sb_puts(h, d->div > 1 ? "ceil(" : "");
        for (int j = 0; j < 2; j++)
            if (d->arg[j] >= 0)
                sb_printf(h, "%s%s", j ? " * " : "", s->params[d->arg[j]].name);
        if (d->div > 1)
            sb_printf(h, " / %" PRId64 ")", d->div);
    }
    sb_printf(h, "), block %d x %d x %d, %d bytes of dynamic shared memory.\n", s->block[0], s->block[1],
              s->block[2], s->dyn_smem);
}

void aot_render_abi(const aot_spec *s, strbuf *h)
{
    sb_printf(h, " *\n * Arguments (%s_args: the kernel's parameters, in order)\n", s->name);
    if (s->attn.enabled) {
        put_attn_args(s, h);
        put_attn_launch(s, h);
    } else {
        put_plain_args(s, h);
    }
    sb_printf(h, " *\n * Streams: %s_launch validates, enqueues the kernel on `stream` (a CUstream;\n"
                 " * NULL: the default stream) and returns without waiting.\n"
                 " * Errors of the running kernel appear at the next synchronising call\n"
                 " * (cuStreamSynchronize, ...). The arguments are copied when the kernel is\n"
                 " * enqueued: the struct may be reused or freed at once; the buffers must stay\n"
                 " * allocated, and unwritten by others, until the kernel has finished.\n",
              s->name);
    if (!s->attn.enabled)
        sb_puts(h, " * Ordering: the launcher adds no synchronisation; whether launches may\n"
                   " * overlap is the kernel's business: order them with streams or events.\n");
    else if (s->serial)
        sb_puts(h, " * Ordering: launches must not overlap: this kernel keeps scratch in module\n"
                   " * globals, so issue its launches on one stream (or order them with events).\n");
    else
        sb_puts(h, " * Ordering: launches are independent: any number may run at once on\n"
                   " * different streams, from any threads, as long as none writes what another\n"
                   " * reads or writes. Order producers of the inputs before the launch, and\n"
                   " * consumers of the outputs after it, with the stream or with events.\n");
    sb_puts(h, " * Threads and contexts: every function is thread-safe. A launch uses the\n"
               " * calling thread's current CUDA context (else device 0's primary context) and\n"
               " * loads the image once per context (at most 16 contexts per process).\n");
}
