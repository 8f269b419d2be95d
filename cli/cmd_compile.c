/* cmd_compile.c — `attnc compile`: ahead-of-time output (PTX, cubin when
 * ptxas is present, and a C header + source with a typed launcher).
 *
 * Two inputs: a recipe (needs the NVPTX code generator) or, with
 * --from-ptx, a PTX file plus its launch signature — the path the examples
 * and the AOT tests use, and a way to package hand-written kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "runtime/aot.h"

typedef struct compile_cli {
    const char *input, *out_dir, *arch, *schedule, *name;
    const char *ptx, *entry, *signature, *grid, *block;
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

static bool write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    return (f && fclose(f) == 0) && ok;
}

static bool parse_block(const char *text, int block[3])
{
    block[0] = block[1] = block[2] = 1;
    int n = sscanf(text, "%d,%d,%d", &block[0], &block[1], &block[2]);
    return n >= 1 && block[0] > 0 && block[1] > 0 && block[2] > 0;
}

/* PTX -> DIR/NAME.ptx, DIR/NAME.cubin (ptxas), DIR/NAME.h, DIR/NAME.c. */
static int compile_ptx(const compile_cli *o, const char *ptx, size_t len)
{
    aot_param params[64];
    char names[4096], path[4200];
    strbuf err, log;
    sb_init(&err);
    sb_init(&log);
    aot_spec s = {.name = o->name ? o->name : o->entry, .entry = o->entry, .arch = o->arch ? o->arch : "sm_80",
                  .ptx = ptx, .ptx_len = len, .params = params, .dyn_smem = o->smem, .recipe = o->ptx};
    int rc = EXIT_USER;
    s.nparams = aot_parse_signature(o->signature, params, 64, names, sizeof names, &err);
    if (s.nparams < 0 || !aot_parse_grid(o->grid, params, s.nparams, s.grid, &err) || !parse_block(o->block, s.block))
        goto done;
    if (!aot_check_spec(&s, &err))
        goto done;
    rc = EXIT_INTERNAL;
    unsigned char *cubin = NULL;
    if (!aot_generate(&s, o->out_dir, &err)) /* also creates the folder */
        goto done;
    snprintf(path, sizeof path, "%s/%s.ptx", o->out_dir, s.name);
    if (!write_bytes(path, ptx, len)) {
        sb_printf(&err, "cannot write '%s'", path);
        goto done;
    }
    char cubin_path[4200];
    snprintf(cubin_path, sizeof cubin_path, "%s/%s.cubin", o->out_dir, s.name);
    int r = aot_run_ptxas(path, s.arch, cubin_path, &log);
    if (r < 0) {
        sb_printf(&err, "ptxas failed:\n%s", sb_cstr(&log));
        goto done;
    }
    size_t clen = 0;
    if (r == 1 && (cubin = (unsigned char *)read_text(cubin_path, &clen))) {
        s.cubin = cubin;
        s.cubin_len = clen;
        if (!aot_generate(&s, o->out_dir, &err)) {
            free(cubin);
            goto done;
        }
    }
    free(cubin);
    printf("wrote %s/%s.h, %s/%s.c, %s/%s.ptx%s\n", o->out_dir, s.name, o->out_dir, s.name, o->out_dir, s.name,
           r == 1 ? " and the cubin (embedded)" : " (no ptxas: PTX only, JIT-compiled by the driver)");
    rc = EXIT_OK;
done:
    if (rc != EXIT_OK)
        fprintf(stderr, "attnc compile: %s\n", err.len ? sb_cstr(&err) : "bad --block (write X[,Y[,Z]])");
    sb_free(&err);
    sb_free(&log);
    return rc;
}

static int from_ptx(const compile_cli *o)
{
    if (!o->entry || !o->signature || !o->grid || !o->block || !o->out_dir) {
        fprintf(stderr, "attnc compile: --from-ptx needs --entry, --signature, --grid, --block and -o\n");
        return EXIT_USER;
    }
    size_t len = 0;
    char *ptx = read_text(o->ptx, &len);
    if (!ptx) {
        fprintf(stderr, "attnc compile: cannot read '%s'\n", o->ptx);
        return EXIT_USER;
    }
    int rc = compile_ptx(o, ptx, len);
    free(ptx);
    return rc;
}

