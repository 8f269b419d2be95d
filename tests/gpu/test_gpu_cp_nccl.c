/* test_gpu_cp_nccl.c — context parallelism over real ranks: one process
 * per GPU (ATTNC_DEVICE = rank), an NCCL communicator (libnccl.so.2 by
 * dlopen; rank 0 makes the id and hands it to the others through pipes),
 * attnc_cp_launch on each rank's shard, and each rank's rows of o and lse
 * compared with one launch of the plain kernel over the whole problem on
 * the same GPU. Ring, zigzag and Ulysses; causal, sliding-window and
 * document masks. $ATTNC_CP_RANKS ranks (default: 2). Prints
 * "skipped: no CUDA driver", "skipped: needs N GPUs" or "skipped: no NCCL"
 * where it cannot run. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_module.h"

enum { SKIP_DRIVER = 78, SKIP_GPUS = 77, SKIP_NCCL = 79, B = 1, H = 8, D = 128, PER_RANK = 256 };

typedef struct {
    char internal[128];
} nccl_id;
typedef int (*get_id_fn)(nccl_id *);
typedef int (*init_rank_fn)(void **, int, nccl_id, int);
typedef int (*destroy_fn)(void *);

typedef struct tcase {
    const char *name, *text;
    attnc_cp_kind kind;
} tcase;

static const tcase cases[] = {
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n", ATTNC_CP_RING},
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n", ATTNC_CP_ZIGZAG},
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n", ATTNC_CP_ULYSSES},
    {"window", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask sliding_window(200, 0)\n", ATTNC_CP_RING},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", ATTNC_CP_ZIGZAG},
};

static void *dev_upload(const void *src, size_t n)
{
    uint64_t p = 0;
    if (cuda_mem_alloc(&p, n, NULL) || cuda_memcpy_htod(p, src, n, NULL))
        return NULL;
    return (void *)(uintptr_t)p;
}

static attnc_tensor tensor4(attnc_dtype dt, void *data, int64_t t, int64_t d)
{
    attnc_tensor x = {dt, data, 4, {B, H, t, d}, {H * t * d, t * d, d, 1}};
    return x;
}

/* Token i of the shard of rank r (ring and Ulysses: one run; zigzag: two). */
static int64_t shard_token(attnc_cp_kind kind, int r, int R, int64_t T, int64_t i)
{
    if (kind != ATTNC_CP_ZIGZAG)
        return r * (T / R) + i;
    int64_t seg = T / (2 * R);
    return i < seg ? r * seg + i : (2 * R - 1 - r) * seg + (i - seg);
}

/* rows of a [B, H, T, cols] host array of elem-byte elements, gathered for the shard. */
static void *gather(const void *whole, size_t elem, int64_t T, int64_t Ts, int64_t cols, attnc_cp_kind kind, int r,
                    int R)
{
    char *out = malloc((size_t)(B * H * Ts * cols) * elem);
    for (int64_t bh = 0; out && bh < B * H; bh++)
        for (int64_t i = 0; i < Ts; i++)
            memcpy(out + (size_t)((bh * Ts + i) * cols) * elem,
                   (const char *)whole + (size_t)((bh * T + shard_token(kind, r, R, T, i)) * cols) * elem,
                   (size_t)cols * elem);
    return out;
}

typedef struct run {
    attnc_context *ctx;
    void *comm;
    int r, R;
    int64_t T;
    uint16_t *q, *k, *v; /* whole problem, host */
    int32_t *doc;
} run;

