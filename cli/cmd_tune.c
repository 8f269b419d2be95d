/* cmd_tune.c — `attnc tune FILE --shape ...`: enumerate the legal schedules
 * of a recipe for a target, compile and time each on generated inputs
 * (CPU: wall clock; CUDA: events), show a progress bar on a terminal and a
 * table of candidates at the end, and store the winner in the tuning
 * database under (recipe hash, arch, shape bucket). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_arch.h"
#include "cli_opts.h"
#include "cli_recipe.h"
#include "commands.h"
#include "codegen/nvptx_kernel.h"
#include "frontend/frontend.h"
#include "runtime/autotune_bench.h"
#include "runtime/cuda_module.h"

#pragma weak cuda_device_arch

typedef struct tune_cli {
    const char *file, *shape, *arch;
    int backend; /* attnc_backend: "cpu|cuda" is in its order */
    tuner_options opts;
    int max, warmup;
    bool no_save, list;
} tune_cli;

typedef struct progress {
    bool tty;
    double best;
} progress;

/* [#########.........]  12/96  best 35.2 us  q=64 kv=64 ... */
static void on_progress(void *user, int done, int total, const tuner_result *last)
{
    progress *p = user;
    if (last->status == TUNED_OK && (p->best < 0 || last->median_us < p->best))
        p->best = last->median_us;
    if (!p->tty)
        return;
    enum { WIDTH = 30 };
    int filled = total ? done * WIDTH / total : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = 0;
    fprintf(stderr, "\r[%s] %4d/%-4d best %10.2f us  %-44.44s", bar, done, total, p->best, last->text);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static const cli_opt tune_table[] = {
    CLI_STR("--shape", tune_cli, shape),
    CLI_STR("--arch", tune_cli, arch),
    CLI_CHOICE("--backend", tune_cli, backend, "cpu|cuda"),
    CLI_DOUBLE("--budget", tune_cli, opts.budget_s, 0, 1e9),
    CLI_INT("--repeats", tune_cli, opts.repeats, 1, 1000000),
    CLI_INT("--warmup", tune_cli, warmup, 0, 1000000),
    CLI_INT("--max", tune_cli, max, 1, 1000000),
    CLI_FLAG("--no-save", tune_cli, no_save),
    CLI_FLAG("--list", tune_cli, list),
};

static bool parse_args(int argc, char **argv, tune_cli *o)
{
    *o = (tune_cli){.backend = ATTNC_BACKEND_CUDA, .warmup = 2};
    const char *files[argc > 0 ? argc : 1];
    cli_operands ops = {files, 0};
    cli_spec spec = {"tune", tune_table, (int)(sizeof tune_table / sizeof tune_table[0]), "recipe file", 1, 1};
    if (cli_parse(&spec, argc, argv, o, &ops))
        return false;
    o->file = files[0];
    o->opts.warmup = o->warmup > 0 ? o->warmup : -1; /* tuner_options: -1 is none, 0 the default */
    if (!o->shape) {
        cli_usage_error("tune", "--shape is needed (e.g. --shape batch=2,heads=16,tokens=4096)");
        return false;
    }
    return true;
}

/* The arch to tune for: host for the CPU; --arch, else the device's. */
static int pick_arch(const tune_cli *o, target_arch *arch, const char **name)
{
    strbuf err;
    sb_init(&err);
    int rc = EXIT_OK;
    attnc_tools_arch ta = ATTNC_TOOLS_SM80;
    if (o->backend == ATTNC_BACKEND_CPU)
        *arch = TARGET_HOST;
    else if (o->arch) {
        rc = cli_arch("tune", o->arch, false, &ta);
        *arch = (target_arch)ta;
    } else if (!cuda_device_arch || cuda_device_arch(arch, &err) != ATTNC_OK) {
        fprintf(stderr, "attnc tune: needs the CUDA backend and a GPU (%s); use --backend cpu to tune for the host\n",
                err.len ? sb_cstr(&err) : "not in this build");
        rc = EXIT_INTERNAL;
    }
    *name = *arch == TARGET_HOST ? "host" : nvptx_arch_name(*arch);
    sb_free(&err);
    return rc;
}

static int report(const tune_cli *o, const cli_recipe *cr, const char *arch, const tune_shape *sh,
                  const tuner_result *res, int n, int best)
{
    strbuf t, msg;
    sb_init(&t);
    sb_init(&msg);
    tuner_format_table(&t, res, n, best);
    fputs(sb_cstr(&t), stdout);
    char hash[33], bucket[64];
    tune_recipe_hash(cr->text, cr->len, hash);
    tune_bucket(bucket, sizeof bucket, sh->batch, sh->heads, sh->tokens, sh->kv_tokens, cr->r->head_dim);
    int rc = best >= 0 ? EXIT_OK : EXIT_INTERNAL;
    if (best < 0)
        fprintf(stderr, "attnc tune: no candidate could be timed\n");
    else
        printf("best: %s  %.2f us  (%s, %s, bucket %s)\n", res[best].text, res[best].median_us, cr->r->name, arch, bucket);
    tune_db *db = best >= 0 && !o->no_save ? tune_db_open(NULL, &msg) : NULL;
    if (db && tuner_record(db, hash, arch, bucket, res, n, best, &msg))
        printf("saved to %s\n", tune_db_path(db));
    else if (best >= 0 && !o->no_save)
        rc = EXIT_INTERNAL;
    if (msg.len)
        fprintf(stderr, "attnc tune: %s\n", sb_cstr(&msg));
    tune_db_close(db);
    sb_free(&t);
    sb_free(&msg);
    return rc;
}

static void list_candidates(const schedule *c, int n, bool linear)
{
    strbuf t;
    sb_init(&t);
    for (int i = 0; i < n; i++) {
        sb_clear(&t);
        schedule_print_for(&t, &c[i], linear);
        printf("%s\n", sb_cstr(&t));
    }
    sb_free(&t);
}

/* Best first by the cost model of tune_rank (docs/runtime.md), the default
 * schedule (what an untuned launch runs) always first. */
static int rank(const recipe *r, target_arch arch, const tune_shape *sh, schedule *c, int n)
{
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    bool linear = r->family == FAMILY_LINEAR;
    schedule def = schedule_default(nd, arch, linear);
    if (arch != TARGET_HOST)
        def = nvptx_default_schedule(r, arch);
    else if (linear && r->linear.block > 0)
        def.linear_block = r->linear.block;
    else if (!r->sched.is_auto && r->sched.ndims == nd)
        def = r->sched;
    tune_rank_ctx rc = {arch, r->head_dim, dtype_size(r->qkv_dtype), sh->tokens};
    return tune_rank(c, n, &def, &rc);
}

static int tune(const tune_cli *o, const cli_recipe *cr, target_arch arch, const char *arch_name,
                const tune_shape *sh)
{
    const recipe *r = cr->r;
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1, n = schedule_enumerate(nd, arch, r->head_dim, dtype_size(r->qkv_dtype),
                                                                         r->family == FAMILY_LINEAR, NULL, 0);
    schedule *c = calloc((size_t)n + 1, sizeof *c);
    tuner_result *res = calloc((size_t)n + 1, sizeof *res);
    attnc_context *ctx = NULL;
    attnc_recipe *rc = NULL;
    tune_bench *bench = NULL;
    strbuf err;
    sb_init(&err);
    int code = EXIT_INTERNAL;
    if (!c || !res || attnc_context_create(&ctx, NULL) != ATTNC_OK)
        goto done;
    schedule_enumerate(nd, arch, r->head_dim, dtype_size(r->qkv_dtype), r->family == FAMILY_LINEAR, c, n);
    n = rank(r, arch, sh, c, n);
    if (o->max > 0 && n > o->max)
        n = o->max;
    if (o->list) {
        list_candidates(c, n, r->family == FAMILY_LINEAR);
        code = EXIT_OK;
        goto done;
    }
    attnc_status st = attnc_recipe_from_file(&rc, ctx, o->file);
    if (!st)
        st = tune_bench_create(&bench, ctx, rc, (attnc_backend)o->backend, arch == TARGET_HOST ? NULL : arch_name, sh, &err);
    if (st) {
        fprintf(stderr, "attnc tune: %s: %s\n", attnc_status_string(st), err.len ? sb_cstr(&err) : attnc_context_errmsg(ctx));
        code = st == ATTNC_ERR_UNSUPPORTED || st == ATTNC_ERR_RECIPE ? EXIT_USER : EXIT_INTERNAL;
        goto done;
    }
    tuner_options opts = o->opts;
    opts.linear = r->family == FAMILY_LINEAR;
    progress p = {isatty(2) != 0, -1};
    tuner_hooks h = tune_bench_hooks(bench);
    h.progress = on_progress;
    h.progress_user = &p;
    code = report(o, cr, arch_name, sh, res, n, tuner_run(c, n, &opts, &h, res));
done:
    tune_bench_destroy(bench);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    sb_free(&err);
    free(c);
    free(res);
    return code;
}

static int run_tune(int argc, char **argv)
{
    tune_cli o;
    if (!parse_args(argc, argv, &o))
        return EXIT_USER;
    arena a;
    arena_init(&a, NULL);
    cli_recipe cr;
    int rc = cli_recipe_load(&a, "tune", o.file, &cr);
    target_arch arch = TARGET_HOST;
    const char *arch_name = "host";
    tune_shape sh;
    strbuf err;
    sb_init(&err);
    if (rc == EXIT_OK)
        rc = cli_tune_shape(&cr, "tune", o.shape, &sh);
    if (rc == EXIT_OK)
        rc = pick_arch(&o, &arch, &arch_name);
    if (rc == EXIT_OK && !frontend_target_ok(cr.r, arch, &err)) {
        fprintf(stderr, "attnc tune: %s\n", sb_cstr(&err));
        rc = EXIT_USER;
    }
    if (rc == EXIT_OK)
        rc = tune(&o, &cr, arch, arch_name, &sh);
    sb_free(&err);
    arena_free_all(&a);
    return rc;
}

const cli_command cmd_tune = {
    "tune",
    "autotune a recipe's schedule (GPU, or the CPU backend)",
    "usage: attnc tune FILE --shape S [--backend cuda|cpu] [--arch sm_80|sm_90a] [--budget SEC]\n"
    "                  [--max N] [--repeats N] [--warmup N] [--no-save] [--list]\n\n"
    "Enumerates the legal schedules for the recipe and target (tile shapes, pipeline\n"
    "stages, warps; block size and inter-block mode for linear attention), compiles\n"
    "each and times it on random inputs of shape S (CUDA: events; CPU: wall clock;\n"
    "warm-up runs, then the median of repeated runs, inputs rotated between two sets,\n"
    "clearly slower candidates stopped early). A progress bar is shown on a terminal,\n"
    "a table of candidates at the end; the winner is stored in the tuning database\n"
    "($ATTNC_CACHE_DIR/tuning.sqlite) for the recipe, arch and shape bucket.\n\n"
    "  --shape S     batch=B,heads=H,tokens=T[,kv_tokens=N][,kv_heads=N], or the recipe's\n"
    "                grid dims by name (H=64,W=64); bucket: tokens and batch*heads rounded\n"
    "                up to powers of two, head dim exact\n"
    "  --backend     cuda (default; needs a GPU) or cpu (tunes for the host)\n"
    "  --arch A      tune for A instead of the GPU's own arch (names: attnc ptx --help)\n"
    "  --budget SEC  stop starting new candidates after SEC seconds\n"
    "  --max N       only the N best-ranked candidates (the default schedule first, then\n"
    "                a cost model: occupancy, distance from the default; docs/runtime.md);\n"
    "                --list prints the ranked list and exits\n"
    "  --no-save     do not write the tuning database\n\n"
    "exit status: 0 a winner was found, 1 bad recipe or arguments, 2 no GPU/driver or\n"
    "no candidate could be timed\n",
    run_tune,
};
