/* api_tuned.c — `tile auto` launches use the tuning database.
 *
 * A kernel is built before any shape is known, so the tuned choice is made
 * at launch: the launch shape's bucket (tune_bucket) is looked up in the
 * context's tuning database (opened once, lazily, under ctx->lock); when
 * the stored schedule differs from the one the kernel was built with, a
 * variant is built once through the ordinary build path (and so through the
 * kernel cache) and kept in the kernel's per-bucket table (k->tune_lock).
 * Every problem — no database, no record, a damaged or illegal record, a
 * variant that fails to build — means "launch the default", never an error;
 * the reason is left as a note in the kernel's message. Each bucket is
 * decided on its first launch and remembered for the kernel's lifetime (at
 * most TUNED_SLOTS buckets per kernel; launches of further buckets use the
 * default). */
#include <stdio.h>
#include <string.h>

#include "runtime/api/api_backend.h"
#include "runtime/compile/compile_job.h"
#include "runtime/tune/tune_db.h"

/* The context's database, opened on first use; NULL when it cannot be
 * opened. Call with ctx->lock held. */
static tune_db *ctx_tune_db(attnc_context *ctx)
{
    if (ctx->tune_tried)
        return ctx->tune;
    ctx->tune_tried = true;
    strbuf note;
    sb_init(&note);
    ctx->tune = tune_db_open(NULL, &note);
    snprintf(ctx->tune_note, sizeof ctx->tune_note, "%s", note.failed ? "" : sb_cstr(&note));
    sb_free(&note);
    return ctx->tune;
}

void ctx_tune_close(attnc_context *ctx)
{
    tune_db_close(ctx->tune);
    ctx->tune = NULL;
    ctx->tune_tried = false;
}

/* The tuned schedule for p's bucket (TUNE_FOUND) or why not. */
static tune_result pick(attnc_kernel *k, const launch_problem *p, schedule *out, strbuf *msg)
{
    const recipe *r = k->r;
    tune_shape sh = {.batch = p->sizes[SZ_BATCH],
                     .heads = p->sizes[SZ_HEADS],
                     .tokens = p->sizes[SZ_TOKENS],
                     .kv_tokens = p->sizes[SZ_KV_TOKENS],
                     .kv_heads = p->sizes[SZ_KV_HEADS]};
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    attnc_context *ctx = k->ctx;
    pthread_mutex_lock(&ctx->lock);
    tune_db *db = ctx_tune_db(ctx);
    if (ctx->tune_note[0]) { /* reported once, by the first launch that opened it */
        sb_printf(msg, "tuning database: %s; ", ctx->tune_note);
        ctx->tune_note[0] = 0;
    }
    tune_result res = db ? tune_db_pick_schedule(db, k->recipe_hash, k->arch, &sh, nd, r->head_dim,
                                                 dtype_size(r->qkv_dtype), r->family == FAMILY_LINEAR, out, msg)
                         : TUNE_NOT_FOUND;
    pthread_mutex_unlock(&ctx->lock);
    return res;
}

/* A variant already built for the same schedule (two buckets may share). */
static attnc_kernel *existing_variant(const attnc_kernel *k, const char *text)
{
    for (int i = 0; i < k->ntuned; i++)
        if (k->tuned[i].variant && !strcmp(k->tuned[i].sched_text, text))
            return k->tuned[i].variant;
    return NULL;
}

/* Builds k again under `text`; NULL (with a note on k) when that fails. */
static attnc_kernel *build_variant(attnc_kernel *k, const char *text, const char *bucket)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = k->backend;
    o.schedule = text;
    o.arch = k->backend == ATTNC_BACKEND_CUDA ? (k->arch == TARGET_SM90A ? "sm_90a" : "sm_80") : NULL;
    attnc_kernel *v = NULL;
    attnc_status st = kernel_build_hashed(&v, k->ctx, k->r, k->recipe_hash, &o, k->lower);
    if (st)
        snprintf(k->errmsg, sizeof k->errmsg,
                 "tuned schedule '%s' for bucket %s did not build (%s: %.2000s); using the default '%s'", text, bucket,
                 attnc_status_string(st), attnc_context_errmsg(k->ctx), k->sched_text);
    if (!st) /* built under the text as an explicit schedule; it is the tuning database's pick */
        v->sched_source = (int)SCHED_FROM_TUNED;
    return st ? NULL : v;
}

