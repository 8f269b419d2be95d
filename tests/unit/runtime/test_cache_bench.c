/* test_cache_bench.c — measures the three ways a kernel image is obtained:
 * a cold build (ptxas on examples/add_one.ptx when ptxas is installed, else
 * marked "synthetic"), a disk-cache load (fresh handle, validated read) and
 * a memory-cache hit, and prints a table (medians). Checks the bytes of
 * every load; the timings are reported, not asserted, so a busy CI machine
 * cannot fail it. Set ATTNC_BENCH_PAYLOAD=bytes to time other sizes. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/aot/aot.h"
#include "runtime/compile/ptxas.h"
#include "runtime/cache/cache.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

typedef struct bench {
    const char *dir;
    int real; /* ptxas ran */
    unsigned char *payload;
    size_t len;
} bench;

/* The cold path: ptxas PTX -> cubin (the payload becomes the cubin). */
static bool cold_build(void *user, void **data, size_t *len, strbuf *err)
{
    bench *b = user;
    char out[600];
    snprintf(out, sizeof out, "%s/cold.cubin", b->dir);
    b->real = ptxas_run(ATTNC_SOURCE_DIR "/examples/add_one.ptx", "sm_80", out, err);
    *data = malloc(b->len);
    if (!*data)
        return false;
    memcpy(*data, b->payload, b->len);
    *len = b->len;
    return b->real >= 0;
}

static void test_bench(void **state)
{
    (void)state;
    const char *env = getenv("ATTNC_BENCH_PAYLOAD");
    bench b = {tmpdir_make(), 0, NULL, env ? (size_t)atol(env) : 256 * 1024};
    b.payload = malloc(b.len);
    for (size_t i = 0; i < b.len; i++)
        b.payload[i] = (unsigned char)(i * 131 + 7);
    cache_options o = {.dir = b.dir};
    cache_key_parts parts = {"bench ir", "q=64 kv=64", "sm_80", NULL};
    cache_key k = cache_key_make(&parts);
    enum { COLD = 3, DISK = 40, MEM = 400 };
    double cold[COLD], disk[DISK], mem[MEM];
    void *d;
    size_t n;
    for (int i = 0; i < COLD; i++) {
        kcache *c = cache_open(&o, NULL);
        cache_clear(c, NULL);
        double t0 = now_us();
        assert_int_equal(cache_get_or_build(c, k, CACHE_CUBIN, cold_build, &b, &d, &n, NULL), CACHE_MISS);
        cold[i] = now_us() - t0;
        free(d);
        cache_close(c);
    }
    for (int i = 0; i < DISK; i++) {
        kcache *c = cache_open(&o, NULL);
        double t0 = now_us();
        assert_int_equal(cache_lookup(c, k, CACHE_CUBIN, &d, &n, NULL), CACHE_HIT_DISK);
        disk[i] = now_us() - t0;
        assert_int_equal(n, b.len);
        assert_memory_equal(d, b.payload, n);
        free(d);
        cache_close(c);
    }
    kcache *c = cache_open(&o, NULL);
    cache_lookup(c, k, CACHE_CUBIN, &d, &n, NULL);
    free(d);
    for (int i = 0; i < MEM; i++) {
        double t0 = now_us();
        assert_int_equal(cache_lookup(c, k, CACHE_CUBIN, &d, &n, NULL), CACHE_HIT_MEMORY);
        mem[i] = now_us() - t0;
        free(d);
    }
    cache_close(c);
    printf("kernel cache, %zu-byte image (medians):\n", b.len);
    printf("  cold build + store  %10.1f us  (%s)\n", median(cold, COLD),
           b.real == 1 ? "ptxas add_one.ptx -> cubin, fsync'ed atomic write" : "synthetic: no ptxas here");
    printf("  disk-cache load     %10.1f us  (open, read, header + XXH3-128 check)\n", median(disk, DISK));
    printf("  memory-cache hit    %10.1f us  (hash map lookup + copy)\n", median(mem, MEM));
    fflush(stdout);
    free(b.payload);
    tmpdir_remove((char *)b.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bench)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
