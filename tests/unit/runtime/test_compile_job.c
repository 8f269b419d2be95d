/* test_compile_job.c — the compile job (runtime/compile/compile_job.h):
 * where the schedule comes from (default, recipe, explicit, tuned), the
 * status enum and failed step of each refusal, PTX for both GPU targets,
 * and the per-arch target table (ir/target_info.h). No GPU needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/nvptx_plan.h"
#include "frontend/frontend.h"
#include "ir/target_info.h"
#include "passes/pipeline.h"
#include "runtime/compile/compile_job.h"

static recipe *parse_text(arena *a, const char *text)
{
    diag_list d;
    diag_list_init(&d, a, "j.attn", text, strlen(text));
    recipe *r = frontend_parse(a, "j.attn", text, strlen(text), &d);
    assert_non_null(r);
    assert_int_equal(d.errors, 0);
    return r;
}

static recipe *parse(arena *a, const char *elem, const char *tile)
{
    char text[512];
    snprintf(text, sizeof text, "recipe j\ninput q, k, v : %s [batch, heads, tokens, 64]\nmask causal\ntile %s\n",
             elem, tile);
    return parse_text(a, text);
}

static recipe *parse_grid(arena *a, const char *grid, const char *mask)
{
    char text[512];
    snprintf(text, sizeof text, "recipe g\ninput q, k, v : bf16 [batch, heads, tokens, 128]\ntokens grid(%s)\nmask %s\n",
             grid, mask);
    return parse_text(a, text);
}

/* Strided neighborhoods on sm_90a: boxes of 128 tokens dividing the
 * strides (innermost dims first), queries and keys alike; plain
 * neighborhoods, sm_80 and strides that cannot make 128 keep the default. */
static void gna_default_boxes(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *hy = parse_grid(&a, "time: T, y: H, x: W", "neighborhood(window: (18, 24, 24), stride: (16, 8, 8))");
    schedule s = compile_default_schedule(hy, TARGET_SM90A);
    int want3[] = {2, 8, 8};
    for (int d = 0; d < 3; d++) {
        assert_int_equal(s.q_tile[d], want3[d]);
        assert_int_equal(s.kv_tile[d], want3[d]);
    }
    assert_int_equal(s.stages, 2);
    assert_int_equal(s.overlap, 1); /* 3-D boxes too: the overlapped loop (full tiles without mask code) */
    assert_int_equal(s.q_group, 8); /* a stride group's 8 time tiles numbered together */
    recipe *fl = parse_grid(&a, "y: H, x: W", "neighborhood(window: (80, 80), stride: (16, 16))");
    s = compile_default_schedule(fl, TARGET_SM90A);
    assert_int_equal(s.q_tile[0], 8);
    assert_int_equal(s.q_tile[1], 16);
    assert_int_equal(s.kv_tile[0], 8);
    assert_int_equal(s.kv_tile[1], 16);
    assert_int_equal(s.overlap, 1); /* 2-D boxes: the overlapped loop */
    assert_int_equal(s.q_group, 2); /* stride 16 over 8-row boxes */
    schedule def = compile_default_schedule(fl, TARGET_SM80);
    assert_int_equal(def.kv_tile[1], 8); /* sm_80: the grid default */
    assert_int_equal(def.overlap, 0);
    assert_int_equal(s.stages, 2);
    recipe *na = parse_grid(&a, "y: H, x: W", "neighborhood(window: (9, 9))");
    s = compile_default_schedule(na, TARGET_SM90A);
    assert_int_equal(s.kv_tile[0] * s.kv_tile[1], 64);
    assert_int_equal(s.q_group, 0); /* no stride groups: row-major */
    recipe *wide = parse_grid(&a, "y: H, x: W", "neighborhood(window: (80, 80))"); /* FLUX NA: 16x8 key boxes */
    s = compile_default_schedule(wide, TARGET_SM90A);
    assert_int_equal(s.kv_tile[0], 16);
    assert_int_equal(s.kv_tile[1], 8);
    assert_int_equal(s.q_tile[0] * s.q_tile[1], 128);
    assert_int_equal(s.overlap, 0);
    assert_int_equal(compile_default_schedule(wide, TARGET_SM80).kv_tile[0] * compile_default_schedule(wide, TARGET_SM80).kv_tile[1], 64);
    recipe *small = parse_grid(&a, "y: H, x: W", "neighborhood(window: (9, 9), stride: (2, 2))");
    s = compile_default_schedule(small, TARGET_SM90A);
    assert_int_equal(s.kv_tile[0] * s.kv_tile[1], 64); /* 2x2 cannot make 128 */
    compile_job j; /* the job takes the same default */
    compile_job_init(&j, hy, TARGET_SM90A);
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.sched.kv_tile[0], 2);
    compile_job_free(&j);
    arena_free_all(&a);
}

