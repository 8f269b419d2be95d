/* aot_contract.c — the generated AOT launcher checks and passes exactly
 * what attnc_launch does (item 20 of issue #12).
 *
 * Ten kernels (1-D and 2-D grids, GQA, cross attention, fixed sizes,
 * i32/u8/f32 tensor params, a scalar param, linear attention, a TMA kernel
 * for sm_90a) are compiled at build time by `attnc compile --aot` and built
 * into this program (tests/gpu/CMakeLists.txt). The same kernels are built
 * through the API for the CUDA backend. Both load the fake libcuda
 * (tests/gpu/fake_cuda.c), which records launches instead of running them.
 * Each kernel gets a valid launch and ~50 hostile variants of it (zero,
 * negative and over-limit sizes, GQA and grid mismatches, products that
 * overflow, zero, negative, overlapping, misaligned and INT64_MAX strides,
 * spans at the 2^62-byte edge, NULL and misaligned pointers, params, unused
 * sizes); NAME_launch and attnc_launch must agree on every verdict, and
 * when both launch, on the grid, block, shared memory, pointers, strides
 * and sizes the kernel receives. The CPU backend's launch_validate must
 * agree too, except where the AOT launcher refuses by a GPU-only rule
 * ("CUDA launch: ...", which the CPU path lacks). Label unit: no GPU needed. */
#include "unit/runtime/tmpdir.h" /* first: it sets _GNU_SOURCE */

#include <dlfcn.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "c_bs.h"
#include "c_causal.h"
#include "c_causal90.h"
#include "c_cross.h"
#include "c_doc.h"
#include "c_fixed.h"
#include "c_gqa.h"
#include "c_lin.h"
#include "c_nbh2d.h"
#include "c_nbh2dil.h"
#include "c_rpb.h"
#include "runtime/api/api_internal.h"

typedef struct fake_launch { /* tests/gpu/fake_cuda.c's record */
    unsigned grid[3], block[3], smem;
    int count;
    uint64_t ptr[5];
    int64_t stride[19];
    int32_t size[SZ_MAX];
} fake_launch;

static const fake_launch *(*last_launch)(void);

/* A launch in AOT terms: what NAME_args holds. */
typedef struct lcase {
    int64_t size[SZ_MAX];
    int64_t stride[5][4];
    uintptr_t ptr[5];    /* 0: NULL */
    uintptr_t pptr[4];   /* tensor params */
    float pval[4];       /* scalar params */
} lcase;

#define P(x) ((void *)(x))
#define FILL(a, c)                                                                                                     \
    do {                                                                                                               \
        memset(&(a), 0, sizeof(a));                                                                                    \
        (a).q = P((c)->ptr[0]), (a).k = P((c)->ptr[1]), (a).v = P((c)->ptr[2]);                                        \
        (a).o = P((c)->ptr[3]), (a).lse = P((c)->ptr[4]);                                                              \
        memcpy((a).q_stride, (c)->stride[0], sizeof(a).q_stride);                                                      \
        memcpy((a).k_stride, (c)->stride[1], sizeof(a).k_stride);                                                      \
        memcpy((a).v_stride, (c)->stride[2], sizeof(a).v_stride);                                                      \
        memcpy((a).o_stride, (c)->stride[3], sizeof(a).o_stride);                                                      \
        memcpy((a).lse_stride, (c)->stride[4], sizeof(a).lse_stride);                                                  \
        for (int i_ = 0; i_ < SZ_MAX; i_++)                                                                            \
            (a).size[i_] = (int32_t)(c)->size[i_];                                                                     \
    } while (0)

/* NAME_launch of each kernel; *msg gets NAME_errmsg(). */
#define RUNNER(N, PARAMS)                                                                                              \
    static int run_##N(const lcase *c, const char **msg)                                                               \
    {                                                                                                                  \
        N##_args a;                                                                                                    \
        FILL(a, c);                                                                                                    \
        PARAMS;                                                                                                        \
        int st = N##_launch(&a, NULL);                                                                                 \
        *msg = N##_errmsg();                                                                                           \
        return st;                                                                                                     \
    }
