/* gpu_compile.c — see gpu_compile.h. */
#include "gpu_compile.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_arch.h"
#include "commands.h"
#include "frontend/frontend.h"
#include "passes/pipeline.h"
#include "runtime/cuda/cuda_module.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int pick_arch(gpu_compiled *g, const char *cmd, const char *arch)
{
    if (arch) {
        attnc_tools_arch ta = ATTNC_TOOLS_SM80;
        int rc = cli_arch(cmd, arch, false, &ta);
        g->arch = (target_arch)ta;
        return rc;
    }
    strbuf err;
    sb_init(&err);
    attnc_status st = cuda_device_arch(&g->arch, &err);
    if (st == ATTNC_ERR_NO_DRIVER)
        fprintf(stderr, "skipped: no CUDA driver (%s)\n", sb_cstr(&err));
    else if (st)
        fprintf(stderr, "attnc %s: %s\n", cmd, sb_cstr(&err));
    sb_free(&err);
    return st ? EXIT_INTERNAL : EXIT_OK;
}

static int parse_recipe(gpu_compiled *g, const char *cmd, const char *path)
{
    double t0 = now_ms();
    size_t len;
    const char *why = NULL;
    char *text = frontend_read_file(&g->a, path, &len, &why);
    if (!text) {
        fprintf(stderr, "attnc %s: %s: %s\n", cmd, path, why ? why : "cannot read");
        return EXIT_USER;
    }
    double t1 = now_ms();
    diag_list diags;
    diag_list_init(&diags, &g->a, path, text, len);
    g->r = frontend_parse(&g->a, path, text, len, &diags);
    g->read_ms = t1 - t0;
    g->parse_ms = now_ms() - t1;
    if (g->r)
        return EXIT_OK;
    strbuf out;
    sb_init(&out);
    diag_render(&diags, &out);
    fputs(sb_cstr(&out), stderr);
    sb_free(&out);
    return EXIT_USER;
}

static int lower(gpu_compiled *g, const char *cmd, const char *sched_spec)
{
    strbuf err;
    sb_init(&err);
    schedule s;
    int nd = g->r->grid_ndim > 0 ? g->r->grid_ndim : 1;
    if (sched_spec && !schedule_parse(sched_spec, nd, &s, &err)) {
        fprintf(stderr, "attnc %s: --schedule: %s\n", cmd, sb_cstr(&err));
        sb_free(&err);
        return EXIT_USER;
    }
    if (!frontend_target_ok(g->r, g->arch, &err)) {
        fprintf(stderr, "attnc %s: %s\n", cmd, sb_cstr(&err));
        sb_free(&err);
        return EXIT_USER;
    }
    if (!sched_spec || s.is_auto)
        s = nvptx_default_schedule(g->r, g->arch);
    double t0 = now_ms();
    g->k = lower_recipe(&g->a, g->r, &s, g->arch, &err);
    g->lower_ms = now_ms() - t0;
    int rc = EXIT_OK;
    if (!g->k) {
        bool user = strstr(sb_cstr(&err), "schedule") != NULL;
        fprintf(stderr, "attnc %s: %s\n", cmd, sb_cstr(&err));
        rc = user ? EXIT_USER : EXIT_INTERNAL;
    }
    sb_free(&err);
    return rc;
}

static int codegen(gpu_compiled *g, const char *cmd)
{
    strbuf err;
    sb_init(&err);
    double t0 = now_ms();
    nvptx_status st = nvptx_emit_kernel(g->k, g->r, g->arch, &g->info, &g->ptx, &err);
    g->codegen_ms = now_ms() - t0;
    if (st)
        fprintf(stderr, "attnc %s: %s%s\n", cmd, st == NVPTX_UNSUPPORTED ? "not supported: " : "", sb_cstr(&err));
    sb_free(&err);
    return st ? EXIT_INTERNAL : EXIT_OK;
}

int gpu_compile_file(gpu_compiled *g, const char *cmd, const char *path, const char *arch, const char *sched_spec)
{
    memset(g, 0, sizeof *g);
    arena_init(&g->a, NULL);
    sb_init(&g->ptx);
    int rc = pick_arch(g, cmd, arch);
    if (!rc)
        rc = parse_recipe(g, cmd, path);
    if (!rc)
        rc = lower(g, cmd, sched_spec);
    if (!rc)
        rc = codegen(g, cmd);
    return rc;
}

void gpu_compiled_free(gpu_compiled *g)
{
    sb_free(&g->ptx);
    arena_free_all(&g->a);
}
