/* tile_wgmma.c — nt_mma's warpgroup-MMA path and its asynchronous form
 * (tile.h): on sm_90a, a B operand in the 128-byte swizzle (K-major when
 * read transposed, MN-major otherwise) and an A operand from registers
 * (the warp's 16 rows; an accumulator is packed to dt first) or a swizzled
 * K-major tile (the warpgroup's 64 rows) become one wgmma product
 * (nvptx_wgmma.h), into the warp's 16 x N slice of the warpgroup's
 * accumulator. An accumulator of constant zeros is not read (scale-d 0),
 * so S = Q K^T needs no zeroed registers. Shared tiles written by ordinary
 * stores need nv_wg_proxy_fence before the barrier that publishes them. */
#include "tile.h"

#include "../nvptx_wgmma.h"

static bool fail(nt *t, const char *why)
{
    if (!t->error)
        t->error = why;
    return false;
}

static bool zeros(const nt_frag *c)
{
    for (int i = 0; i < c->n; i++) {
        LLVMBool lossy;
        if (!LLVMIsAConstantFP(c->v[i]) || LLVMConstRealGetDouble(c->v[i], &lossy) != 0.0)
            return false;
    }
    return true;
}

/* One product's operands as nv_wg_op's: descriptors of every k16 step
 * (steps: NULL), or of the first with the others' offsets in steps. */
typedef struct wg_args {
    LLVMValueRef ad[NV_WG_MAXSTEPS], bd[NV_WG_MAXSTEPS], aregs[4 * NV_WG_MAXSTEPS];
    int astep[NV_WG_MAXSTEPS], bstep[NV_WG_MAXSTEPS];
    nv_wg_op op;
} wg_args;

static bool check(nt *t, const nt_frag *acc, nt_opnd a, nt_opnd b)
{
    int K = b.transpose ? b.smem.cols : b.smem.rows, N = acc->cols;
    if (t->arch != TARGET_SM90A)
        return fail(t, "nt_mma: swizzled tiles are wgmma operands, sm_90a only");
    if (acc->rows != 16 || K / 16 > NV_WG_MAXSTEPS || K % 16 || N % 8 || N < 8 || N > 256)
        return fail(t, "nt_mma: a wgmma accumulator is the warp's 16 x N (N = 8..256, a multiple of 8), K <= 256");
    if (a.frag && a.frag->rows != 16)
        return fail(t, "nt_mma: a register A of wgmma is the warp's 16 rows");
    if (!a.frag && (a.smem.layout != NT_SWIZZLE128 || a.transpose || a.smem.rows != 64))
        return fail(t, "nt_mma: a shared A of wgmma is the warpgroup's 64 rows of a swizzled K-major tile");
    return true;
}

static void args_of(nt *t, wg_args *w, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt, bool one_desc,
                    nt_frag *a_live)
{
    nv_ctx *nv = &t->nv;
    int steps = (b.transpose ? b.smem.cols : b.smem.rows) / 16, nd = one_desc ? 1 : steps;
    LLVMValueRef *aregs = NULL;
    if (a.frag && a.frag->role == NT_C) {
        nt_frag packed;
        nt_to_a(t, &packed, a.frag, dt);
        for (int i = 0; i < packed.n; i++)
            w->aregs[i] = packed.v[i];
        aregs = w->aregs;
        if (a_live)
            *a_live = packed;
    } else if (a.frag) {
        aregs = (LLVMValueRef *)a.frag->v;
    } else {
        nv_wg_desc_kmajor(nv, nt_saddr(t, a.smem.off), a.smem.brows, 0, nd, w->ad);
        if (one_desc)
            nv_wg_steps_kmajor(a.smem.brows, 0, steps, w->astep);
    }
    LLVMValueRef baddr = nt_saddr(t, b.smem.off);
    if (b.transpose)
        nv_wg_desc_kmajor(nv, baddr, b.smem.brows, 0, nd, w->bd);
    else
        nv_wg_desc_mnmajor(nv, baddr, b.smem.brows, nd, w->bd);
    if (one_desc && b.transpose)
        nv_wg_steps_kmajor(b.smem.brows, 0, steps, w->bstep);
    else if (one_desc)
        nv_wg_steps_mnmajor(steps, w->bstep);
    w->op = (nv_wg_op){acc->cols, steps, aregs ? NULL : w->ad, aregs, w->bd, !zeros(acc), !b.transpose, acc->v,
                       one_desc && !aregs ? w->astep : NULL, one_desc ? w->bstep : NULL};
}

bool nt_mma_wgmma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt);

bool nt_mma_wgmma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt)
{
    if (!check(t, acc, a, b))
        return false;
    wg_args w;
    args_of(t, &w, acc, a, b, dt, t->wg_steps, NULL);
    nv_wg_products(&t->nv, dt, &w.op, 1);
    return true;
}

/* ops as one group: left running (async) or waited. */
static void group(nt *t, const nt_mma_op *ops, int n, dtype dt, bool async)
{
    wg_args w[NT_MMA_MAXOPS];
    nv_wg_op group[NT_MMA_MAXOPS];
    for (int i = 0; i < n && i < NT_MMA_MAXOPS; i++)
        if (ops[i].a_live) /* empty unless a product fills it */
            *ops[i].a_live = (nt_frag){.role = NT_A, .rows = 16, .dt = dt};
    if (n > NT_MMA_MAXOPS || n > NV_WG_MAXOPS) {
        fail(t, "nt_mma_async: at most two products a group");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (ops[i].b.frag || ops[i].b.smem.layout != NT_SWIZZLE128) {
            fail(t, "nt_mma_async: wgmma products only (a swizzled B tile)");
            return;
        }
        if (!check(t, ops[i].acc, ops[i].a, ops[i].b))
            return;
        args_of(t, &w[i], ops[i].acc, ops[i].a, ops[i].b, dt, async || t->wg_steps, ops[i].a_live);
        group[i] = w[i].op;
    }
    if (async)
        nv_wg_products_async(&t->nv, dt, group, n);
    else
        nv_wg_products(&t->nv, dt, group, n);
}

void nt_mma_async(nt *t, const nt_mma_op *ops, int n, dtype dt)
{
    group(t, ops, n, dt, true);
}

void nt_mma_group(nt *t, const nt_mma_op *ops, int n, dtype dt)
{
    group(t, ops, n, dt, false);
}

void nt_proxy_fence(nt *t)
{
    nv_wg_proxy_fence(&t->nv);
}

void nt_setmaxnreg(nt *t, bool inc, int regs)
{
    nv_call(&t->nv, inc ? "llvm.nvvm.setmaxnreg.inc.sync.aligned.u32" : "llvm.nvvm.setmaxnreg.dec.sync.aligned.u32",
            NULL, 0, (LLVMValueRef[]){nv_i32(&t->nv, regs)}, 1);
}

enum { WAIT_MAX = 256 }; /* nv_wg_wait's most values */

void nt_mma_wait(nt *t, int pending, nt_frag **frags, int n)
{
    LLVMValueRef vals[WAIT_MAX];
    int count = 0;
    if (t->error) /* the products were not emitted */
        return;
    for (int i = 0; i < n; i++)
        count += frags[i]->n;
    if (count > WAIT_MAX) {
        fail(t, "nt_mma_wait: at most 256 values ride through a wait");
        return;
    }
    count = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < frags[i]->n; k++)
            vals[count++] = frags[i]->v[k];
    nv_wg_wait(&t->nv, pending, vals, count);
    count = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < frags[i]->n; k++)
            frags[i]->v[k] = vals[count++];
}
