/* tools_tuner.c — `attnc tune`'s session for attnc's tools
 * (include/attnc_tools.h): the ranked candidates, the timed run over
 * autotune_bench.h, and the winner stored in the tuning database. */
#include "runtime/include/attnc_tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/nvptx_kernel.h"
#include "frontend/frontend.h"
#include "runtime/tune/autotune_bench.h"
#include "runtime/cuda/cuda_module.h"
#include "runtime/compile/compile_job.h"
#include "runtime/tools/tools_impl.h"

attnc_status attnc_tools_device_arch(attnc_tools_arch *out, strbuf *err)
{
    target_arch a;
    attnc_status st = cuda_device_arch(&a, err);
    if (!st)
        *out = (attnc_tools_arch)a;
    return st;
}

bool attnc_tools_target_ok(const attnc_tools_recipe *r, attnc_tools_arch arch, strbuf *err)
{
    return frontend_target_ok(tools_recipe_of(r), (target_arch)arch, err);
}

/* Best first by the cost model of tune_rank (docs/runtime.md), the default
 * schedule (what an untuned launch runs) always first. */
static int rank(const recipe *r, target_arch arch, const attnc_tools_shape *sh, const schedule *def, schedule *c,
                int n)
{
    tune_rank_ctx rc = {arch, r->head_dim, dtype_size(r->qkv_dtype), sh->tokens};
    return tune_rank(c, n, def, &rc);
}

/* Where the default numbers a grid's query tiles in slabs (qgroup=: a GNA
 * stride group's tiles together, compile_job.c), every candidate does, in
 * slabs of as many tokens of the first dim: the order is the L2's, not the
 * tile's (H200: HunyuanVideo GNA +1.2-1.9%). */
static void slabs_as_default(schedule *c, int n, const schedule *def)
{
    if (def->ndims < 2 || def->q_group < 2)
        return;
    int tokens = def->q_group * def->q_tile[0];
    for (int i = 0; i < n; i++) {
        int g = tokens / c[i].q_tile[0];
        c[i].q_group = g > 1 ? g : 0;
    }
}

/* The ranked candidates, at most max (0: all); *n their count; NULL when
 * out of memory. */
static schedule *candidates(const recipe *r, target_arch arch, const attnc_tools_shape *sh, int max, int *n)
{
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1, sz = dtype_size(r->qkv_dtype);
    bool linear = r->family == FAMILY_LINEAR;
    *n = schedule_enumerate(nd, arch, r->head_dim, sz, linear, NULL, 0);
    schedule *c = calloc((size_t)*n + 1, sizeof *c);
    if (!c)
        return NULL;
    schedule_enumerate(nd, arch, r->head_dim, sz, linear, c, *n);
    schedule def = compile_default_schedule(r, arch);
    slabs_as_default(c, *n, &def);
    *n = rank(r, arch, sh, &def, c, *n);
    if (max > 0 && *n > max)
        *n = max;
    return c;
}

int attnc_tools_tune_list(const attnc_tools_recipe *tr, attnc_tools_arch arch, const attnc_tools_shape *sh, int max,
                          strbuf *out)
{
    const recipe *r = tools_recipe_of(tr);
    int n;
    schedule *c = candidates(r, (target_arch)arch, sh, max, &n);
    if (!c)
        return -1;
    for (int i = 0; i < n; i++) {
        schedule_print_for(out, &c[i], r->family == FAMILY_LINEAR);
        sb_putc(out, '\n');
    }
    free(c);
    return n;
}

typedef struct relay {
    attnc_tools_progress_fn fn;
    void *user;
} relay;

static void on_progress(void *user, int done, int total, const tuner_result *last)
{
    const relay *p = user;
    p->fn(p->user, done, total, last->status == TUNED_OK, last->median_us, last->text);
}

/* The table, the winner and, unless told not to, the database row. */
static void finish(const attnc_tools_recipe *tr, const attnc_tools_tune_in *in, const tuner_result *res, int n,
                   int best, attnc_tools_tune_out *out)
{
    tuner_format_table(&out->table, res, n, best);
    char hash[33];
    tune_recipe_hash(tr->text, tr->len, hash);
    tune_bucket(out->bucket, sizeof out->bucket, in->shape.batch, in->shape.heads, in->shape.tokens,
                in->shape.kv_tokens, tr->r->head_dim);
    out->best = best;
    if (best >= 0) {
        snprintf(out->best_text, sizeof out->best_text, "%s", res[best].text);
        out->best_us = res[best].median_us;
    }
    if (best < 0 || !in->save)
        return;
    tune_db *db = tune_db_open(NULL, &out->msg);
    if (db && tuner_record(db, hash, in->arch_name, out->bucket, res, n, best, &out->msg))
        sb_puts(&out->saved_to, tune_db_path(db));
    else
        out->save_failed = true;
    tune_db_close(db);
}

attnc_tools_result attnc_tools_tune_run(const attnc_tools_recipe *tr, const attnc_tools_tune_in *in,
                                        attnc_tools_tune_out *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    out->best = -1;
    const recipe *r = tools_recipe_of(tr);
    target_arch arch = (target_arch)in->arch;
    int n;
    schedule *c = candidates(r, arch, &in->shape, in->max, &n);
    tuner_result *res = calloc((size_t)n + 1, sizeof *res);
    attnc_context *ctx = NULL;
    attnc_recipe *rc = NULL;
    tune_bench *bench = NULL;
    attnc_tools_result code = ATTNC_TOOLS_INTERNAL;
    if (!c || !res || attnc_context_create(&ctx, NULL) != ATTNC_OK)
        goto done;
    tune_shape sh;
    memcpy(&sh, &in->shape, sizeof sh);
    strbuf why;
    sb_init(&why);
    attnc_status st = attnc_recipe_from_file(&rc, ctx, in->file);
    if (!st)
        st = tune_bench_create(&bench, ctx, rc, in->backend, arch == TARGET_HOST ? NULL : in->arch_name, &sh, &why);
    if (st) {
        sb_printf(err, "%s: %s", attnc_status_string(st), why.len ? sb_cstr(&why) : attnc_context_errmsg(ctx));
        code = st == ATTNC_ERR_UNSUPPORTED || st == ATTNC_ERR_RECIPE ? ATTNC_TOOLS_USER : ATTNC_TOOLS_INTERNAL;
    }
    sb_free(&why);
    if (st)
        goto done;
    tuner_options opts = {.warmup = in->warmup, .repeats = in->repeats, .budget_s = in->budget_s,
                          .linear = r->family == FAMILY_LINEAR};
    relay p = {in->progress, in->progress_user};
    tuner_hooks h = tune_bench_hooks(bench);
    if (in->progress) {
        h.progress = on_progress;
        h.progress_user = &p;
    }
    finish(tr, in, res, n, tuner_run(c, n, &opts, &h, res), out);
    code = out->best >= 0 && !out->save_failed ? ATTNC_TOOLS_OK : ATTNC_TOOLS_INTERNAL;
done:
    tune_bench_destroy(bench);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    free(c);
    free(res);
    return code;
}

void attnc_tools_tune_out_free(attnc_tools_tune_out *out)
{
    sb_free(&out->table);
    sb_free(&out->saved_to);
    sb_free(&out->msg);
}
