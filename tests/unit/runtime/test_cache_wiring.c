/* test_cache_wiring.c — GPU kernel builds go through the context's kernel
 * cache (no GPU needed: this drives the PTX step, kernel_ptx_cached, that
 * the CUDA backend's build uses): a second build is a memory hit, a new context
 * gets a disk hit, a bit-flipped entry is reported and rebuilt, never
 * loaded; an unusable folder degrades to memory-only. */
#include "tmpdir.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "passes/pipeline.h"
#include "runtime/api/api_kcache.h"
#include "runtime/compile/compile_job.h"

static const char SRC[] = "recipe causal\n"
                          "input  q, k, v : bf16 [batch, heads, tokens, 128]\n"
                          "mask   causal\n"
                          "tile   q(128) kv(64) stages 2 warps 4\n";

/* One PTX build in a fresh lowering; returns how the cache answered and
 * the PTX in out (malloc'ed). */
static cache_result build_once(attnc_context *ctx, char **out, strbuf *note)
{
    attnc_recipe *rc = NULL;
    assert_int_equal(attnc_recipe_from_text(&rc, ctx, "causal.attn", SRC, strlen(SRC)), ATTNC_OK);
    arena a;
    arena_init(&a, &ctx->heap);
    strbuf err;
    sb_init(&err);
    compile_job j;
    compile_job_init(&j, rc->r, TARGET_SM80);
    j.a = &a;
    assert_int_equal(compile_job_lower(&j), JOB_OK);
    cache_result how = CACHE_ERROR;
    attnc_status st = kernel_ptx_cached(ctx, &j, &how, note, &err);
    if (st)
        fail_msg("kernel_ptx_cached: %s", sb_cstr(&err));
    assert_int_equal(j.info.arch, TARGET_SM80);
    assert_non_null(strstr(sb_cstr(&j.ptx), ".entry"));
    *out = sb_take(&j.ptx);
    compile_job_free(&j);
    sb_free(&err);
    arena_free_all(&a);
    attnc_recipe_destroy(rc);
    return how;
}

/* Flips one payload bit of the only .ptx entry under dir/<version>. */
static void flip_entry(attnc_context *ctx)
{
    const char *dir = cache_dir(ctx->cache);
    DIR *d = opendir(dir);
    assert_non_null(d);
    char path[4096] = "";
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".ptx") && !strstr(e->d_name, ".tmp")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 200, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, 200, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    fclose(f);
}

static void test_memory_disk_corrupt(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    strbuf note;
    sb_init(&note);
    char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;

    attnc_context *c1 = NULL;
    assert_int_equal(attnc_context_create(&c1, NULL), ATTNC_OK);
    assert_int_equal(build_once(c1, &p1, &note), CACHE_MISS);
    assert_int_equal(build_once(c1, &p2, &note), CACHE_HIT_MEMORY);
    assert_string_equal(p1, p2);
    cache_stats st = cache_get_stats(c1->cache);
    assert_int_equal(st.mem_hits, 1);
    assert_int_equal(st.builds, 1);
    assert_true(strncmp(cache_dir(c1->cache), dir, strlen(dir)) == 0);

    attnc_context *c2 = NULL; /* same process, new context: from disk */
    assert_int_equal(attnc_context_create(&c2, NULL), ATTNC_OK);
    assert_int_equal(build_once(c2, &p3, &note), CACHE_HIT_DISK);
    assert_string_equal(p1, p3);
    attnc_context_destroy(c2);

    flip_entry(c1);
    attnc_context *c3 = NULL;
    assert_int_equal(attnc_context_create(&c3, NULL), ATTNC_OK);
    sb_clear(&note);
    assert_int_equal(build_once(c3, &p4, &note), CACHE_CORRUPT);
    assert_true(note.len > 0);
    assert_string_equal(p1, p4); /* rebuilt, not the damaged bytes */
    assert_int_equal(cache_get_stats(c3->cache).corrupt, 1);
    attnc_context_destroy(c3);
    attnc_context_destroy(c1);

    free(p1), free(p2), free(p3), free(p4);
    sb_free(&note);
    unsetenv("ATTNC_CACHE_DIR");
    tmpdir_remove(dir);
}