/* The sm_90a defaults of token sequences: overlap=1 for unmasked bf16/f16
 * recipes with head dims 64 or 128 (masked recipes, f32, other head dims,
 * grids, sm_80 and recipes with their own tile section keep overlap 0);
 * overlap=1 for the plain causal mask with the default score, and regs=even
 * where that loop does not fit (f32) (written scores, other masks, dense and
 * other targets keep the register shift); overlap=1 for causal documents;
 * persist=1 with overlap=1 for unions of closed forms at head dim 128. */
static void sequence_defaults(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    struct {
        const char *text;
        target_arch arch;
        int overlap;
        bool even_regs;
    } cases[] = {
        {"recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 128]\ntile auto\n", TARGET_SM90A, 1, false},
        {"recipe d\ninput q, k, v : f16 [batch, heads, tokens, 64]\n", TARGET_SM90A, 1, false},
        {"recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 128]\n", TARGET_SM80, 0, false},
        {"recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 96]\n", TARGET_SM90A, 0, false},
        {"recipe d\ninput q, k, v : f32 [batch, heads, tokens, 128]\n", TARGET_SM90A, 0, false},
        {"recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 128]\ntile q(128) kv(128) stages 2 warps 8\n",
         TARGET_SM90A, 0, false},
        {"recipe g\ninput q, k, v : bf16 [batch, heads, tokens, 128]\ntokens grid(y: H, x: W)\n", TARGET_SM90A, 0,
         false},
        {"recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\ntile auto\n", TARGET_SM90A, 1, false},
        {"recipe c\ninput q : bf16 [batch, heads, tokens, 128]\ninput k, v : bf16 [batch, kv_heads, tokens, 128]\n"
         "mask causal\n", TARGET_SM90A, 1, false},
        {"recipe c\ninput q, k, v : f32 [batch, heads, tokens, 64]\nmask causal\n", TARGET_SM90A, 0, true},
        {"recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n", TARGET_SM80, 0, false},
        {"recipe c\ninput q, k, v : f16 [batch, heads, tokens, 128]\nmask causal\n"
         "score s * scale - alibi_slope(head) * float(q.t - k.t)\n", TARGET_SM90A, 0, false},
        {"recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask sliding_window(255, 0)\n", TARGET_SM90A,
         0, false},
        {"recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n"
         "tile q(128) kv(128) stages 2 warps 8\n", TARGET_SM90A, 0, false},
        /* causal documents: the overlapped loop in either order, no regs=even fallback; a bidirectional
         * document mask and other targets keep the plain loop */
        {"recipe p\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
         "mask causal && document(doc)\n", TARGET_SM90A, 1, false},
        {"recipe p\ninput q, k, v : f16 [batch, heads, tokens, 64]\nparam doc : i64 [tokens]\n"
         "mask document(doc) && causal\n", TARGET_SM90A, 1, false},
        {"recipe p\ninput q, k, v : f32 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
         "mask causal && document(doc)\n", TARGET_SM90A, 0, false},
        {"recipe p\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
         "mask document(doc)\n", TARGET_SM90A, 0, false},
        {"recipe p\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
         "mask causal && document(doc)\n", TARGET_SM80, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        recipe *r = parse_text(&a, cases[i].text);
        schedule s = compile_default_schedule(r, cases[i].arch);
        if (s.overlap != cases[i].overlap || s.even_regs != cases[i].even_regs || s.persistent)
            fail_msg("case %zu: overlap %d regs=even %d persist %d, want %d, %d and 0", i, s.overlap, s.even_regs,
                     s.persistent, cases[i].overlap, cases[i].even_regs);
    }
    /* unions of closed forms on sequences of head dim 128: persistent blocks
     * on the overlapped loop; not at head dim 64, with documents (a param),
     * on sm_80 or in f32 */
    static const struct {
        const char *text;
        target_arch arch;
        bool persist;
    } unions[] = {
        {"recipe u\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal && (sinks(4) || sliding_window(2047, 0))\n",
         TARGET_SM90A, true},
        {"recipe u\ninput q, k, v : f16 [batch, heads, tokens, 128]\nmask sinks(4) || sliding_window(255, 255)\n",
         TARGET_SM90A, true},
        {"recipe u\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal && (sinks(4) || sliding_window(2047, 0))\n",
         TARGET_SM90A, false}, /* head dim 64 lost with it */
        {"recipe u\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam ids : i32 [tokens]\n"
         "mask document(ids) && (sinks(4) || sliding_window(255, 0))\n", TARGET_SM90A, false},
        {"recipe u\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal && (sinks(4) || sliding_window(2047, 0))\n",
         TARGET_SM80, false},
        {"recipe u\ninput q, k, v : f32 [batch, heads, tokens, 128]\nmask causal && (sinks(4) || sliding_window(2047, 0))\n",
         TARGET_SM90A, false},
    };
    for (size_t i = 0; i < sizeof unions / sizeof unions[0]; i++) {
        schedule s = compile_default_schedule(parse_text(&a, unions[i].text), unions[i].arch);
        if (s.persistent != unions[i].persist || s.overlap != (unions[i].persist ? 1 : 0))
            fail_msg("union %zu: persist %d overlap %d, want persist %d", i, s.persistent, s.overlap,
                     unions[i].persist);
    }
    compile_job j; /* the job resolves the same defaults and emits their PTX */
    compile_job_init(&j, parse_text(&a, cases[0].text), TARGET_SM90A);
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.sched.overlap, 1);
    compile_job_free(&j);
    compile_job_init(&j, parse_text(&a, cases[7].text), TARGET_SM90A); /* causal: the overlapped loop */
    if (compile_job_run(&j))
        fail_msg("%s", sb_cstr(&j.err));
    assert_int_equal(j.sched.overlap, 1);
    assert_false(j.sched.even_regs);
    assert_non_null(strstr(sb_cstr(&j.ptx), "setmaxnreg"));
    compile_job_free(&j);
    arena_free_all(&a);
}