RUNNER(c_causal, (void)0)
RUNNER(c_causal90, (void)0)
RUNNER(c_gqa, (void)0)
RUNNER(c_cross, a.p_shift = c->pval[0])
RUNNER(c_nbh2d, (void)0)
RUNNER(c_nbh2dil, (void)0) /* dilation-group tiling: its own grid size */
RUNNER(c_fixed, (void)0)
RUNNER(c_doc, a.p_doc = P(c->pptr[0]))
RUNNER(c_bs, a.p_table = P(c->pptr[0]))
RUNNER(c_rpb, a.p_rpb = P(c->pptr[0]))
RUNNER(c_lin, a.p_decay = P(c->pptr[0]))

typedef struct kernel_case {
    const char *name, *recipe, *arch;
    int (*run)(const lcase *c, const char **msg);
} kernel_case;

static const kernel_case kernels[] = {
    {"c_causal", ATTNC_SOURCE_DIR "/recipes/causal.attn", "sm_80", run_c_causal},
    {"c_causal90", ATTNC_SOURCE_DIR "/recipes/causal.attn", "sm_90a", run_c_causal90},
    {"c_gqa", ATTNC_SOURCE_DIR "/recipes/gqa.attn", "sm_80", run_c_gqa},
    {"c_cross", ATTNC_SOURCE_DIR "/tests/gpu/aot/cross_gqa.attn", "sm_80", run_c_cross},
    {"c_nbh2d", ATTNC_SOURCE_DIR "/recipes/neighborhood2d.attn", "sm_80", run_c_nbh2d},
    {"c_nbh2dil", ATTNC_SOURCE_DIR "/tests/gpu/aot/dilated2d.attn", "sm_80", run_c_nbh2dil},
    {"c_fixed", ATTNC_SOURCE_DIR "/tests/gpu/aot/fixed_sizes.attn", "sm_80", run_c_fixed},
    {"c_doc", ATTNC_SOURCE_DIR "/recipes/document.attn", "sm_80", run_c_doc},
    {"c_bs", ATTNC_SOURCE_DIR "/recipes/block_sparse.attn", "sm_80", run_c_bs},
    {"c_rpb", ATTNC_SOURCE_DIR "/recipes/relpos_bias2d.attn", "sm_80", run_c_rpb},
    {"c_lin", ATTNC_SOURCE_DIR "/recipes/lightning2.attn", "sm_80", run_c_lin},
};

static bool named(const recipe *r, int s)
{
    return (s >= SZ_GRID0 && s < SZ_GRID0 + r->grid_ndim) || (s >= SZ_EXTRA0 && s < r->nsizes);
}

static int64_t fixed_or(const recipe *r, int s, int64_t dflt)
{
    return r->sizes[s].fixed > 0 ? r->sizes[s].fixed : dflt;
}

static void contiguous(int64_t *stride, const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = n;
        n *= shape[d];
    }
}

/* Recomputes contiguous strides for q, k, v, o and lse from the sizes. */
static void restride(lcase *c, const recipe *r)
{
    int64_t B = c->size[SZ_BATCH], H = c->size[SZ_HEADS], KH = c->size[SZ_KV_HEADS], T = c->size[SZ_TOKENS],
            KT = c->size[SZ_KV_TOKENS];
    int64_t qs[4] = {B, H, T, r->head_dim}, ks[4] = {B, KH, KT, r->head_dim}, vs[4] = {B, KH, KT, r->head_dim_v},
            os[4] = {B, H, T, r->head_dim_v}, ls[3] = {B, H, T};
    contiguous(c->stride[0], qs, 4);
    contiguous(c->stride[1], ks, 4);
    contiguous(c->stride[2], vs, 4);
    contiguous(c->stride[3], os, 4);
    contiguous(c->stride[4], ls, 3);
}