static int from_recipe(const compile_cli *o)
{
    if (!o->input || !o->aot || !o->out_dir) {
        fprintf(stderr, "attnc compile: write attnc compile FILE --aot -o DIR (see --help)\n");
        return EXIT_USER;
    }
    FILE *f = fopen(o->input, "rb");
    if (!f) {
        fprintf(stderr, "attnc compile: cannot read '%s'\n", o->input);
        return EXIT_USER;
    }
    fclose(f);
    fprintf(stderr, "attnc compile: compiling a recipe ahead of time needs the NVPTX code generator, which is not in "
                    "this build yet (--from-ptx packages an existing PTX file)\n");
    return EXIT_INTERNAL;
}

static bool take(int argc, char **argv, int *i, const char *flag, const char **dst)
{
    if (strcmp(argv[*i], flag) || *i + 1 >= argc)
        return false;
    *dst = argv[++*i];
    return true;
}

static int run_compile(int argc, char **argv)
{
    compile_cli o = {0};
    const char *smem = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--aot"))
            o.aot = true;
        else if (!strcmp(argv[i], "--tuned"))
            o.tuned = true;
        else if (take(argc, argv, &i, "-o", &o.out_dir) || take(argc, argv, &i, "--arch", &o.arch) ||
                 take(argc, argv, &i, "--schedule", &o.schedule) || take(argc, argv, &i, "--name", &o.name) ||
                 take(argc, argv, &i, "--from-ptx", &o.ptx) || take(argc, argv, &i, "--entry", &o.entry) ||
                 take(argc, argv, &i, "--signature", &o.signature) || take(argc, argv, &i, "--grid", &o.grid) ||
                 take(argc, argv, &i, "--block", &o.block) || take(argc, argv, &i, "--smem", &smem))
            ;
        else if (!o.input && argv[i][0] != '-')
            o.input = argv[i];
        else {
            fprintf(stderr, "attnc compile: unexpected argument '%s' (see attnc compile --help)\n", argv[i]);
            return EXIT_USER;
        }
    }
    if (o.schedule && o.tuned) {
        fprintf(stderr, "attnc compile: --schedule and --tuned exclude each other\n");
        return EXIT_USER;
    }
    o.smem = smem ? atoi(smem) : 0;
    return o.ptx ? from_ptx(&o) : from_recipe(&o);
}

const cli_command cmd_compile = {
    "compile",
    "compile a recipe ahead of time (PTX/cubin + C launcher)",
    "usage: attnc compile FILE --aot -o DIR [--arch sm_80|sm_90a] [--schedule SPEC | --tuned] [--name NAME]\n"
    "       attnc compile --from-ptx K.ptx --entry SYM --signature SIG --grid G --block X[,Y,Z]\n"
    "                     [--smem BYTES] [--arch ARCH] [--name NAME] -o DIR\n\n"
    "Writes DIR/NAME.ptx, DIR/NAME.cubin (when ptxas is installed), DIR/NAME.h and\n"
    "DIR/NAME.c. The C files embed the image and define NAME_launch(&args, stream),\n"
    "which loads libcuda with dlopen: a program built from them links neither LLVM\n"
    "nor libattnc. Build them with any C11 compiler (-pthread).\n\n"
    "  --schedule SPEC   e.g. \"q=64 kv=64 stages=2 warps=4\"; --tuned: the tuning database's choice\n"
    "  --signature SIG   kernel parameters in order: NAME:TYPE, ... with TYPE one of\n"
    "                    ptr, ptr? (may be NULL), ptr/ALIGN, i32, i32>=MIN, i64, i64>=MIN, f32, f64\n"
    "  --grid G          three dims, each INT or NAME[*NAME][/INT] (ceiling division)\n\n"
    "Recipes need the NVPTX code generator; until it is in the build, FILE mode exits 2.\n"
    "exit status: 0 success, 1 bad arguments or input, 2 internal or environment error\n",
    run_compile,
};
