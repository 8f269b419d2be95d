/* test_cp_ring.c — the per-rank ring of attnc_cp_launch (program_cp_ring.c,
 * the code NCCL runs) on the CPU with a loopback transport: each rank gets
 * only its own shard (ring: segment r; zigzag: segments r and 2R-1-r,
 * concatenated), ranks run one after the other, and where NCCL would
 * receive rank-1's block the transport copies that rank's shard. The
 * ranks' outputs, put back together, are compared with the fp64 reference
 * (ref_check_kernel): causal, sliding-window, document and 3-D
 * neighborhood recipes over 2 and 4 ranks. Prints one line per case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/ref_check.h"
#include "runtime/api_typed.h"
#include "runtime/program_cp.h"

enum { MAXR = 4 };

typedef struct loop {
    attnc_cp_plan *p;
    int R, ns;
    attnc_tensor q[MAXR], k[MAXR], v[MAXR], o[MAXR], l[MAXR]; /* each rank's shard, dense */
} loop;

/* The block rank `rank` receives at step s is rank-1-s's shard. */
static attnc_status loop_pass(void *user, attnc_cp_plan *p, int rank, int step, void *const cur[2], void *const nxt[2],
                              const size_t bytes[2], void *cs, strbuf *err)
{
    (void)p, (void)cur, (void)cs, (void)err;
    loop *L = user;
    int owner = ((rank - 1 - step) % L->R + L->R) % L->R;
    memcpy(nxt[0], L->k[owner].data, bytes[0]);
    memcpy(nxt[1], L->v[owner].data, bytes[1]);
    return ATTNC_OK;
}

static size_t esize(attnc_dtype dt)
{
    return dt == ATTNC_F32 ? 4 : 2;
}

/* Tokens [t0, t0 + n) of strided t to or from dense d at token `at` (d holds `pad` tokens). */
static void copy_tokens(const attnc_tensor *t, attnc_tensor *d, int64_t t0, int64_t n, int64_t at, bool out)
{
    size_t es = esize(t->dtype);
    int64_t cols = t->ndim == 4 ? t->shape[3] : 1;
    for (int64_t b = 0; b < t->shape[0]; b++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = 0; c < cols; c++) {
                    int64_t so = b * t->stride[0] + h * t->stride[1] + (t0 + i) * t->stride[2] + (t->ndim == 4 ? c * t->stride[3] : 0);
                    int64_t dof = ((b * t->shape[1] + h) * d->shape[2] + at + i) * cols + c;
                    char *sp = (char *)t->data + (size_t)so * es, *dp = (char *)d->data + (size_t)dof * es;
                    memcpy(out ? sp : dp, out ? dp : sp, es);
                }
}

static attnc_tensor dense_like(const attnc_tensor *t, int64_t tokens)
{
    attnc_tensor d = *t;
    d.shape[2] = tokens;
    int64_t s = 1;
    for (int i = d.ndim - 1; i >= 0; i--)
        d.stride[i] = s, s *= d.shape[i];
    d.data = calloc((size_t)s, esize(t->dtype));
    return d;
}

