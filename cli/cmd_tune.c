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
#include "commands.h"

typedef struct tune_cli {
    const char *file, *shape, *arch;
    int backend; /* attnc_backend: "cpu|cuda" is in its order */
    int max, warmup, repeats;
    double budget_s;
    bool no_save, list;
} tune_cli;

typedef struct progress {
    bool tty;
    double best;
} progress;

/* [#########.........]  12/96  best 35.2 us  q=64 kv=64 ... */
static void on_progress(void *user, int done, int total, bool ok, double us, const char *text)
{
    progress *p = user;
    if (ok && (p->best < 0 || us < p->best))
        p->best = us;
    if (!p->tty)
        return;
    enum { WIDTH = 30 };
    int filled = total ? done * WIDTH / total : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = 0;
    fprintf(stderr, "\r[%s] %4d/%-4d best %10.2f us  %-44.44s", bar, done, total, p->best, text);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static const cli_opt tune_table[] = {
    CLI_STR("--shape", tune_cli, shape),
    CLI_STR("--arch", tune_cli, arch),
    CLI_CHOICE("--backend", tune_cli, backend, "cpu|cuda"),
    CLI_DOUBLE("--budget", tune_cli, budget_s, 0, 1e9),
    CLI_INT("--repeats", tune_cli, repeats, 1, 1000000),
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
    if (!o->shape) {
        cli_usage_error("tune", "--shape is needed (e.g. --shape batch=2,heads=16,tokens=4096)");
        return false;
    }
    return true;
}

/* The arch to tune for: host for the CPU; --arch, else the device's. */
static int pick_arch(const tune_cli *o, attnc_tools_arch *arch, const char **name)
{
    strbuf err;
    sb_init(&err);
    int rc = EXIT_OK;
    *arch = ATTNC_TOOLS_HOST;
    if (o->backend == ATTNC_BACKEND_CPU)
        *arch = ATTNC_TOOLS_HOST;
    else if (o->arch)
        rc = cli_arch("tune", o->arch, false, arch);
    else if (attnc_tools_device_arch(arch, &err) != ATTNC_OK) {
        fprintf(stderr, "attnc tune: needs the CUDA backend and a GPU (%s); use --backend cpu to tune for the host\n",
                err.len ? sb_cstr(&err) : "not in this build");
        rc = EXIT_INTERNAL;
    }
    *name = *arch == ATTNC_TOOLS_HOST ? "host" : attnc_tools_arch_name(*arch);
    sb_free(&err);
    return rc;
}

static int report(const attnc_tools_recipe *r, const char *arch, const attnc_tools_tune_out *t)
{
    fputs(t->table.data ? t->table.data : "", stdout);
    if (t->best < 0)
        fprintf(stderr, "attnc tune: no candidate could be timed\n");
    else
        printf("best: %s  %.2f us  (%s, %s, bucket %s)\n", t->best_text, t->best_us, attnc_tools_recipe_name(r), arch,
               t->bucket);
    if (t->saved_to.len)
        printf("saved to %s\n", t->saved_to.data);
    if (t->msg.len)
        fprintf(stderr, "attnc tune: %s\n", t->msg.data);
    return t->best >= 0 && !t->save_failed ? EXIT_OK : EXIT_INTERNAL;
}

static int list_candidates(const tune_cli *o, const attnc_tools_recipe *r, attnc_tools_arch arch,
                           const attnc_tools_shape *sh)
{
    strbuf t;
    sb_init(&t);
    int n = attnc_tools_tune_list(r, arch, sh, o->max, &t);
    fputs(sb_cstr(&t), stdout);
    sb_free(&t);
    return n < 0 || t.failed ? EXIT_INTERNAL : EXIT_OK;
}

static int tune(const tune_cli *o, const attnc_tools_recipe *r, attnc_tools_arch arch, const char *arch_name,
                const attnc_tools_shape *sh)
{
    if (o->list)
        return list_candidates(o, r, arch, sh);
    progress p = {isatty(2) != 0, -1};
    attnc_tools_tune_in in = {o->file, (attnc_backend)o->backend, arch, arch_name, *sh,
                              o->warmup > 0 ? o->warmup : -1, /* -1 is none, 0 the default */
                              o->repeats, o->max, o->budget_s, !o->no_save, on_progress, &p};
    attnc_tools_tune_out t;
    strbuf err;
    sb_init(&err);
    attnc_tools_result res = attnc_tools_tune_run(r, &in, &t, &err);
    int code = res == ATTNC_TOOLS_USER ? EXIT_USER : EXIT_INTERNAL;
    if (err.len)
        fprintf(stderr, "attnc tune: %s\n", sb_cstr(&err));
    else
        code = report(r, arch_name, &t);
    attnc_tools_tune_out_free(&t);
    sb_free(&err);
    return code;
}

static int run_tune(int argc, char **argv)
{
    tune_cli o;
    if (!parse_args(argc, argv, &o))
        return EXIT_USER;
    attnc_tools_recipe *r;
    strbuf err;
    sb_init(&err);
    attnc_tools_result res = attnc_tools_recipe_read(o.file, &r, &err);
    int rc = res == ATTNC_TOOLS_OK ? EXIT_OK : res == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
    if (res == ATTNC_TOOLS_UNREADABLE)
        fprintf(stderr, "attnc tune: cannot read '%s': %s\n", o.file, sb_cstr(&err));
    else if (res == ATTNC_TOOLS_USER)
        fputs(sb_cstr(&err), stderr);
    sb_clear(&err);
    attnc_tools_arch arch = ATTNC_TOOLS_HOST;
    const char *arch_name = "host";
    attnc_tools_shape sh;
    if (rc == EXIT_OK && !attnc_tools_tune_shape(r, o.shape, &sh, &err))
        rc = cli_usage_error("tune", "%s", sb_cstr(&err));
    if (rc == EXIT_OK)
        rc = pick_arch(&o, &arch, &arch_name);
    if (rc == EXIT_OK && !attnc_tools_target_ok(r, arch, &err)) {
        fprintf(stderr, "attnc tune: %s\n", sb_cstr(&err));
        rc = EXIT_USER;
    }
    if (rc == EXIT_OK)
        rc = tune(&o, r, arch, arch_name, &sh);
    sb_free(&err);
    attnc_tools_recipe_free(r);
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
