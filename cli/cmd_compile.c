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
#include "cli_recipe.h"
#include "runtime/aot_recipe.h"
#include "runtime/tune_db.h"

typedef struct compile_cli {
    const char *input, *out_dir, *arch, *schedule, *name;
    const char *ptx, *entry, *signature, *grid, *block, *shape;
    int smem;
    bool aot, tuned;
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

static bool parse_block(const char *text, int block[3])
{
    block[0] = block[1] = block[2] = 1;
    int n = sscanf(text, "%d,%d,%d", &block[0], &block[1], &block[2]);
    return n >= 1 && block[0] > 0 && block[1] > 0 && block[2] > 0;
}

/* Prints why AOT output failed; the exit status: user errors (a bad name,
 * -o naming a file, PTX that ptxas rejects) 1, I/O errors 2 with the
 * system's reason, internal errors 2. */
static int report(aot_result r, strbuf *err)
{
    if (r != AOT_OK)
        fprintf(stderr, "attnc compile: %s%s\n", r == AOT_INTERNAL ? "internal error: " : "", sb_cstr(err));
    return r == AOT_OK ? EXIT_OK : r == AOT_USER || r == AOT_PTXAS ? EXIT_USER : EXIT_INTERNAL;
}

/* PTX -> DIR/NAME.ptx, DIR/NAME.cubin (ptxas), DIR/NAME.h, DIR/NAME.c. */
static int compile_ptx(const compile_cli *o, const char *ptx, size_t len)
{
    aot_param params[64];
    char names[4096];
    strbuf err, note;
    sb_init(&err);
    sb_init(&note);
    aot_spec s = {.name = o->name ? o->name : o->entry, .entry = o->entry, .arch = o->arch ? o->arch : "sm_80",
                  .ptx = ptx, .ptx_len = len, .params = params, .dyn_smem = o->smem, .recipe = o->ptx};
    int rc = EXIT_USER;
    s.nparams = aot_parse_signature(o->signature, params, 64, names, sizeof names, &err);
    if (s.nparams < 0 || !aot_parse_grid(o->grid, params, s.nparams, s.grid, &err))
        goto done;
    if (!parse_block(o->block, s.block)) {
        sb_puts(&err, "bad --block (write X[,Y[,Z]] with positive numbers)");
        goto done;
    }
    if (!aot_check_spec(&s, &err))
        goto done;
    rc = report(aot_write_with_cubin(&s, o->out_dir, &note, &err), &err);
    if (rc == EXIT_OK)
        printf("%s\n", sb_cstr(&note));
    sb_clear(&err); /* reported */
done:
    if (err.len)
        fprintf(stderr, "attnc compile: %s\n", sb_cstr(&err));
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

/* --tuned: the tuning database's best for (recipe, arch, bucket of --shape). */
static int tuned_schedule(const compile_cli *o, const cli_recipe *cr, const char *arch, schedule *s)
{
    strbuf err, note;
    sb_init(&err);
    sb_init(&note);
    tune_shape shape;
    char hash[33], bucket[64];
    int rc = EXIT_USER;
    const recipe *r = cr->r;
    if (!o->shape) {
        cli_usage_error("compile", "--tuned needs --shape (the tuned shape bucket)");
        goto done;
    }
    if (cli_tune_shape(cr, "compile", o->shape, &shape))
        goto done;
    tune_recipe_hash(cr->text, cr->len, hash);
    tune_bucket(bucket, sizeof bucket, shape.batch, shape.heads, shape.tokens, shape.kv_tokens, r->head_dim);
    tune_db *db = tune_db_open(NULL, &note);
    tune_record rec;
    tune_result tr = db ? tune_db_lookup(db, hash, arch, bucket, &rec, &err) : TUNE_ERROR;
    tune_db_close(db);
    if (note.len)
        fprintf(stderr, "attnc compile: %s\n", sb_cstr(&note));
    if (tr != TUNE_FOUND) {
        fprintf(stderr, "attnc compile: no tuned schedule for %s on %s in bucket %s%s%s (run attnc tune)\n",
                r->name, arch, bucket, err.len ? ": " : "", sb_cstr(&err));
        rc = tr == TUNE_ERROR ? EXIT_INTERNAL : EXIT_USER;
        goto done;
    }
    if (!schedule_parse(rec.schedule, r->grid_ndim > 0 ? r->grid_ndim : 1, s, &err)) {
        fprintf(stderr, "attnc compile: the stored schedule '%s' does not parse: %s\n", rec.schedule, sb_cstr(&err));
        goto done;
    }
    printf("tuned schedule: %s (%.2f us in bucket %s)\n", rec.schedule, rec.time_us, bucket);
    rc = EXIT_OK;
done:
    sb_free(&err);
    sb_free(&note);
    return rc;
}

static int compile_recipe(const compile_cli *o, const cli_recipe *cr, target_arch arch)
{
    const char *arch_name = arch == TARGET_SM90A ? "sm_90a" : "sm_80";
    schedule s, *sp = NULL;
    strbuf err, note;
    sb_init(&err);
    sb_init(&note);
    int rc = EXIT_OK;
    if (o->schedule && !schedule_parse(o->schedule, cr->r->grid_ndim > 0 ? cr->r->grid_ndim : 1, &s, &err)) {
        fprintf(stderr, "attnc compile: --schedule: %s\n", sb_cstr(&err));
        rc = EXIT_USER;
    } else if (o->tuned) {
        rc = tuned_schedule(o, cr, arch_name, &s);
    }
    if (rc == EXIT_OK && (o->schedule || o->tuned))
        sp = &s;
    if (rc == EXIT_OK) {
        rc = report(aot_compile_recipe(cr->r, sp, arch, o->name, o->out_dir, &note, &err), &err);
        if (rc == EXIT_OK)
            printf("%s\n", sb_cstr(&note));
    }
    sb_free(&err);
    sb_free(&note);
    return rc;
}

static int from_recipe(const compile_cli *o)
{
    target_arch arch;
    if (!o->input || !o->aot || !o->out_dir) {
        return cli_usage_error("compile", "write attnc compile FILE --aot -o DIR");
    }
    attnc_tools_arch ta = ATTNC_TOOLS_SM80;
    if (o->arch && cli_arch("compile", o->arch, false, &ta))
        return EXIT_USER;
    arch = (target_arch)ta;
    arena a;
    arena_init(&a, NULL);
    cli_recipe cr;
    int rc = cli_recipe_load(&a, "compile", o->input, &cr);
    if (rc == EXIT_OK)
        rc = compile_recipe(o, &cr, arch);
    arena_free_all(&a);
    return rc;
}

static const cli_opt compile_table[] = {
    CLI_FLAG("--aot", compile_cli, aot),
    CLI_STR("-o", compile_cli, out_dir),
    CLI_STR("--arch", compile_cli, arch),
    CLI_STR("--schedule", compile_cli, schedule),
    CLI_FLAG("--tuned", compile_cli, tuned),
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
    return o.ptx ? from_ptx(&o) : from_recipe(&o);
}

const cli_command cmd_compile = {
    "compile",
    "compile a recipe ahead of time (PTX/cubin + C launcher)",
    "usage: attnc compile FILE --aot -o DIR [--arch sm_80|sm_90a] [--schedule SPEC | --tuned --shape S]\n"
    "                     [--name NAME]\n"
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