/* A valid launch: batch 2, heads 4 (kv_heads 2 with GQA), tokens 100 or
 * grid extents 12 x 10 (fixed ones as fixed: left 0), kv_tokens 40 for
 * cross attention, extra sizes 3, contiguous strides, aligned pointers. */
static lcase base_case(const recipe *r)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.size[SZ_BATCH] = fixed_or(r, SZ_BATCH, 2);
    c.size[SZ_HEADS] = fixed_or(r, SZ_HEADS, 4);
    c.size[SZ_KV_HEADS] = r->gqa ? fixed_or(r, SZ_KV_HEADS, 2) : c.size[SZ_HEADS];
    int64_t tokens = 100;
    if (r->grid_ndim > 0) {
        static const int64_t dflt[3] = {12, 10, 8};
        tokens = 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            tokens *= fixed_or(r, SZ_GRID0 + d, dflt[d]);
            c.size[SZ_GRID0 + d] = r->sizes[SZ_GRID0 + d].fixed > 0 ? 0 : dflt[d];
        }
    }
    c.size[SZ_TOKENS] = fixed_or(r, SZ_TOKENS, tokens);
    c.size[SZ_KV_TOKENS] = r->cross ? fixed_or(r, SZ_KV_TOKENS, 40) : c.size[SZ_TOKENS];
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        c.size[s] = r->sizes[s].fixed > 0 ? 0 : 3;
    restride(&c, r);
    for (int t = 0; t < 5; t++)
        c.ptr[t] = (uintptr_t)(t + 1) << 20;
    if (r->family == FAMILY_LINEAR)
        c.ptr[4] = 0;
    for (int i = 0; i < 4; i++) {
        c.pptr[i] = (uintptr_t)(i + 8) << 20;
        c.pval[i] = 0.25f * (float)(i + 1);
    }
    return c;
}

/* attnc_launch (CUDA, through the fake driver) of the same launch; with
 * validate_only, launch_validate alone (the CPU kernel: nothing runs). */
static int run_attnc(attnc_kernel *k, const lcase *c, const char **msg, bool validate_only)
{
    const recipe *r = k->r;
    attnc_args *a = NULL;
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    int64_t B = c->size[SZ_BATCH], H = c->size[SZ_HEADS], KH = c->size[SZ_KV_HEADS], T = c->size[SZ_TOKENS],
            KT = c->size[SZ_KV_TOKENS];
    attnc_dtype dt = (attnc_dtype)r->qkv_dtype;
    const int64_t shapes[5][4] = {{B, H, T, r->head_dim}, {B, KH, KT, r->head_dim}, {B, KH, KT, r->head_dim_v},
                                  {B, H, T, r->head_dim_v}, {B, H, T, 0}};
    static const char *const names[5] = {"q", "k", "v", "o", "lse"};
    attnc_status st = ATTNC_OK;
    for (int t = 0; t < 5 && !st; t++) {
        if (t == 4 && !c->ptr[4])
            break; /* lse NULL: not written, not set */
        attnc_tensor x = {t == 4 ? ATTNC_F32 : dt, P(c->ptr[t]), t == 4 ? 3 : 4, {0}, {0}};
        memcpy(x.shape, shapes[t], sizeof x.shape);
        memcpy(x.stride, c->stride[t], sizeof x.stride);
        st = attnc_args_set_tensor(a, names[t], &x);
    }
    for (int s = 0; s < SZ_MAX && !st; s++) /* a fixed size left 0 is the fixed value: not set */
        if (named(r, s) && !(r->sizes[s].fixed > 0 && c->size[s] == 0))
            st = attnc_args_set_size(a, r->sizes[s].name, c->size[s]);
    for (int i = 0; i < r->nparams && !st; i++) {
        const recipe_param *rp = &r->params[i];
        if (rp->ndim == 0) {
            st = attnc_args_set_scalar(a, rp->name, c->pval[i]);
            continue;
        }
        attnc_tensor x = {(attnc_dtype)rp->dtype, P(c->pptr[i]), rp->ndim, {0}, {0}};
        for (int d = 0; d < rp->ndim; d++)
            x.shape[d] = rp->const_dims[d] > 0 ? rp->const_dims[d] : c->size[rp->dims[d]] == 0 &&
                                                                           r->sizes[rp->dims[d]].fixed > 0
                                                                       ? r->sizes[rp->dims[d]].fixed
                                                                       : c->size[rp->dims[d]];
        int64_t n = 1; /* contiguous; saturated where the product overflows (then refused either way) */
        for (int d = rp->ndim - 1; d >= 0; d--) {
            x.stride[d] = n;
            n = x.shape[d] > 0 && n > INT64_MAX / x.shape[d] ? INT64_MAX : n * x.shape[d];
        }
        st = attnc_args_set_tensor(a, rp->name, &x);
    }
    launch_problem p;
    if (!st)
        st = validate_only ? launch_validate(k, a, &p) : attnc_launch(k, a, NULL);
    *msg = attnc_kernel_errmsg(k);
    attnc_args_destroy(a);
    return st;
}

