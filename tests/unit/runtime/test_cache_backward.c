/* test_cache_backward.c — the GPU backward program's PTX goes through the
 * context's kernel cache (no GPU needed: this drives cuda_bwd_compile, the
 * step cuda_backward_build takes before loading the module): a second
 * build is a memory hit with the same PTX and launch info, a new context
 * gets a disk hit, and the variant settings (ATTNC_BWD_* variables, the
 * deterministic flag, the arch) are part of the key. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cuda/cuda_bwd_job.h"

static const char SRC[] = "recipe causal\n"
                          "input  q, k, v : bf16 [batch, heads, tokens, 64]\n"
                          "mask   causal\n";

/* One compile in a fresh arena; the PTX into *out (malloc'ed). */
static cache_result build_once(attnc_context *ctx, target_arch arch, bool det, char **out, nvptx_bwd_info *info)
{
    attnc_recipe *rc = NULL;
    assert_int_equal(attnc_recipe_from_text(&rc, ctx, "causal.attn", SRC, strlen(SRC)), ATTNC_OK);
    arena a;
    arena_init(&a, &ctx->heap);
    strbuf err;
    sb_init(&err);
    cuda_bwd_job job = {rc->r, NULL, arch, det, ctx, rc->text_hash};
    cuda_bwd_out o;
    attnc_status st = cuda_bwd_compile(&a, &job, &o, &err);
    if (st)
        fail_msg("cuda_bwd_compile: %s", sb_cstr(&err));
    assert_int_equal(o.info.arch, arch);
    assert_true(o.info.nkernels >= 3);
    assert_non_null(strstr(sb_cstr(&o.ptx), ".entry attnc_bwd_dkv"));
    *out = sb_take(&o.ptx);
    *info = o.info;
    sb_free(&err);
    arena_free_all(&a);
    attnc_recipe_destroy(rc);
    return o.how;
}

static void test_backward_cached(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    unsetenv("ATTNC_BWD_OVERLAP");
    char *p1, *p2, *p3, *p4, *p5, *p6;
    nvptx_bwd_info i1, i2, i3, i4, i5, i6;

    attnc_context *c1 = NULL;
    assert_int_equal(attnc_context_create(&c1, NULL), ATTNC_OK);
    assert_int_equal(build_once(c1, TARGET_SM80, false, &p1, &i1), CACHE_MISS);
    assert_int_equal(build_once(c1, TARGET_SM80, false, &p2, &i2), CACHE_HIT_MEMORY);
    assert_string_equal(p1, p2);
    assert_memory_equal(&i1, &i2, sizeof i1);
    assert_int_equal(cache_get_stats(c1->cache).builds, 1);

    attnc_context *c2 = NULL; /* a new context: from disk */
    assert_int_equal(attnc_context_create(&c2, NULL), ATTNC_OK);
    assert_int_equal(build_once(c2, TARGET_SM80, false, &p3, &i3), CACHE_HIT_DISK);
    assert_string_equal(p1, p3);
    assert_memory_equal(&i1, &i3, sizeof i1);

    /* the variant is in the key: a deterministic build, an ATTNC_BWD_*
     * variable, another arch each build their own entry */
    assert_int_equal(build_once(c2, TARGET_SM80, true, &p4, &i4), CACHE_MISS);
    setenv("ATTNC_BWD_OVERLAP", "2", 1);
    assert_int_equal(build_once(c2, TARGET_SM80, false, &p5, &i5), CACHE_MISS);
    assert_int_equal(build_once(c2, TARGET_SM80, false, &p6, &i6), CACHE_HIT_MEMORY);
    unsetenv("ATTNC_BWD_OVERLAP");
    free(p6);
    assert_int_equal(build_once(c2, TARGET_SM90A, false, &p6, &i6), CACHE_MISS);
    assert_int_equal(i6.arch, TARGET_SM90A);
    assert_true(i6.producer && i6.dq_bulk); /* the dK/dV kernel's TMA producer, by default */
    assert_int_equal(i6.kernels[1].threads, 32 * i6.dkv_warps + 128);
    free(p6);
    setenv("ATTNC_BWD_PRODUCER", "0", 1); /* without it: its own entry */
    assert_int_equal(build_once(c2, TARGET_SM90A, false, &p6, &i6), CACHE_MISS);
    assert_false(i6.producer);
    assert_int_equal(i6.kernels[1].threads, 32 * i6.dkv_warps);
    unsetenv("ATTNC_BWD_PRODUCER");
    free(p6);
    assert_int_equal(build_once(c2, TARGET_SM80, false, &p6, &i6), CACHE_HIT_MEMORY); /* the first entry still */
    assert_string_equal(p1, p6);

    strbuf v1, v2;
    sb_init(&v1);
    sb_init(&v2);
    attnc_recipe *rc = NULL;
    assert_int_equal(attnc_recipe_from_text(&rc, c2, "causal.attn", SRC, strlen(SRC)), ATTNC_OK);
    cuda_bwd_job job = {rc->r, NULL, TARGET_SM90A, false, NULL, NULL};
    cuda_bwd_variant(&job, &v1);
    setenv("ATTNC_BWD_SOMETHING_NEW", "x", 1);
    cuda_bwd_variant(&job, &v2);
    unsetenv("ATTNC_BWD_SOMETHING_NEW");
    assert_string_not_equal(sb_cstr(&v1), sb_cstr(&v2));
    assert_non_null(strstr(sb_cstr(&v2), "ATTNC_BWD_SOMETHING_NEW=x"));
    attnc_recipe_destroy(rc);
    sb_free(&v1);
    sb_free(&v2);

    attnc_context_destroy(c2);
    attnc_context_destroy(c1);
    free(p1), free(p2), free(p3), free(p4), free(p5), free(p6);
    unsetenv("ATTNC_CACHE_DIR");
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_backward_cached)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