/* Head dim 256 on sm_90a: unmasked, causal, sliding-window and causal
 * document sequences (GQA too) with the default score take 128 x 64 tiles
 * over two warpgroups, overlapped; other masks (a union), written scores,
 * f32 and sm_80 keep the generic 64 x 32 tiles on four warps. */
static void wide_head_defaults(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    static const struct {
        const char *text;
        target_arch arch;
        bool wide;
    } cases[] = {
        {"recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 256]\n", TARGET_SM90A, true},
        {"recipe c\ninput q, k, v : f16 [batch, heads, tokens, 256]\nmask causal\n", TARGET_SM90A, true},
        {"recipe c\ninput q : bf16 [batch, heads, tokens, 256]\ninput k, v : bf16 [batch, kv_heads, tokens, 256]\n"
         "mask causal\n", TARGET_SM90A, true},
        {"recipe s\ninput q, k, v : bf16 [batch, heads, tokens, 256]\nmask causal\nscore softcap(s * scale, 50.0)\n",
         TARGET_SM90A, false},
        {"recipe w\ninput q, k, v : bf16 [batch, heads, tokens, 256]\nmask causal && sliding_window(300, 0)\n",
         TARGET_SM90A, true},
        {"recipe w\ninput q, k, v : bf16 [batch, heads, tokens, 256]\nmask sliding_window(300, 200)\n", TARGET_SM90A,
         true},
        {"recipe p\ninput q, k, v : bf16 [batch, heads, tokens, 256]\nparam doc : i32 [batch, tokens]\n"
         "mask causal && document(doc)\n", TARGET_SM90A, true},
        {"recipe u\ninput q, k, v : bf16 [batch, heads, tokens, 256]\nmask causal && (sinks(4) || sliding_window(300, 0))\n",
         TARGET_SM90A, false},
        {"recipe d\ninput q, k, v : f32 [batch, heads, tokens, 256]\n", TARGET_SM90A, false},
        {"recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 256]\n", TARGET_SM80, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        recipe *r = parse_text(&a, cases[i].text);
        schedule s = compile_default_schedule(r, cases[i].arch);
        bool wide = s.q_tile[0] == 128 && s.kv_tile[0] == 64 && s.warps == 8 && s.overlap == 1;
        bool narrow = s.q_tile[0] == 64 && s.kv_tile[0] == 32 && s.warps == 4 && s.overlap == 0;
        if (cases[i].wide ? !wide : !narrow)
            fail_msg("case %zu: q=%d kv=%d warps=%d overlap=%d, want %s", i, s.q_tile[0], s.kv_tile[0], s.warps,
                     s.overlap, cases[i].wide ? "q=128 kv=64 warps=8 overlap=1" : "q=64 kv=32 warps=4");
    }
    arena_free_all(&a);
}

/* The overlapped loop on a one-box range has no empty-tile test
 * (nvptx_plan.c overlap_without_empty); the plain loop keeps it, and so
 * does the overlapped loop on a union's parts. */
static void overlap_drops_empty_test(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    struct {
        const char *grid, *mask, *sched;
        bool empty_test;
    } cases[] = {
        {"y: H, x: W", "neighborhood(window: (80, 80), stride: (16, 16))", NULL, false}, /* default: overlap=1 */
        {"y: H, x: W", "neighborhood(window: (80, 80), stride: (16, 16))", "q=8x16 kv=8x16 stages=2 warps=8", true},
        {NULL, "causal && (sinks(4) || sliding_window(255, 0))", "q=128 kv=128 stages=2 warps=8 overlap=1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        if (cases[i].grid)
            snprintf(text, sizeof text, "recipe g\ninput q, k, v : bf16 [batch, heads, tokens, 128]\n"
                     "tokens grid(%s)\nmask %s\n", cases[i].grid, cases[i].mask);
        else
            snprintf(text, sizeof text, "recipe u\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask %s\n",
                     cases[i].mask);
        compile_job j;
        compile_job_init(&j, parse_text(&a, text), TARGET_SM90A);
        j.schedule_text = cases[i].sched;
        if (compile_job_lower(&j))
            fail_msg("case %zu: %s", i, sb_cstr(&j.err));
        fa_plan p;
        strbuf err;
        sb_init(&err);
        if (fa_plan_from_tir(j.tk, TARGET_SM90A, &p, &err))
            fail_msg("case %zu: %s", i, sb_cstr(&err));
        if ((p.empty != NULL) != cases[i].empty_test)
            fail_msg("case %zu: empty test %d, want %d (overlap %d)", i, p.empty != NULL, cases[i].empty_test,
                     p.overlap);
        sb_free(&err);
        compile_job_free(&j);
    }
    arena_free_all(&a);
}

static void sources(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *au = parse(&a, "bf16", "auto"), *own = parse(&a, "bf16", "q(64) kv(32) stages 2 warps 4");
    compile_job j;
    compile_job_init(&j, au, TARGET_SM90A);
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.source, SCHED_FROM_DEFAULT);
    schedule d = nvptx_default_schedule(lower_signature(&a, au), TARGET_SM90A);
    assert_int_equal(j.sched.q_tile[0], d.q_tile[0]);
    assert_int_equal(j.sched.kv_tile[0], d.kv_tile[0]);
    compile_job_free(&j);

    compile_job_init(&j, own, TARGET_SM80);
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.source, SCHED_FROM_RECIPE);
    assert_int_equal(j.sched.kv_tile[0], 32);
    compile_job_free(&j);

    compile_job_init(&j, own, TARGET_SM80);
    j.schedule_text = "q=128 kv=64 warps=8";
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.source, SCHED_FROM_EXPLICIT);
    assert_int_equal(j.sched.q_tile[0], 128);
    compile_job_free(&j);

    /* `auto` as text is no explicit schedule; a tuned pick serves `tile auto` only */
    schedule tuned = d;
    tuned.kv_tile[0] = 16;
    compile_job_init(&j, au, TARGET_SM90A);
    j.schedule_text = "auto";
    j.tuned = &tuned;
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.source, SCHED_FROM_TUNED);
    assert_int_equal(j.sched.kv_tile[0], 16);
    compile_job_free(&j);
    compile_job_init(&j, own, TARGET_SM80);
    j.tuned = &tuned;
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    assert_int_equal(j.source, SCHED_FROM_RECIPE);
    compile_job_free(&j);
    arena_free_all(&a);
}

