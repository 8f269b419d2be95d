/* cmd_ptx.c — `attnc ptx FILE --arch sm_80|sm_90a [-o OUT] [--schedule SPEC]`:
 * the PTX of a recipe's GPU kernel, headed by a comment with its launch
 * shape (name, block size, dynamic shared memory, grid). */
#include <stdio.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "cli_arch.h"

typedef struct ptx_opts {
    const char *file, *arch, *out, *schedule;
} ptx_opts;

static const cli_opt ptx_table[] = {
    CLI_STR("--arch", ptx_opts, arch),
    CLI_STR("-o", ptx_opts, out),
    CLI_STR("--schedule", ptx_opts, schedule),
};

static int parse_args(int argc, char **argv, ptx_opts *o)
{
    *o = (ptx_opts){.arch = "sm_80"};
    const char *files[argc > 0 ? argc : 1];
    cli_operands ops = {files, 0};
    cli_spec spec = {"ptx", ptx_table, (int)(sizeof ptx_table / sizeof ptx_table[0]), "recipe file", 1, 1};
    int rc = cli_parse(&spec, argc, argv, o, &ops);
    o->file = rc ? NULL : files[0];
    return rc;
}

static int write_ptx(const ptx_opts *o, attnc_tools_arch arch, const attnc_tools_ptx_out *g)
{
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f) {
        perror(o->out);
        return EXIT_USER;
    }
    fprintf(f,
            "// attnc: kernel %s for %s; block %d threads; dynamic shared memory %d bytes;\n"
            "// grid (query tiles, heads, batch); query tile",
            g->name, attnc_tools_arch_name(arch), g->threads, g->smem_bytes);
    for (int d = 0; d < g->ndims; d++)
        fprintf(f, "%s%d", d ? "x" : " ", g->q_tile[d]);
    fprintf(f, "\n");
    fputs(g->ptx.data ? g->ptx.data : "", f);
    int rc = ferror(f) ? EXIT_INTERNAL : EXIT_OK;
    if (o->out && fclose(f) != 0)
        rc = EXIT_INTERNAL;
    if (rc)
        fprintf(stderr, "attnc ptx: cannot write %s\n", o->out ? o->out : "stdout");
    return rc;
}

/* The recipe, with its diagnostics on stderr when it has errors. */
static attnc_tools_recipe *read_recipe(const char *path, int *rc)
{
    attnc_tools_recipe *r;
    strbuf msg;
    sb_init(&msg);
    attnc_tools_result res = attnc_tools_recipe_read(path, &r, &msg);
    if (res == ATTNC_TOOLS_UNREADABLE)
        fprintf(stderr, "attnc ptx: %s: %s\n", path, sb_cstr(&msg));
    else if (res == ATTNC_TOOLS_USER)
        fputs(sb_cstr(&msg), stderr);
    *rc = res == ATTNC_TOOLS_OK ? EXIT_OK : res == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
    sb_free(&msg);
    return r;
}

static int run_ptx(int argc, char **argv)
{
    ptx_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    attnc_tools_arch arch;
    if (cli_arch("ptx", o.arch, false, &arch))
        return EXIT_USER;
    attnc_tools_recipe *r = read_recipe(o.file, &rc);
    if (!r)
        return rc;
    attnc_tools_ptx_out g;
    strbuf err;
    sb_init(&err);
    attnc_tools_result res = attnc_tools_ptx(r, arch, o.schedule, &g, &err);
    if (res) {
        fprintf(stderr, "attnc ptx: %s\n", sb_cstr(&err));
        rc = res == ATTNC_TOOLS_USER ? EXIT_USER : EXIT_INTERNAL;
    } else {
        rc = write_ptx(&o, arch, &g);
    }
    sb_free(&err);
    sb_free(&g.ptx);
    attnc_tools_recipe_free(r);
    return rc;
}

const cli_command cmd_ptx = {
    "ptx",
    "emit PTX for a recipe",
    "usage: attnc ptx FILE [--arch sm_80|sm_90a] [-o OUT] [--schedule SPEC]\n\n"
    "Compiles FILE's GPU kernel and writes its PTX (default: stdout). The first\n"
    "lines are a comment with the launch shape: block size, dynamic shared memory,\n"
    "grid (query tiles, heads, batch). --arch defaults to sm_80 (runs on any GPU\n"
    "from Ampere on); sm_90a targets Hopper. --schedule overrides the recipe's\n"
    "`tile` section, e.g. \"q=128 kv=64 stages=2 warps=8\".\n\n"
    "  --arch A   sm_80 or sm_90a; also sm_86, sm_87, sm_89, sm_100, sm_120 (sm_80 code)\n"
    "             and sm_90 (sm_90a code), with a note on stderr. f32 recipes run on the\n"
    "             CPU only (docs/recipe-language.md 3.2).\n""\n"
    "exit status: 0 written, 1 bad recipe or arguments, 2 not supported or internal error\n",
    run_ptx,
};