/* One launch: the plain kernel over everything (outputs to host), or the plan over this rank's shard. */
static attnc_status launch(run *x, attnc_kernel *k, attnc_cp_plan *p, const tcase *c, uint16_t *o, float *lse)
{
    int64_t T = p ? x->T / x->R : x->T;
    size_t n = (size_t)(B * H * T * D);
    uint16_t *q = p ? gather(x->q, 2, x->T, T, D, c->kind, x->r, x->R) : x->q;
    uint16_t *kk = p ? gather(x->k, 2, x->T, T, D, c->kind, x->r, x->R) : x->k;
    uint16_t *v = p ? gather(x->v, 2, x->T, T, D, c->kind, x->r, x->R) : x->v;
    void *dq = dev_upload(q, n * 2), *dk = dev_upload(kk, n * 2), *dv = dev_upload(v, n * 2);
    void *dd = dev_upload(x->doc, (size_t)(B * x->T) * 4), *dout = dev_upload(o, n * 2), *dl = dev_upload(lse, n / D * 4);
    attnc_args *a = NULL;
    attnc_status st = p ? attnc_cp_args_create(&a, p) : attnc_args_create(&a, k);
    attnc_tensor tq = tensor4(ATTNC_BF16, dq, T, D), tk = tensor4(ATTNC_BF16, dk, T, D);
    attnc_tensor tv = tensor4(ATTNC_BF16, dv, T, D), to = tensor4(ATTNC_BF16, dout, T, D);
    attnc_tensor tl = {ATTNC_F32, dl, 3, {B, H, T, 0}, {H * T, T, 1, 0}};
    attnc_tensor td = {ATTNC_I32, dd, 2, {B, x->T, 0, 0}, {x->T, 1, 0, 0}};
    if (!st)
        st = attnc_args_set_tensor(a, "q", &tq) || attnc_args_set_tensor(a, "k", &tk) ||
             attnc_args_set_tensor(a, "v", &tv) || attnc_args_set_tensor(a, "o", &to) ||
             attnc_args_set_tensor(a, "lse", &tl) || (strstr(c->text, "doc") && attnc_args_set_tensor(a, "doc", &td));
    if (!st)
        st = p ? attnc_cp_launch(p, a, NULL) : attnc_launch(k, a, NULL);
    if (!st)
        st = cuda_synchronize(NULL) || cuda_memcpy_dtoh(o, (uint64_t)(uintptr_t)dout, n * 2, NULL) ||
             cuda_memcpy_dtoh(lse, (uint64_t)(uintptr_t)dl, n / D * 4, NULL);
    attnc_args_destroy(a);
    void *bufs[6] = {dq, dk, dv, dd, dout, dl};
    for (int i = 0; i < 6; i++)
        cuda_mem_free((uint64_t)(uintptr_t)bufs[i]);
    if (p)
        free(q), free(kk), free(v);
    return st;
}