static void refusals(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *r = parse(&a, "bf16", "auto");
    compile_job j;
    compile_job_init(&j, r, TARGET_SM80);
    j.schedule_text = "q=banana";
    assert_int_equal(compile_job_run(&j), JOB_USER_ERROR);
    assert_int_equal(j.failed, JOB_STEP_PARSE);
    assert_null(j.tk);
    compile_job_free(&j);

    compile_job_init(&j, r, TARGET_SM80);
    j.schedule_text = "q=256 kv=256 stages=4 warps=8"; /* over sm_80's shared memory */
    assert_int_equal(compile_job_run(&j), JOB_USER_ERROR);
    assert_int_equal(j.failed, JOB_STEP_SCHEDULE);
    assert_non_null(strstr(sb_cstr(&j.err), "illegal schedule"));
    compile_job_free(&j);

    schedule two = schedule_default(2, TARGET_SM80, false); /* two tile dims for a sequence */
    compile_job_init(&j, r, TARGET_SM80);
    j.explicit_sched = &two;
    assert_int_equal(compile_job_run(&j), JOB_USER_ERROR);
    assert_int_equal(j.failed, JOB_STEP_SCHEDULE);
    compile_job_free(&j);

    recipe *f32 = parse(&a, "f32", "auto");
    compile_job_init(&j, f32, TARGET_SM90A);
    assert_int_equal(compile_job_run(&j), JOB_UNSUPPORTED);
    assert_int_equal(j.failed, JOB_STEP_TARGET);
    assert_int_equal(compile_job_attnc_status(j.status), ATTNC_ERR_UNSUPPORTED);
    compile_job_free(&j);
    compile_job_init(&j, f32, TARGET_HOST); /* the CPU runs f32: the schedule step passes */
    assert_int_equal(compile_job_schedule(&j), JOB_OK);
    compile_job_free(&j);
    arena_free_all(&a);
}

