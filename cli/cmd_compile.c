/* cmd_compile.c — `attnc compile`: ahead-of-time output (PTX, cubin when
 * ptxas is present, and a C header + source with a typed launcher).
 *
 * Two inputs: a recipe (needs the NVPTX code generator) or, with
 * --from-ptx, a PTX file plus its launch signature — the path the examples
 * and the AOT tests use, and a way to package hand-written kernels. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_arch.h"
#include "cli_opts.h"
#include "commands.h"

typedef struct compile_cli {
    const char *input, *out_dir, *arch, *schedule, *name;
    const char *ptx, *entry, *signature, *grid, *block, *shape;
    const char *no_grad; /* --no-grad (with --backward) */
    int smem;
    bool aot, tuned, backward;
} compile_cli;

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    strbuf sb;
    sb_init(&sb);
    char buf[8192];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&sb, buf, k);
    bool err = ferror(f);
    fclose(f);
    if (err || sb.failed) {
        sb_free(&sb);
        return NULL;
    }
    *len = sb.len;
    return sb_take(&sb);
}

/* Prints why AOT output failed; the exit status: user errors (a bad name,
 * -o naming a file, PTX that ptxas rejects) 1, I/O errors 2 with the
 * system's reason, internal errors 2. */
static int report(attnc_tools_result r, strbuf *err)
{
    if (r != ATTNC_TOOLS_OK)
        fprintf(stderr, "attnc compile: %s\n", sb_cstr(err));
    return r == ATTNC_TOOLS_OK ? EXIT_OK : r == ATTNC_TOOLS_USER ? EXIT_USER : EXIT_INTERNAL;
}

/* PTX -> DIR/NAME.ptx, DIR/NAME.cubin (ptxas), DIR/NAME.h, DIR/NAME.c. */
static int compile_ptx(const compile_cli *o, const char *ptx, size_t len)
{
    strbuf err, note;
    sb_init(&err);
    sb_init(&note);
    attnc_tools_aot_ptx in = {o->name, o->entry, o->arch, ptx, len, o->signature, o->grid, o->block, o->smem, o->ptx};
    int rc = report(attnc_tools_aot_from_ptx(&in, o->out_dir, &note, &err), &err);
    if (rc == EXIT_OK)
        printf("%s\n", sb_cstr(&note));
    sb_free(&err);
    sb_free(&note);
    return rc;
}

static int from_ptx(const compile_cli *o)
{
    if (!o->entry || !o->signature || !o->grid || !o->block || !o->out_dir) {
        return cli_usage_error("compile", "--from-ptx needs --entry, --signature, --grid, --block and -o");
    }
    size_t len = 0;
    errno = 0;
    char *ptx = read_text(o->ptx, &len);
    if (!ptx) {
        fprintf(stderr, "attnc compile: cannot read '%s': %s\n", o->ptx, errno ? strerror(errno) : "read error");
        return EXIT_USER;
    }
    int rc = compile_ptx(o, ptx, len);
    free(ptx);
    return rc;
}

/* --tuned: the tuning database's best for (recipe, arch, bucket of --shape),
 * its schedule text into *sched. */