static bool run_case(run *x, const tcase *c)
{
    char text[512];
    snprintf(text, sizeof text, "recipe %s\n%s", c->name, c->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_cp_plan *p = NULL;
    attnc_build_options bo = ATTNC_BUILD_OPTIONS_INIT;
    bo.backend = ATTNC_BACKEND_CUDA;
    attnc_cp_options co = ATTNC_CP_OPTIONS_INIT;
    co.kind = c->kind, co.ranks = x->R, co.rank = x->r, co.nccl_comm = x->comm;
    size_t n = (size_t)(B * H * x->T * D), ns = n / (size_t)x->R;
    uint16_t *o = calloc(n, 2), *os = calloc(ns, 2);
    float *lse = calloc(n / D, 4), *ls = calloc(ns / D, 4);
    attnc_status st = attnc_recipe_from_text(&rc, x->ctx, c->name, text, strlen(text));
    st = st ? st : attnc_kernel_build(&k, x->ctx, rc, &bo);
    st = st ? st : attnc_cp_plan_create(&p, x->ctx, rc, &bo, &co);
    st = st ? st : launch(x, k, NULL, c, o, lse);
    st = st ? st : launch(x, k, p, c, os, ls);
    double worst = 0, worst_lse = 0;
    uint16_t *ow = st ? NULL : gather(o, 2, x->T, x->T / x->R, D, c->kind, x->r, x->R);
    float *lw = st ? NULL : gather(lse, 4, x->T, x->T / x->R, 1, c->kind, x->r, x->R);
    for (size_t i = 0; ow && i < ns; i++) {
        float a, b;
        attnc_bf16_to_f32(&ow[i], &a, 1);
        attnc_bf16_to_f32(&os[i], &b, 1);
        worst = isfinite(b) ? fmax(worst, fabs((double)a - b)) : INFINITY;
    }
    for (size_t i = 0; lw && i < ns / D; i++)
        worst_lse = isfinite(ls[i]) ? fmax(worst_lse, fabs((double)lw[i] - ls[i])) : INFINITY;
    bool ok = !st && worst < 2e-2 && worst_lse < 1e-3;
    printf("[%s] rank %d/%d %s %s: max |o - one launch| %.3g, |lse - one launch| %.3g %s%s\n", ok ? "PASS" : "FAIL",
           x->r, x->R, c->name, (const char *[]){"ring", "zigzag", "ulysses"}[c->kind], worst, worst_lse,
           st ? attnc_status_string(st) : "", st ? (p ? attnc_cp_errmsg(p) : attnc_context_errmsg(x->ctx)) : "");
    free(o), free(os), free(lse), free(ls), free(ow), free(lw);
    attnc_cp_plan_destroy(p);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return ok;
}

static void fill(run *x)
{
    size_t n = (size_t)(B * H * x->T * D);
    float *f = malloc(n * 4);
    uint16_t **dst[3] = {&x->q, &x->k, &x->v};
    srand(1234); /* every rank the same whole problem */
    for (int t = 0; t < 3; t++) {
        for (size_t i = 0; i < n; i++)
            f[i] = (float)rand() / RAND_MAX * 2 - 1;
        *dst[t] = malloc(n * 2);
        attnc_f32_to_bf16(f, *dst[t], n);
    }
    x->doc = malloc((size_t)(B * x->T) * 4);
    for (int64_t i = 0; i < B * x->T; i++)
        x->doc[i] = (int32_t)(i / 300);
    free(f);
}

static int child(int r, int R, int id_in, const int *id_out)
{
    char dev[16];
    snprintf(dev, sizeof dev, "%d", r);
    setenv("ATTNC_DEVICE", dev, 1);
    const cuda_api *api;
    int ndev = 0;
    if (cuda_api_get(&api, NULL))
        return SKIP_DRIVER;
    if (api->cuDeviceGetCount(&ndev) || ndev < R)
        return SKIP_GPUS;
    void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    get_id_fn get_id = h ? (get_id_fn)dlsym(h, "ncclGetUniqueId") : NULL;
    init_rank_fn init = h ? (init_rank_fn)dlsym(h, "ncclCommInitRank") : NULL;
    destroy_fn destroy = h ? (destroy_fn)dlsym(h, "ncclCommDestroy") : NULL;
    if (!get_id || !init || !destroy)
        return SKIP_NCCL;
    run x = {0};
    x.r = r, x.R = R, x.T = (int64_t)R * PER_RANK;
    fill(&x);
    CUdevice cd;
    if (attnc_context_create(&x.ctx, NULL) || cuda_context_acquire(r, &cd, NULL)) /* NCCL uses the current device */
        return 1;
    nccl_id id;
    if (r == 0) {
        if (get_id(&id))
            return 1;
        for (int j = 1; j < R; j++)
            if (write(id_out[j], &id, sizeof id) != (ssize_t)sizeof id)
                return 1;
    } else if (read(id_in, &id, sizeof id) != (ssize_t)sizeof id) {
        return 1;
    }
    if (init(&x.comm, R, id, r))
        return 1;
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        failed += !run_case(&x, &cases[i]);
    destroy(x.comm);
    attnc_context_destroy(x.ctx);
    return failed ? 1 : 0;
}

int main(void)
{
    const char *s = getenv("ATTNC_CP_RANKS");
    int R = s && atoi(s) >= 2 && atoi(s) <= 8 ? atoi(s) : 2;
    int fds[8][2];
    for (int j = 0; j < R; j++)
        if (pipe(fds[j]))
            return 1;
    pid_t pids[8];
    for (int r = 0; r < R; r++) {
        fflush(stdout);
        pids[r] = fork();
        if (pids[r] == 0) { /* only rank 0 writes: if it dies, the others read EOF, not wait forever */
            int out[8];
            for (int j = 0; j < R; j++) {
                out[j] = fds[j][1];
                if (r != 0)
                    close(fds[j][1]);
            }
            alarm(900); /* a rank that never joins must not hang the others */
            _exit(child(r, R, fds[r][0], out));
        }
    }
    for (int j = 0; j < R; j++)
        close(fds[j][0]), close(fds[j][1]);
    int codes[8] = {0}, failed = 0;
    for (int r = 0; r < R; r++) {
        int wst = 0;
        waitpid(pids[r], &wst, 0);
        codes[r] = WIFEXITED(wst) ? WEXITSTATUS(wst) : 1;
    }
    if (codes[0] == SKIP_DRIVER)
        printf("skipped: no CUDA driver\n");
    else if (codes[0] == SKIP_GPUS)
        printf("skipped: needs %d GPUs\n", R);
    else if (codes[0] == SKIP_NCCL)
        printf("skipped: no NCCL\n");
    else
        for (int r = 0; r < R; r++)
            failed += codes[r] != 0;
    printf("%s\n", failed ? "FAILED" : "OK");
    return failed ? 1 : 0;
}