static void ptx_both_targets(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *r = parse(&a, "bf16", "auto");
    target_arch archs[] = {TARGET_SM80, TARGET_SM90A};
    for (int i = 0; i < 2; i++) {
        compile_job j;
        compile_job_init(&j, r, archs[i]);
        if (compile_job_run(&j))
            fail_msg("%s", sb_cstr(&j.err));
        assert_non_null(j.tk);
        assert_int_equal(j.info.arch, archs[i]);
        assert_non_null(strstr(sb_cstr(&j.ptx), ".entry attnc_j"));
        assert_true(j.info.smem_bytes <= target_info_of(archs[i])->smem_block_optin);
        compile_job_free(&j);
    }
    arena_free_all(&a);
}

/* $ATTNC_WS_MAXNREG overrides the schedule's regs= both ways: 1 gives the
 * plain causal loop at regs=even (causal's fallback default) the setmaxnreg
 * pair, 0 takes it from dense (the register shift by default). */
static void ws_maxnreg_switch(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    schedule even;
    strbuf err;
    sb_init(&err);
    assert_true(schedule_parse("q=128 kv=128 stages=2 warps=8 regs=even", 1, &even, &err));
    sb_free(&err);
    struct {
        recipe *r;
        const schedule *sched;
        const char *env;
        bool shift;
    } cases[] = {
        {parse(&a, "bf16", "auto"), &even, NULL, false},
        {parse(&a, "bf16", "auto"), &even, "1", true},
        {parse_text(&a, "recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 128]\n"), NULL, NULL, true},
        {parse_text(&a, "recipe d\ninput q, k, v : bf16 [batch, heads, tokens, 128]\n"), NULL, "0", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].env)
            setenv("ATTNC_WS_MAXNREG", cases[i].env, 1);
        else
            unsetenv("ATTNC_WS_MAXNREG");
        compile_job j;
        compile_job_init(&j, cases[i].r, TARGET_SM90A);
        j.explicit_sched = cases[i].sched;
        if (compile_job_run(&j))
            fail_msg("%s", sb_cstr(&j.err));
        const char *ptx = sb_cstr(&j.ptx);
        bool both = strstr(ptx, "setmaxnreg.inc") && strstr(ptx, "setmaxnreg.dec");
        if (both != cases[i].shift || (!both && strstr(ptx, "setmaxnreg")))
            fail_msg("case %zu: setmaxnreg pair %d, want %d", i, both, cases[i].shift);
        compile_job_free(&j);
    }
    unsetenv("ATTNC_WS_MAXNREG");
    arena_free_all(&a);
}

static void target_table(void **state)
{
    (void)state;
    const target_info *a = target_info_of(TARGET_SM80), *h = target_info_of(TARGET_SM90A);
    assert_string_equal(a->name, "sm_80");
    assert_int_equal(a->smem_block_optin, 163 * 1024);
    assert_int_equal(h->smem_block_optin, 227 * 1024);
    assert_true(a->mma & TARGET_MMA_SYNC);
    assert_false(a->mma & TARGET_MMA_WGMMA);
    assert_true(h->mma & TARGET_MMA_WGMMA);
    assert_false(a->tma);
    assert_true(h->tma);
    assert_int_equal(target_smem_block_max(), 227 * 1024);
    assert_int_equal(target_block_threads_max(), 1024);
    assert_null(target_info_of(TARGET_HOST)->name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sources),
        cmocka_unit_test(gna_default_boxes),
        cmocka_unit_test(sequence_defaults), cmocka_unit_test(wide_head_defaults),
        cmocka_unit_test(overlap_drops_empty_test),
        cmocka_unit_test(refusals),
        cmocka_unit_test(ptx_both_targets),
        cmocka_unit_test(ws_maxnreg_switch),
        cmocka_unit_test(target_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