static int tuned_schedule(const compile_cli *o, const attnc_tools_recipe *r, const char *arch, strbuf *sched)
{
    strbuf err, note;
    sb_init(&err);
    sb_init(&note);
    attnc_tools_shape shape;
    attnc_tools_tuned rec;
    char bucket[64];
    int rc = EXIT_USER;
    if (!o->shape) {
        cli_usage_error("compile", "--tuned needs --shape (the tuned shape bucket)");
        goto done;
    }
    if (!attnc_tools_tune_shape(r, o->shape, &shape, &err)) {
        cli_usage_error("compile", "%s", sb_cstr(&err));
        goto done;
    }
    attnc_tools_result tr = attnc_tools_tuned_lookup(r, arch, &shape, &rec, bucket, &note, &err);
    if (note.len)
        fprintf(stderr, "attnc compile: %s\n", sb_cstr(&note));
    if (tr != ATTNC_TOOLS_OK) {
        fprintf(stderr, "attnc compile: no tuned schedule for %s on %s in bucket %s%s%s (run attnc tune)\n",
                attnc_tools_recipe_name(r), arch, bucket, err.len ? ": " : "", sb_cstr(&err));
        rc = tr == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
        goto done;
    }
    if (!attnc_tools_schedule_parses(r, rec.schedule, &err)) {
        fprintf(stderr, "attnc compile: the stored schedule '%s' does not parse: %s\n", rec.schedule, sb_cstr(&err));
        goto done;
    }
    printf("tuned schedule: %s (%.2f us in bucket %s)\n", rec.schedule, rec.time_us, bucket);
    sb_puts(sched, rec.schedule);
    rc = EXIT_OK;
done:
    sb_free(&err);
    sb_free(&note);
    return rc;
}

static int compile_recipe(const compile_cli *o, const attnc_tools_recipe *r, attnc_tools_arch arch)
{
    const char *arch_name = arch == ATTNC_TOOLS_SM90A ? "sm_90a" : "sm_80";
    strbuf err, note, sched;
    sb_init(&err);
    sb_init(&note);
    sb_init(&sched);
    int rc = EXIT_OK;
    if (o->schedule && !attnc_tools_schedule_parses(r, o->schedule, &err)) {
        fprintf(stderr, "attnc compile: --schedule: %s\n", sb_cstr(&err));
        rc = EXIT_USER;
    } else if (o->schedule) {
        sb_puts(&sched, o->schedule);
    } else if (o->tuned) {
        rc = tuned_schedule(o, r, arch_name, &sched);
    }
    if (rc == EXIT_OK) {
        const char *sp = o->schedule || o->tuned ? sb_cstr(&sched) : NULL;
        rc = report(attnc_tools_aot_recipe(r, sp, arch, o->name, o->out_dir, o->backward, o->no_grad, &note, &err),
                    &err);
        if (rc == EXIT_OK)
            printf("%s\n", sb_cstr(&note));
    }
    sb_free(&err);
    sb_free(&note);
    sb_free(&sched);
    return rc;
}

static int from_recipe(const compile_cli *o)
{
    if (!o->input || !o->aot || !o->out_dir) {
        return cli_usage_error("compile", "write attnc compile FILE --aot -o DIR");
    }
    attnc_tools_arch arch = ATTNC_TOOLS_SM80;
    if (o->arch && cli_arch("compile", o->arch, false, &arch))
        return EXIT_USER;
    attnc_tools_recipe *r;
    strbuf msg;
    sb_init(&msg);
    attnc_tools_result res = attnc_tools_recipe_read(o->input, &r, &msg);
    int rc = res == ATTNC_TOOLS_OK ? EXIT_OK : res == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
    if (res == ATTNC_TOOLS_UNREADABLE)
        fprintf(stderr, "attnc compile: cannot read '%s': %s\n", o->input, sb_cstr(&msg));
    else if (res == ATTNC_TOOLS_USER)
        fputs(sb_cstr(&msg), stderr);
    sb_free(&msg);
    if (rc == EXIT_OK)
        rc = compile_recipe(o, r, arch);
    attnc_tools_recipe_free(r);
    return rc;
}

static const cli_opt compile_table[] = {
    CLI_FLAG("--aot", compile_cli, aot),
    CLI_STR("-o", compile_cli, out_dir),
    CLI_STR("--arch", compile_cli, arch),
    CLI_STR("--schedule", compile_cli, schedule),
    CLI_FLAG("--tuned", compile_cli, tuned),
    CLI_FLAG("--backward", compile_cli, backward),
    CLI_STR("--no-grad", compile_cli, no_grad),
    CLI_STR("--shape", compile_cli, shape),
    CLI_STR("--name", compile_cli, name),
    CLI_STR("--from-ptx", compile_cli, ptx),
    CLI_STR("--entry", compile_cli, entry),
    CLI_STR("--signature", compile_cli, signature),
    CLI_STR("--grid", compile_cli, grid),
    CLI_STR("--block", compile_cli, block),
    CLI_INT("--smem", compile_cli, smem, 0, 1 << 30),
};