typedef void (*mutation_fn)(lcase *c, const recipe *r);

static void m_none(lcase *c, const recipe *r) { (void)c, (void)r; }
static void m_batch0(lcase *c, const recipe *r) { (void)r, c->size[SZ_BATCH] = 0; }
static void m_heads0(lcase *c, const recipe *r) { (void)r, c->size[SZ_HEADS] = 0; }
static void m_heads_kv0(lcase *c, const recipe *r) { (void)r, c->size[SZ_HEADS] = c->size[SZ_KV_HEADS] = 0; }
static void m_tokens0(lcase *c, const recipe *r)
{
    c->size[SZ_TOKENS] = 0;
    if (!r->cross)
        c->size[SZ_KV_TOKENS] = 0;
    if (r->grid_ndim > 0)
        c->size[SZ_GRID0] = 0;
}
static void m_kv_tokens0(lcase *c, const recipe *r) { (void)r, c->size[SZ_KV_TOKENS] = 0; }
static void m_kv_tokens0_null(lcase *c, const recipe *r)
{
    (void)r;
    c->size[SZ_KV_TOKENS] = 0;
    c->ptr[1] = c->ptr[2] = 0;
    c->stride[1][3] = c->stride[2][3] = 5; /* never looked at: no element */
}
static void m_empty_nulls(lcase *c, const recipe *r)
{
    m_batch0(c, r);
    memset(c->ptr, 0, sizeof c->ptr);
    memset(c->pptr, 0, sizeof c->pptr);
}
static void m_batch_neg(lcase *c, const recipe *r) { (void)r, c->size[SZ_BATCH] = -1; }
static void m_heads_neg(lcase *c, const recipe *r) { (void)r, c->size[SZ_HEADS] = c->size[SZ_KV_HEADS] = -1; }
static void m_tokens_neg(lcase *c, const recipe *r) { (void)r, c->size[SZ_TOKENS] = c->size[SZ_KV_TOKENS] = -5; }
static void m_batch_over(lcase *c, const recipe *r)
{
    c->size[SZ_BATCH] = 65536;
    restride(c, r);
}
static void m_heads_over(lcase *c, const recipe *r)
{
    c->size[SZ_HEADS] = c->size[SZ_KV_HEADS] = 65536;
    restride(c, r);
}
static void m_batch_max(lcase *c, const recipe *r)
{
    c->size[SZ_BATCH] = 65535;
    restride(c, r);
}
static void m_tokens_over(lcase *c, const recipe *r)
{
    c->size[SZ_TOKENS] = c->size[SZ_KV_TOKENS] = ((int64_t)1 << 30) + 1;
    restride(c, r);
}
static void m_tokens_int32max(lcase *c, const recipe *r)
{
    c->size[SZ_TOKENS] = c->size[SZ_KV_TOKENS] = INT32_MAX;
    restride(c, r);
}
static void m_tokens_limit(lcase *c, const recipe *r)
{
    c->size[SZ_TOKENS] = c->size[SZ_KV_TOKENS] = (int64_t)1 << 30;
    if (r->grid_ndim > 0) { /* the grid must still hold them */
        c->size[SZ_GRID0] = (int64_t)1 << 30;
        for (int d = 1; d < r->grid_ndim; d++)
            c->size[SZ_GRID0 + d] = 1;
    }
    restride(c, r);
}
static void m_kv_heads0(lcase *c, const recipe *r) { (void)r, c->size[SZ_KV_HEADS] = 0; }
static void m_kv_heads3(lcase *c, const recipe *r)
{
    c->size[SZ_KV_HEADS] = 3;
    restride(c, r);
}
static void m_kv_heads1(lcase *c, const recipe *r)
{
    c->size[SZ_KV_HEADS] = 1;
    restride(c, r);
}
static void m_q_stride_tok0(lcase *c, const recipe *r) { (void)r, c->stride[0][2] = 0; }
static void m_o_stride_tok0(lcase *c, const recipe *r) { (void)r, c->stride[3][2] = 0; }
static void m_q_stride_neg(lcase *c, const recipe *r) { (void)r, c->stride[0][1] = -c->stride[0][1]; }
static void m_q_stride_max(lcase *c, const recipe *r) { (void)r, c->stride[0][0] = INT64_MAX; }
static void m_q_stride_max_b1(lcase *c, const recipe *r)
{
    m_q_stride_max(c, r);
    c->size[SZ_BATCH] = 1;
}
static void m_q_stride_max8_b1(lcase *c, const recipe *r) /* batch 1: dim 0's stride never multiplies */
{
    c->size[SZ_BATCH] = 1;
    c->stride[0][0] = INT64_MAX - 7;
    (void)r;
}
static void m_q_last2(lcase *c, const recipe *r) { (void)r, c->stride[0][3] = 2; }
static void m_q_last0(lcase *c, const recipe *r) { (void)r, c->stride[0][3] = 0; }
static void m_q_row_odd(lcase *c, const recipe *r) { c->stride[0][2] = r->head_dim + 1; }
static void m_k_row_padded(lcase *c, const recipe *r)
{
    c->stride[1][2] = r->head_dim + 8;
    c->stride[1][1] = c->stride[1][2] * c->size[SZ_KV_TOKENS];
    c->stride[1][0] = c->stride[1][1] * c->size[SZ_KV_HEADS];
}
static void m_o_overlap(lcase *c, const recipe *r) { c->stride[3][1] = c->stride[3][2] = r->head_dim_v; }
static void m_o_bshd(lcase *c, const recipe *r)
{
    int64_t H = c->size[SZ_HEADS], T = c->size[SZ_TOKENS], D = r->head_dim_v;
    int64_t s[4] = {T * H * D, D, H * D, 1};
    memcpy(c->stride[3], s, sizeof s);
}
static void m_lse_overlap(lcase *c, const recipe *r) { (void)r, c->stride[4][1] = 0; }
static void m_lse_neg(lcase *c, const recipe *r) { (void)r, c->stride[4][2] = -1; }
/* q's last element exactly at / one row past the 2^62-byte limit. */
static void span_edge(lcase *c, const recipe *r, bool over)
{
    int64_t rest = (c->size[SZ_HEADS] - 1) * c->stride[0][1] + (c->size[SZ_TOKENS] - 1) * c->stride[0][2] +
                   (r->head_dim - 1) * c->stride[0][3];
    int64_t max_span = ((int64_t)1 << 61) - 1; /* (span + 1) * 2 bytes <= 2^62 */
    int64_t s0 = (max_span - rest) / (c->size[SZ_BATCH] - 1);
    s0 -= s0 % 8; /* 16-byte rows */
    c->stride[0][0] = over ? s0 + 8 : s0;
}
static void m_span_ok(lcase *c, const recipe *r) { span_edge(c, r, false); }
static void m_span_over(lcase *c, const recipe *r) { span_edge(c, r, true); }
static void m_q_null(lcase *c, const recipe *r) { (void)r, c->ptr[0] = 0; }
static void m_o_null(lcase *c, const recipe *r) { (void)r, c->ptr[3] = 0; }
static void m_lse_null(lcase *c, const recipe *r) { (void)r, c->ptr[4] = 0; }
static void m_q_mis2(lcase *c, const recipe *r) { (void)r, c->ptr[0] += 2; }
static void m_q_mis1(lcase *c, const recipe *r) { (void)r, c->ptr[0] += 1; }
static void m_v_mis8(lcase *c, const recipe *r) { (void)r, c->ptr[2] += 8; }
static void m_lse_mis2(lcase *c, const recipe *r) { (void)r, c->ptr[4] = ((uintptr_t)5 << 20) + 2; }
static void m_lse_mis4(lcase *c, const recipe *r) { (void)r, c->ptr[4] = ((uintptr_t)5 << 20) + 4; }
static void m_grid_mismatch(lcase *c, const recipe *r) { (void)r, c->size[SZ_GRID0] += 1; }
static void m_grid0_zero(lcase *c, const recipe *r) { (void)r, c->size[SZ_GRID0] = 0; }
static void m_grid_overflow(lcase *c, const recipe *r)
{
    for (int d = 0; d < 3; d++)
        c->size[SZ_GRID0 + d] = (int64_t)1 << 30;
    (void)r;
}
static void m_grid_dim_over(lcase *c, const recipe *r) { (void)r, c->size[SZ_GRID0] = ((int64_t)1 << 30) + 1; }
static void m_small_grid(lcase *c, const recipe *r) /* windows larger than the grid */
{
    if (r->grid_ndim == 0)
        return;
    c->size[SZ_GRID0] = 2;
    int64_t t = 2;
    for (int d = 1; d < r->grid_ndim; d++)
        t *= c->size[SZ_GRID0 + d] ? c->size[SZ_GRID0 + d] : r->sizes[SZ_GRID0 + d].fixed;
    c->size[SZ_TOKENS] = c->size[SZ_KV_TOKENS] = t;
    restride(c, r);
}
static void m_fixed_explicit(lcase *c, const recipe *r)
{
    for (int s = SZ_GRID0; s < SZ_MAX; s++)
        if (named(r, s) && r->sizes[s].fixed > 0)
            c->size[s] = r->sizes[s].fixed;
}
static void m_fixed_wrong(lcase *c, const recipe *r)
{
    for (int s = 0; s < SZ_MAX; s++)
        if (r->sizes[s].fixed > 0 && s != SZ_KV_HEADS)
            c->size[s] = r->sizes[s].fixed + 1;
    restride(c, r);
}
static void m_extra0(lcase *c, const recipe *r)
{
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        c->size[s] = 0;
}
static void m_extra0_empty(lcase *c, const recipe *r)
{
    m_extra0(c, r);
    c->size[SZ_BATCH] = 0;
}
static void m_extra_huge(lcase *c, const recipe *r)
{
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        c->size[s] = INT32_MAX;
}
static void m_extra_neg(lcase *c, const recipe *r)
{
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        c->size[s] = -2;
}
static void m_param_null(lcase *c, const recipe *r) { (void)r, memset(c->pptr, 0, sizeof c->pptr); }
static void m_param_mis1(lcase *c, const recipe *r)
{
    (void)r;
    for (int i = 0; i < 4; i++)
        c->pptr[i] += 1;
}
static void m_param_null_empty(lcase *c, const recipe *r)
{
    m_param_null(c, r);
    c->size[SZ_TOKENS] = 0;
    if (!r->cross)
        c->size[SZ_KV_TOKENS] = 0;
    if (r->grid_ndim > 0)
        c->size[SZ_GRID0] = 0;
}
static void m_unused_sizes(lcase *c, const recipe *r)
{
    for (int s = SZ_GRID0; s < SZ_MAX; s++)
        if (s != SZ_KV_HEADS && !named(r, s))
            c->size[s] = s % 2 ? 777 : -3; /* not the recipe's: ignored, the kernel gets 0 */
}

