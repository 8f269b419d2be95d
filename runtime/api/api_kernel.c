/* api_kernel.c — attnc_kernel_build: copy the recipe, resolve the schedule,
 * lower to tile IR and compile for the chosen backend (backward programs:
 * api_backward.c's part of the build). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/lower_backward.h"
#include "passes/pipeline.h"
#include "runtime/api/api_backend.h"
#include "runtime/compile/compile_job.h"
#include "runtime/host/block_table.h"
#include "runtime/program/program.h"

void kernel_set_schedule_text(attnc_kernel *k)
{
    strbuf sb;
    sb_init(&sb);
    schedule_print_for(&sb, &k->sched, k->r->family == FAMILY_LINEAR);
    snprintf(k->sched_text, sizeof k->sched_text, "%s", sb_cstr(&sb));
    sb_free(&sb);
}

/* The schedule, resolved once by the compile job's schedule step for the
 * arch the backend will build for (the CUDA backend's lowering and code
 * generation then take it as is). */
static attnc_status resolve_schedule(attnc_kernel *k, const backend_ops *b, const attnc_build_options *o, strbuf *err)
{
    k->arch = b->schedule_arch(o);
    compile_job j;
    compile_job_init(&j, k->r, k->arch);
    j.schedule_text = o->schedule;
    attnc_status st = compile_job_attnc_status(compile_job_schedule(&j));
    if (st) {
        sb_puts(err, sb_cstr(&j.err));
    } else {
        k->sched = j.sched;
        k->sched_source = (int)j.source;
        kernel_set_schedule_text(k);
    }
    compile_job_free(&j);
    return st;
}

static attnc_status build_backend(attnc_kernel *k, const attnc_build_options *o, kernel_lower_fn lower, bool backward,
                                  strbuf *err)
{
    if (o->backend == ATTNC_BACKEND_CUDA && !frontend_target_ok(k->r, TARGET_SM80, err))
        return ATTNC_ERR_UNSUPPORTED; /* f32 q/k/v: the CPU backend only (before any schedule check) */
    const backend_ops *b = backend_find(o->backend);
    if (!b) {
        sb_printf(err, "unknown backend %d", (int)o->backend);
        return ATTNC_ERR_INVALID_ARGUMENT;
    }
    attnc_status st = resolve_schedule(k, b, o, err);
    if (st)
        return st;
    return backward ? b->build_backward(k, o, err) : b->build(k, o, lower, err);
}

static attnc_status check_build_args(attnc_context *ctx, attnc_kernel **out, const recipe *r,
                                     const attnc_build_options *o)
{
    if (!out || !r)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_kernel_build: %s is NULL", !out ? "out" : "recipe");
    if (o && (o->version < 1 || o->version > ATTNC_BUILD_OPTIONS_VERSION))
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT,
                         "attnc_kernel_build: options version %d (this library knows 1..%d; use ATTNC_BUILD_OPTIONS_INIT)",
                         o->version, ATTNC_BUILD_OPTIONS_VERSION);
    unsigned known = ATTNC_BUILD_DETERMINISTIC | ATTNC_BUILD_GLOBAL_COORDS;
    if (o && o->version >= 2 && (o->flags & ~known))
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_kernel_build: unknown build flags 0x%x (known: "
                         "ATTNC_BUILD_DETERMINISTIC, ATTNC_BUILD_GLOBAL_COORDS)", o->flags & ~known);
    if (o && o->backend != ATTNC_BACKEND_CPU && o->backend != ATTNC_BACKEND_CUDA)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_kernel_build: unknown backend %d", (int)o->backend);
    return ATTNC_OK;
}

attnc_status attnc_kernel_build(attnc_kernel **out, attnc_context *ctx, const attnc_recipe *r,
                                const attnc_build_options *options)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (r && r->ctx != ctx)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_kernel_build: the recipe belongs to another context");
    return kernel_build_hashed(out, ctx, r ? r->r : NULL, r ? r->text_hash : NULL, options, lower_recipe);
}

attnc_status kernel_build_with(attnc_kernel **out, attnc_context *ctx, const recipe *r,
                               const attnc_build_options *options, kernel_lower_fn lower)
{
    return kernel_build_hashed(out, ctx, r, NULL, options, lower);
}

/* ATTNC_NO_TUNED=1 (any value but "" and "0"): `tile auto` kernels ignore
 * the tuning database. Read when a kernel is built. */
static bool tuned_disabled(void)
{
    const char *e = getenv("ATTNC_NO_TUNED");
    return e && e[0] && strcmp(e, "0");
}

