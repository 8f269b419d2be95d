/* host_backend.c — the CPU backend's row of the backend table
 * (api_backend.h): the forward kernel is one host function JIT-compiled
 * from the tile IR (codegen/host_codegen.h), launched over a pool of
 * threads (host_launch.c); the backward program is api_backward.c's. */
#include <string.h>

#include "codegen/host_codegen.h"
#include "runtime/api/api_backend.h"

static attnc_status build(attnc_kernel *k, const attnc_build_options *o, kernel_lower_fn lower, strbuf *err)
{
    (void)o;
    if (!lower) {
        sb_puts(err, "the tile IR lowering is not part of this build");
        return ATTNC_ERR_UNSUPPORTED;
    }
    tir_kernel *tk = lower(&k->arena, k->r, &k->sched, TARGET_HOST, err);
    if (!tk)
        return k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    if (memcmp(&tk->sched, &k->sched, sizeof k->sched)) { /* the passes may refine it: report what runs */
        k->sched = tk->sched;
        kernel_set_schedule_text(k);
    }
    if (!host_codegen_build(&k->arena, tk, 2, &k->host, err))
        return k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    return ATTNC_OK;
}

static attnc_status build_backward(attnc_kernel *k, const attnc_build_options *o, strbuf *err)
{
    (void)o;
    return bwd_build_host(k, err);
}

static attnc_status launch(attnc_kernel *k, const launch_problem *p, void *stream)
{
    (void)stream; /* the CPU launch returns when done */
    return launch_host(k, p);
}

static attnc_status launch_bwd(attnc_kernel *k, const attnc_args *a, void *stream)
{
    (void)stream;
    return launch_backward(k, a);
}

/* The JIT and the backward's state are released by attnc_kernel_destroy
 * for every kernel (host_kernel_release, bwd_kernel_free). */
static target_arch host_arch(const attnc_build_options *o)
{
    (void)o;
    return TARGET_HOST;
}

const backend_ops host_backend_ops = {ATTNC_BACKEND_CPU, "cpu", build, build_backward, launch, launch_bwd, NULL,
                                      host_arch, NULL}; /* varlen sequences in turn */