static const struct {
    const char *what;
    mutation_fn fn;
} mutations[] = {
    {"valid", m_none}, {"batch 0", m_batch0}, {"heads 0", m_heads0}, {"heads and kv_heads 0", m_heads_kv0},
    {"tokens 0", m_tokens0}, {"kv_tokens 0", m_kv_tokens0}, {"kv_tokens 0, k and v NULL", m_kv_tokens0_null},
    {"empty, every pointer NULL", m_empty_nulls}, {"batch -1", m_batch_neg}, {"heads -1", m_heads_neg},
    {"tokens -5", m_tokens_neg}, {"batch 65536", m_batch_over}, {"heads 65536", m_heads_over},
    {"batch 65535", m_batch_max}, {"tokens 2^30+1", m_tokens_over}, {"tokens INT32_MAX", m_tokens_int32max},
    {"tokens 2^30", m_tokens_limit}, {"kv_heads 0", m_kv_heads0}, {"kv_heads 3 of 4", m_kv_heads3},
    {"kv_heads 1", m_kv_heads1}, {"q token stride 0", m_q_stride_tok0}, {"o token stride 0", m_o_stride_tok0},
    {"q head stride negative", m_q_stride_neg}, {"q batch stride INT64_MAX", m_q_stride_max},
    {"q batch stride INT64_MAX, batch 1", m_q_stride_max_b1},
    {"q batch stride INT64_MAX-7, batch 1", m_q_stride_max8_b1}, {"q last stride 2", m_q_last2},
    {"q last stride 0", m_q_last0}, {"q rows of D+1", m_q_row_odd}, {"k rows padded by 8", m_k_row_padded},
    {"o heads overlap", m_o_overlap}, {"o in bshd layout", m_o_bshd}, {"lse head stride 0", m_lse_overlap},
    {"lse stride -1", m_lse_neg}, {"q span at 2^62 bytes", m_span_ok}, {"q span past 2^62 bytes", m_span_over},
    {"q NULL", m_q_null}, {"o NULL", m_o_null}, {"lse NULL", m_lse_null}, {"q + 2 bytes", m_q_mis2},
    {"q + 1 byte", m_q_mis1}, {"v + 8 bytes", m_v_mis8}, {"lse + 2 bytes", m_lse_mis2}, {"lse + 4 bytes", m_lse_mis4},
    {"grid product != tokens", m_grid_mismatch}, {"grid dim 0, tokens > 0", m_grid0_zero},
    {"grid product overflows", m_grid_overflow}, {"grid dim 2^30+1", m_grid_dim_over},
    {"grid smaller than the windows", m_small_grid}, {"fixed sizes given", m_fixed_explicit},
    {"fixed sizes wrong", m_fixed_wrong}, {"extra sizes 0", m_extra0}, {"extra sizes 0, empty", m_extra0_empty},
    {"extra sizes INT32_MAX", m_extra_huge}, {"extra sizes -2", m_extra_neg}, {"params NULL", m_param_null},
    {"params + 1 byte", m_param_mis1}, {"params NULL, tokens 0", m_param_null_empty},
    {"unused sizes set", m_unused_sizes},
};