attnc_status kernel_build_hashed(attnc_kernel **out, attnc_context *ctx, const recipe *r, const char *recipe_hash,
                                 const attnc_build_options *options, kernel_lower_fn lower)
{
    return kernel_build_kind(out, ctx, r, recipe_hash, options, lower, false);
}

/* The caller's options, read only as far as their version has fields. */
static attnc_build_options options_of(const attnc_build_options *options)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    if (!options)
        return o;
    size_t n = options->version >= 3   ? sizeof o
               : options->version >= 2 ? offsetof(attnc_build_options, no_grad)
                                       : offsetof(attnc_build_options, flags);
    memcpy(&o, options, n);
    o.version = ATTNC_BUILD_OPTIONS_VERSION;
    return o;
}

attnc_status kernel_options_read(attnc_context *ctx, const attnc_build_options *in, attnc_build_options *out)
{
    if (in && (in->version < 1 || in->version > ATTNC_BUILD_OPTIONS_VERSION))
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "build options version %d (this library knows 1..%d; use "
                         "ATTNC_BUILD_OPTIONS_INIT)", in->version, ATTNC_BUILD_OPTIONS_VERSION);
    *out = options_of(in);
    return ATTNC_OK;
}

attnc_status kernel_build_kind(attnc_kernel **out, attnc_context *ctx, const recipe *r, const char *recipe_hash,
                               const attnc_build_options *options, kernel_lower_fn lower, bool backward)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    ctx_clear_error(ctx);
    attnc_status st = check_build_args(ctx, out, r, options);
    if (st)
        return st;
    attnc_build_options o = options_of(options);
    attnc_kernel *k = ctx_calloc(ctx, sizeof *k);
    if (!k)
        return ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory creating a kernel");
    k->ctx = ctx;
    k->backend = o.backend;
    k->lower = lower;
    k->flags = o.flags;
    pthread_mutex_init(&k->tune_lock, NULL);
    if (recipe_hash)
        snprintf(k->recipe_hash, sizeof k->recipe_hash, "%s", recipe_hash);
    arena_init(&k->arena, &ctx->heap);
    strbuf err;
    sb_init(&err);
    k->r = kernel_recipe_copy(&k->arena, r);
    st = k->r ? ATTNC_OK : ATTNC_ERR_NOMEM;
    if (!st && !backward_mark_no_grad(k->r, o.no_grad, &err))
        st = ATTNC_ERR_INVALID_ARGUMENT;
    if (!st && (o.flags & ATTNC_BUILD_GLOBAL_COORDS))
        st = backward ? (sb_puts(&err, "global coordinates are for forward kernels"), ATTNC_ERR_UNSUPPORTED)
                      : recipe_globalize(&k->arena, k->r, &err);
    if (!st)
        st = build_backend(k, &o, lower, backward, &err);
    if (st == ATTNC_ERR_NOMEM || (st && k->arena.failed))
        st = ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory building kernel '%s'", r->name);
    else if (st && k->errmsg[0])
        memcpy(ctx->errmsg, k->errmsg, sizeof ctx->errmsg);
    else if (st)
        ctx_error(ctx, st, "%s%s", st == ATTNC_ERR_INTERNAL ? "internal error (please report it with the recipe): " : "",
                  err.failed ? "out of memory" : sb_cstr(&err));
    sb_free(&err);
    if (st) {
        attnc_kernel_destroy(k);
        return st;
    }
    k->tuned_auto = !backward && !o.schedule && r->sched.is_auto && k->recipe_hash[0] && !tuned_disabled();
    *out = k;
    return ATTNC_OK;
}

void attnc_kernel_destroy(attnc_kernel *k)
{
    if (!k)
        return;
    kernel_tuned_free(k);
    pthread_mutex_destroy(&k->tune_lock);
    const backend_ops *b = backend_find(k->backend);
    if (b && b->destroy)
        b->destroy(k);
    host_kernel_release(&k->host);
    bwd_kernel_free(k);
    block_table_cache_free(k);
    attnc_context *ctx = k->ctx;
    arena_free_all(&k->arena);
    ctx_free(ctx, k);
}

const char *attnc_kernel_schedule(const attnc_kernel *k)
{
    return k ? k->sched_text : "";
}

const char *attnc_kernel_last_schedule(const attnc_kernel *k)
{
    return !k ? "" : k->last_sched[0] ? k->last_sched : k->sched_text;
}