static int run_compile(int argc, char **argv)
{
    compile_cli o = {0};
    const char *inputs[argc > 0 ? argc : 1];
    cli_operands ops = {inputs, 0};
    cli_spec spec = {"compile", compile_table, (int)(sizeof compile_table / sizeof compile_table[0]), "recipe file", 0,
                     1};
    int rc = cli_parse(&spec, argc, argv, &o, &ops);
    if (rc)
        return rc;
    o.input = ops.n ? inputs[0] : NULL;
    if (o.schedule && o.tuned)
        return cli_usage_error("compile", "--schedule and --tuned exclude each other");
    if (o.backward && o.ptx)
        return cli_usage_error("compile", "--backward needs a recipe, not --from-ptx");
    if (o.no_grad && !o.backward)
        return cli_usage_error("compile", "--no-grad goes with --backward (it names params the backward holds constant)");
    return o.ptx ? from_ptx(&o) : from_recipe(&o);
}

const cli_command cmd_compile = {
    "compile",
    "compile a recipe ahead of time (PTX/cubin + C launcher)",
    "usage: attnc compile FILE --aot -o DIR [--arch sm_80|sm_90a] [--schedule SPEC | --tuned --shape S]\n"
    "                     [--name NAME] [--backward [--no-grad P,...]]\n"
    "       attnc compile --from-ptx K.ptx --entry SYM --signature SIG --grid G --block X[,Y,Z]\n"
    "                     [--smem BYTES] [--arch ARCH] [--name NAME] -o DIR\n\n"
    "Writes DIR/NAME.ptx, DIR/NAME.cubin (when ptxas is installed), DIR/NAME.h and\n"
    "DIR/NAME.c. The C files embed the image and define NAME_launch(&args, stream),\n"
    "which loads libcuda with dlopen: a program built from them links neither LLVM\n"
    "nor libattnc. Build them with any C11 compiler (-pthread).\n\n"
    "  --schedule SPEC   e.g. \"q=64 kv=64 stages=2 warps=4\"; default: the recipe's tile section\n"
    "                    (tile auto: the documented default schedule)\n"
    "  --tuned           the tuning database's best for the bucket of --shape\n"
    "                    (e.g. --shape batch=2,heads=16,tokens=4096 or H=64,W=64)\n"
    "  --name NAME       C prefix and file name (default RECIPE_ARCH)\n"
    "  --backward        also the backward program (softmax and linear families): DIR/NAME.bwd.ptx,\n"
    "                    NAME_bwd_args and NAME_backward(&args, workspace, bytes, stream), which\n"
    "                    launches its kernels in order; NAME_backward_workspace_bytes(&args)\n"
    "                    gives the caller-provided workspace's size (docs/runtime.md, AOT)\n"
    "  --no-grad P,...   with --backward: params held constant (no gradient, no grad_P field)\n"
    "  --arch A          sm_80 (default) or sm_90a, or another name attnc ptx --help lists\n"
    "  --signature SIG   kernel parameters in order: NAME:TYPE, ... with TYPE one of\n"
    "                    ptr, ptr? (may be NULL), ptr/ALIGN, i32, i32>=MIN, i64, i64>=MIN, f32, f64\n"
    "  --grid G          three dims, each INT or NAME[*NAME][/INT] (ceiling division)\n\n"
    "For a recipe, NAME_args follows the kernel ABI of codegen/nvptx_kernel.h: q, k, v, o, lse\n"
    "pointers, q_stride[4] ... lse_stride[3] in elements, size[] by size id (batch, heads,\n"
    "kv_heads, tokens, kv_tokens, grid dims, extras), then a field p_NAME per recipe param.\n"
    "exit status: 0 success, 1 bad arguments or input, 2 internal or environment error\n",
    run_compile,
};