static void test_unusable_folder_is_memory_only(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char file[4200];
    snprintf(file, sizeof file, "%s/not-a-folder", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    setenv("ATTNC_CACHE_DIR", file, 1);
    strbuf note;
    sb_init(&note);
    char *p1 = NULL, *p2 = NULL;
    attnc_context *c = NULL;
    assert_int_equal(attnc_context_create(&c, NULL), ATTNC_OK);
    assert_int_equal(build_once(c, &p1, &note), CACHE_MISS);
    assert_int_equal(build_once(c, &p2, &note), CACHE_HIT_MEMORY);
    assert_string_equal(p1, p2);
    attnc_context_destroy(c);
    free(p1), free(p2);
    sb_free(&note);
    unsetenv("ATTNC_CACHE_DIR");
    tmpdir_remove(dir);
}

static cache_key key_now(tir_kernel *k, const schedule *s)
{
    cache_key key;
    assert_true(cache_key_for_kernel(k, s, "sm_90a", &key));
    return key;
}

static bool same_key(cache_key a, cache_key b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

/* The environment switches read at code generation are part of the kernel
 * key: a kernel built under one setting is never served under another. */
static void test_codegen_env_in_key(void **state)
{
    (void)state;
    /* each switch with its default (codegen/nvptx_plan.c): unset keys like "on" for one on by default */
    static const struct {
        const char *name;
        bool on_by_default;
    } vars[] = {{"ATTNC_GRID_TMA", false},           {"ATTNC_DOC_FULL", false},
                {"ATTNC_OVL_SPLIT_PRODUCER", false}, {"ATTNC_TMA_FENCE", false},
                {"ATTNC_BWD_RING_RELEASE", false},   {"ATTNC_BWD_RING_TMA_FIRST", false},
                {"ATTNC_BWD_DQ_WRITER", false},      {"ATTNC_LIN_INCLUSIVE", false},
                {"ATTNC_MASK_FRAMES", true},         {"ATTNC_TMA_SKIP_EMPTY", false},
                {"ATTNC_WS_MAXNREG", false},         {"ATTNC_NARROW_FIRST", true},
                {"ATTNC_O_DEFER", true},
                {"ATTNC_ITEM_PAIRS", false},
                {"ATTNC_UNION_UNTESTED", true},
                {"ATTNC_SCALE_FMA", true},            {"ATTNC_SKIP_RESCALE", false},
                {"ATTNC_UNIFORM_WARP", false}};
    /* numeric switches: two values that differ (and differ from unset) */
    static const char *const levels[][3] = {
        {"ATTNC_BWD_RING_STAGES", "2", "3"}, {"ATTNC_BWD_DS_BUFS", "1", "2"}, {"ATTNC_BWD_DQF_BUFS", "1", "2"},
        {"ATTNC_TMA_L2_AHEAD", "1", "2"}};
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    attnc_recipe *rc = NULL;
    assert_int_equal(attnc_recipe_from_text(&rc, ctx, "causal.attn", SRC, strlen(SRC)), ATTNC_OK);
    arena a;
    arena_init(&a, &ctx->heap);
    compile_job j;
    compile_job_init(&j, rc->r, TARGET_SM90A);
    j.a = &a;
    assert_int_equal(compile_job_lower(&j), JOB_OK);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i].name);
    cache_key plain = key_now(j.tk, &j.sched);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        setenv(vars[i].name, "1", 1);
        cache_key on = key_now(j.tk, &j.sched);
        setenv(vars[i].name, "0", 1);
        cache_key off = key_now(j.tk, &j.sched);
        unsetenv(vars[i].name);
        assert_int_equal(same_key(on, plain), vars[i].on_by_default);
        assert_false(same_key(off, plain)); /* "0" is keyed apart from unset */
        assert_false(same_key(on, off));
        assert_true(same_key(key_now(j.tk, &j.sched), plain));
    }
    /* $ATTNC_LIN_SEGMENTS takes a count (clamped to 1..64) */
    setenv("ATTNC_LIN_SEGMENTS", "32", 1);
    cache_key s32 = key_now(j.tk, &j.sched);
    setenv("ATTNC_LIN_SEGMENTS", "64", 1);
    cache_key s64 = key_now(j.tk, &j.sched);
    setenv("ATTNC_LIN_SEGMENTS", "640", 1);
    cache_key s640 = key_now(j.tk, &j.sched);
    unsetenv("ATTNC_LIN_SEGMENTS");
    assert_false(same_key(s32, plain));
    assert_false(same_key(s32, s64));
    assert_true(same_key(s64, s640));
    assert_true(same_key(key_now(j.tk, &j.sched), plain));
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        unsetenv(levels[i][0]);
        setenv(levels[i][0], levels[i][1], 1);
        cache_key lo = key_now(j.tk, &j.sched);
        setenv(levels[i][0], levels[i][2], 1);
        cache_key hi = key_now(j.tk, &j.sched);
        setenv(levels[i][0], "7", 1); /* out of range: as unset */
        cache_key out = key_now(j.tk, &j.sched);
        unsetenv(levels[i][0]);
        assert_false(same_key(lo, plain));
        assert_false(same_key(hi, plain));
        assert_false(same_key(lo, hi));
        assert_true(same_key(out, plain));
    }
    compile_job_free(&j);
    arena_free_all(&a);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_disk_corrupt),
        cmocka_unit_test(test_unusable_folder_is_memory_only),
        cmocka_unit_test(test_codegen_env_in_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