/* The decision for a bucket not seen before: a variant, or NULL (k). */
static attnc_kernel *decide(attnc_kernel *k, const launch_problem *p, const char *bucket, tuned_slot *slot)
{
    schedule s;
    strbuf msg, text;
    sb_init(&msg);
    sb_init(&text);
    tune_result res = pick(k, p, &s, &msg);
    attnc_kernel *v = NULL;
    if (res == TUNE_FOUND) {
        schedule_print_for(&text, &s, k->r->family == FAMILY_LINEAR); /* as k->sched_text */
        snprintf(slot->sched_text, sizeof slot->sched_text, "%s", text.failed ? "" : sb_cstr(&text));
        if (slot->sched_text[0] && strcmp(slot->sched_text, k->sched_text)) {
            v = existing_variant(k, slot->sched_text);
            if (!v)
                v = build_variant(k, slot->sched_text, bucket);
        }
    } else if (res == TUNE_CORRUPT || res == TUNE_ERROR) {
        snprintf(k->errmsg, sizeof k->errmsg, "tuning record for bucket %s unusable (%.4000s); using the default '%s'",
                 bucket, msg.failed ? "out of memory" : sb_cstr(&msg), k->sched_text);
    }
    if (res != TUNE_CORRUPT && res != TUNE_ERROR && msg.len && !k->errmsg[0]) /* e.g. the database was moved aside */
        snprintf(k->errmsg, sizeof k->errmsg, "%.4000s", sb_cstr(&msg));
    sb_free(&msg);
    sb_free(&text);
    return v;
}

static void bucket_of(const attnc_kernel *k, const launch_problem *p, char *out, size_t cap)
{
    tune_bucket(out, cap, p->sizes[SZ_BATCH], p->sizes[SZ_HEADS], p->sizes[SZ_TOKENS], p->sizes[SZ_KV_TOKENS],
                k->r->head_dim);
}

attnc_kernel *kernel_for_launch(attnc_kernel *k, const launch_problem *p)
{
    if (!k->tuned_auto)
        return k;
    char bucket[64];
    bucket_of(k, p, bucket, sizeof bucket);
    pthread_mutex_lock(&k->tune_lock);
    attnc_kernel *v = NULL;
    int i = 0;
    while (i < k->ntuned && strcmp(k->tuned[i].bucket, bucket))
        i++;
    if (i < k->ntuned) {
        v = k->tuned[i].variant;
    } else if (k->ntuned < TUNED_SLOTS) { /* past TUNED_SLOTS buckets: the default */
        tuned_slot *slot = &k->tuned[k->ntuned];
        *slot = (tuned_slot){{0}, {0}, NULL};
        snprintf(slot->bucket, sizeof slot->bucket, "%s", bucket);
        v = slot->variant = decide(k, p, bucket, slot);
        k->ntuned++;
    }
    pthread_mutex_unlock(&k->tune_lock);
    return v ? v : k;
}

void kernel_tuned_free(attnc_kernel *k)
{
    for (int i = 0; i < k->ntuned; i++) {
        attnc_kernel *v = k->tuned[i].variant;
        if (!v)
            continue;
        for (int j = i; j < k->ntuned; j++) /* shared by several buckets: destroy once */
            if (k->tuned[j].variant == v)
                k->tuned[j].variant = NULL;
        attnc_kernel_destroy(v);
    }
    k->ntuned = 0;
}