static bool same_launch(const fake_launch *x, const fake_launch *y)
{
    return !memcmp(x->grid, y->grid, sizeof x->grid) && !memcmp(x->block, y->block, sizeof x->block) &&
           x->smem == y->smem && !memcmp(x->ptr, y->ptr, sizeof x->ptr) &&
           !memcmp(x->stride, y->stride, sizeof x->stride) && !memcmp(x->size, y->size, sizeof x->size);
}

static void test_contract(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    setenv("ATTNC_NO_TUNED", "1", 1);
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int total_ok = 0, total_bad = 0, total_launched = 0;
    for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++) {
        const kernel_case *kc = &kernels[ki];
        attnc_recipe *rec;
        attnc_kernel *k;
        if (attnc_recipe_from_file(&rec, ctx, kc->recipe))
            fail_msg("%s: %s", kc->recipe, attnc_context_errmsg(ctx));
        attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
        o.backend = ATTNC_BACKEND_CUDA;
        o.arch = kc->arch;
        if (attnc_kernel_build(&k, ctx, rec, &o))
            fail_msg("%s: %s", kc->name, attnc_context_errmsg(ctx));
        attnc_kernel *cpu;
        if (attnc_kernel_build(&cpu, ctx, rec, NULL))
            fail_msg("%s (CPU): %s", kc->name, attnc_context_errmsg(ctx));
        int ok = 0, bad = 0, gpu_only = 0;
        for (size_t mi = 0; mi < sizeof mutations / sizeof mutations[0]; mi++) {
            lcase c = base_case(k->r);
            mutations[mi].fn(&c, k->r);
            const char *amsg, *bmsg;
            int before = last_launch()->count;
            int sa = kc->run(&c, &amsg);
            fake_launch la = *last_launch();
            int mid = la.count;
            int sb = run_attnc(k, &c, &bmsg, false);
            fake_launch lb = *last_launch();
            bool la_ran = mid != before, lb_ran = lb.count != mid;
            if (sa != (int)sb || la_ran != lb_ran || (la_ran && !same_launch(&la, &lb)))
                fail_msg("%s, %s: AOT status %d%s (%s), attnc_launch status %d%s (%s)%s", kc->name,
                         mutations[mi].what, sa, la_ran ? " launched" : "", amsg, sb, lb_ran ? " launched" : "", bmsg,
                         la_ran && lb_ran ? ": the launches differ" : "");
            /* The CPU backend's validation: the same verdict, except that it
             * passes what only the GPU refuses: its own rules ("CUDA launch:
             * ...", checked last) and the driver's (TMA descriptors). */
            const char *cmsg;
            int sc = run_attnc(cpu, &c, &cmsg, true);
            bool gpu_rule = (sa == ATTNC_ERR_INVALID_ARGUMENT && !strncmp(amsg, "CUDA launch:", 12)) ||
                            sa == ATTNC_ERR_CUDA;
            if (sc != (gpu_rule ? ATTNC_OK : sa))
                fail_msg("%s, %s: AOT status %d (%s), CPU validation status %d (%s)", kc->name, mutations[mi].what, sa,
                         amsg, sc, cmsg);
            gpu_only += gpu_rule;
            ok += sa == 0;
            bad += sa != 0;
            total_launched += la_ran;
        }
        printf("  %-10s %2d accepted, %2d refused (%d by GPU-only rules), verdicts and launches identical\n",
               kc->name, ok, bad, gpu_only);
        assert_true(ok >= 8 && bad >= 20); /* the table exercises both sides on every kernel */
        total_ok += ok;
        total_bad += bad;
        attnc_kernel_destroy(k);
        attnc_kernel_destroy(cpu);
        attnc_recipe_destroy(rec);
    }
    printf("  %d launches compared: %d accepted (%d launched), %d refused\n", total_ok + total_bad, total_ok,
           total_launched, total_bad);
    attnc_context_destroy(ctx);
    unsetenv("ATTNC_CACHE_DIR");
    tmpdir_remove(dir);
}

int main(void)
{
    char exe[PATH_MAX - 64], fake[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(fake, sizeof fake, "%s/libattnc_fake_cuda.so", exe);
    setenv("ATTNC_LIBCUDA", fake, 1);
    setenv("ATTNC_JIT", "driver", 1); /* the fake driver's modules are PTX text, not ptxas cubins */
    void *h = dlopen(fake, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("fake driver missing (%s): nothing to test\n", fake);
        return 1;
    }
    last_launch = (const fake_launch *(*)(void))dlsym(h, "fake_cuda_last_launch");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_contract)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dlclose(h);
    return rc;
}