/* Splits the whole launch into shards, runs every rank, puts o and lse back. */
static attnc_status launch_ranks(void *user, attnc_kernel *kern, attnc_args *a)
{
    loop *L = user;
    const attnc_tensor *w[5] = {&a->tensors[0], &a->tensors[1], &a->tensors[2], &a->tensors[3],
                                a->tensor_set[4] ? &a->tensors[4] : NULL};
    const recipe *r = kern->r;
    int64_t inner = 1;
    for (int d = 1; d < r->grid_ndim; d++)
        inner *= a->sizes[SZ_GRID0 + d];
    int64_t T = w[0]->shape[2], n = L->R * L->ns, seg = T / n, rows = seg / inner;
    attnc_tensor *sh[5] = {L->q, L->k, L->v, L->o, L->l};
    for (int rk = 0; rk < L->R; rk++) {
        int segs[2] = {rk, 2 * L->R - 1 - rk};
        for (int i = 0; i < 5; i++)
            if (w[i]) {
                sh[i][rk] = dense_like(w[i], seg * L->ns);
                for (int s = 0; s < L->ns && i < 3; s++)
                    copy_tokens(w[i], &sh[i][rk], segs[s] * seg, seg, s * seg, false);
            }
    }
    attnc_status st = ATTNC_OK;
    cp_transport tr = {loop_pass, L};
    for (int rk = 0; rk < L->R && !st; rk++) {
        attnc_args *la = NULL;
        st = attnc_cp_args_create(&la, L->p);
        if (st)
            break;
        memcpy(la->tensors, a->tensors, sizeof *a->tensors * (size_t)a->ntensors); /* params: the whole problem's */
        memcpy(la->tensor_set, a->tensor_set, sizeof *a->tensor_set * (size_t)a->ntensors);
        memcpy(la->sizes, a->sizes, sizeof la->sizes);
        memcpy(la->size_set, a->size_set, sizeof la->size_set);
        for (int i = 0; i < 5; i++)
            if (w[i])
                la->tensors[i] = sh[i][rk];
        if (r->grid_ndim > 0)
            la->sizes[SZ_GRID0] = rows * L->ns; /* the shard's outer rows */
        st = cp_ring_rank(L->p, la, rk, &tr, NULL);
        attnc_args_destroy(la);
    }
    for (int rk = 0; rk < L->R; rk++) {
        int segs[2] = {rk, 2 * L->R - 1 - rk};
        for (int i = 0; i < 5; i++)
            if (w[i]) {
                for (int s = 0; s < L->ns && i >= 3 && !st; s++)
                    copy_tokens(w[i], &sh[i][rk], segs[s] * seg, seg, s * seg, true);
                free(sh[i][rk].data);
            }
    }
    return st;
}

typedef struct rcase {
    const char *name, *text;
    ref_shape shape;
} rcase;

static const rcase cases[] = {
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n",
     {.batch = 2, .heads = 3, .tokens = 160, .bshd = true}},
    {"window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask sliding_window(30, 0)\n",
     {.batch = 1, .heads = 2, .tokens = 240}},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", {.batch = 2, .heads = 2, .tokens = 80}},
    {"nbh3d", "input q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(time: T, y: H, x: W)\n"
              "mask neighborhood(window: (3, 5, 5), causal: (true, false, false))\n",
     {.batch = 1, .heads = 2, .grid = {16, 6, 7}}},
};

int main(void)
{
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int kind = ATTNC_CP_RING; kind <= ATTNC_CP_ZIGZAG; kind++)
            for (int R = 2; R <= MAXR; R *= 2) {
                char text[1024];
                snprintf(text, sizeof text, "recipe %s\n%s", cases[i].name, cases[i].text);
                attnc_recipe *rc = NULL;
                attnc_cp_options o = ATTNC_CP_OPTIONS_INIT;
                o.kind = (attnc_cp_kind)kind;
                o.ranks = R;
                loop L = {.R = R, .ns = kind == ATTNC_CP_ZIGZAG ? 2 : 1};
                if (attnc_recipe_from_text(&rc, ctx, cases[i].name, text, strlen(text)) ||
                    attnc_cp_plan_create(&L.p, ctx, rc, NULL, &o)) {
                    printf("[FAIL] %s: %s\n", cases[i].name, attnc_context_errmsg(ctx));
                    failed++;
                    attnc_recipe_destroy(rc);
                    continue;
                }
                ref_check_opts co = {.seed = 50 + i * 10 + (uint64_t)(kind * 4 + R), .check = true,
                                     .launch = launch_ranks, .launch_user = &L};
                ref_check_result res;
                bool ok = ref_check_kernel((attnc_kernel *)attnc_cp_kernel(L.p), attnc_recipe_typed(rc),
                                           &cases[i].shape, &co, &res);
                printf("[%s] %s %s R=%d (per rank, loopback): %s %s\n", ok ? "PASS" : "FAIL", cases[i].name,
                       kind ? "zigzag" : "ring", R, res.msg, ok ? "" : attnc_cp_errmsg(L.p));
                failed += !ok;
                attnc_cp_plan_destroy(L.p);
                attnc_recipe_destroy(rc);
            }
    attnc_context_destroy(ctx);
    printf("%s\n", failed ? "FAILED" : "OK");
    return failed ? 1 : 0;
}
