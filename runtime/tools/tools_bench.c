/* tools_bench.c — what `attnc bench` needs of the internals
 * (include/attnc_tools.h): the recipe's sizes and params as plain data, the
 * tuning database's pick, and the cold compile (recipe file to a loaded
 * module, each stage timed) whose kernel schedule the pair count reads. */
#include "runtime/include/attnc_tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/frontend.h"
#include "runtime/cuda/cuda_module.h"
#include "runtime/tools/tools_impl.h"
#include "runtime/tools/tools_pairs.h"
#include "runtime/tune/tune_db.h"

_Static_assert((int)ATTNC_TOOLS_SZ_GRID0 == (int)SZ_GRID0 && (int)ATTNC_TOOLS_SZ_EXTRA0 == (int)SZ_EXTRA0 &&
                   (int)ATTNC_TOOLS_SZ_MAX == (int)SZ_MAX,
               "attnc_tools.h size slots follow size_id");
_Static_assert((int)ATTNC_TOOLS_MAX_PARAMS == (int)NVPTX_MAX_PARAMS, "attnc_tools.h params follow the GPU kernel's");

/* A cold compile's result: the arena owns the recipe and the kernel. */
struct attnc_tools_compiled {
    arena a;
    recipe *r;
    tir_kernel *k;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void attnc_tools_recipe_describe(const attnc_tools_recipe *tr, attnc_tools_recipe_info *out)
{
    const recipe *r = tools_recipe_of(tr);
    memset(out, 0, sizeof *out);
    out->name = r->name;
    out->head_dim = r->head_dim;
    out->head_dim_v = r->head_dim_v;
    out->dtype = (attnc_dtype)r->qkv_dtype;
    out->linear = r->family == FAMILY_LINEAR;
    out->tile_auto = r->sched.is_auto;
    out->grid_ndim = r->grid_ndim;
    for (int d = 0; d < r->grid_ndim && d < 3; d++)
        out->grid_names[d] = r->grid_names[d];
    out->nsizes = r->nsizes < SZ_MAX ? r->nsizes : SZ_MAX;
    for (int i = 0; i < SZ_MAX; i++) {
        out->sizes[i].name = i < r->nsizes ? r->sizes[i].name : NULL;
        out->sizes[i].fixed = i < r->nsizes ? r->sizes[i].fixed : 0;
        out->sizes[i].limit = size_limit((size_id)i);
        out->sizes[i].slot = size_id_name((size_id)i);
    }
    out->nparams = r->nparams < NVPTX_MAX_PARAMS ? r->nparams : NVPTX_MAX_PARAMS;
    for (int i = 0; i < out->nparams; i++) {
        const recipe_param *p = &r->params[i];
        out->params[i].name = p->name;
        out->params[i].dtype = (attnc_dtype)p->dtype;
        out->params[i].ndim = p->ndim;
        for (int d = 0; d < 4; d++) {
            out->params[i].dims[d] = (int)p->dims[d];
            out->params[i].const_dims[d] = p->const_dims[d];
        }
    }
}

int attnc_tools_dtype_size(attnc_dtype dt)
{
    return dtype_size((dtype)dt);
}

bool attnc_tools_tuned_pick(const attnc_tools_recipe *tr, attnc_tools_arch arch, const int64_t *z, char *out, size_t cap,
                            strbuf *note)
{
    const recipe *r = tools_recipe_of(tr);
    tune_shape sh = {z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], z[SZ_KV_TOKENS], z[SZ_KV_HEADS], {0}};
    char hash[33];
    tune_recipe_hash(tr->text, tr->len, hash);
    tune_db *db = tune_db_open(NULL, note);
    schedule s;
    bool found = db && tune_db_pick_schedule(db, hash, (target_arch)arch, &sh, r->grid_ndim > 0 ? r->grid_ndim : 1,
                                             r->head_dim, dtype_size(r->qkv_dtype), r->family == FAMILY_LINEAR, &s,
                                             note) == TUNE_FOUND;
    tune_db_close(db);
    if (found) {
        strbuf t;
        sb_init(&t);
        schedule_print(&t, &s);
        snprintf(out, cap, "%s", sb_cstr(&t));
        sb_free(&t);
    }
    return found;
}

static attnc_tools_result pick_arch(const char *name, attnc_tools_cold *t, strbuf *err)
{
    target_arch a = TARGET_SM80;
    if (name ? !nvptx_arch_parse(name, &a) : cuda_device_arch(&a, err) != ATTNC_OK) {
        if (name)
            sb_printf(err, "unknown --arch '%s'", name);
        return name ? ATTNC_TOOLS_USER : ATTNC_TOOLS_INTERNAL;
    }
    t->arch = (attnc_tools_arch)a;
    return ATTNC_TOOLS_OK;
}

static attnc_tools_result parse(attnc_tools_compiled *c, const char *path, attnc_tools_cold *t, strbuf *err)
{
    double t0 = now_ms();
    size_t len;
    const char *why = NULL;
    char *text = frontend_read_file(&c->a, path, &len, &why);
    if (!text) {
        sb_printf(err, "%s: %s", path, why ? why : "cannot read");
        return ATTNC_TOOLS_UNREADABLE;
    }
    double t1 = now_ms();
    diag_list diags;
    diag_list_init(&diags, &c->a, path, text, len);
    c->r = frontend_parse(&c->a, path, text, len, &diags);
    t->read_ms = t1 - t0;
    t->parse_ms = now_ms() - t1;
    if (c->r && !diags.errors)
        return ATTNC_TOOLS_OK;
    diag_render(&diags, err);
    return ATTNC_TOOLS_USER;
}

/* PTX to a loaded module (the driver's JIT), unloaded again: its time is
 * the cold compile's last stage. With load false, only the tile IR (no
 * PTX, no driver). */
static attnc_tools_result load(attnc_tools_compiled *c, const char *path, const char *sched, bool load, double t0,
                               attnc_tools_cold *t, strbuf *err)
{
    attnc_tools_result res = parse(c, path, t, err);
    if (res)
        return res;
    compile_job j;
    compile_job_init(&j, c->r, (target_arch)t->arch);
    j.a = &c->a; /* the kernel outlives the job */
    cuda_module *m = NULL;
    res = tools_gpu_compile(&j, sched, load, err);
    c->k = j.tk;
    t->lower_ms = j.lower_ms;
    t->codegen_ms = j.codegen_ms;
    if (!res && load && cuda_module_load(&m, sb_cstr(&j.ptx), j.ptx.len, &j.info, err))
        res = ATTNC_TOOLS_INTERNAL;
    t->total_ms = now_ms() - t0;
    t->jit_ms = m ? cuda_module_jit_ms(m) : 0;
    snprintf(t->jit_by, sizeof t->jit_by, "%s", m ? cuda_module_jit_by(m) : "");
    cuda_module_destroy(m);
    compile_job_free(&j);
    return res;
}

static attnc_tools_result compile(const char *path, const char *arch, const char *sched, bool emit,
                                  attnc_tools_compiled **out, attnc_tools_cold *t, strbuf *err)
{
    *out = NULL;
    memset(t, 0, sizeof *t);
    attnc_tools_compiled *c = calloc(1, sizeof *c);
    if (!c)
        return ATTNC_TOOLS_INTERNAL;
    arena_init(&c->a, NULL);
    double t0 = now_ms();
    attnc_tools_result res = pick_arch(arch, t, err);
    if (!res)
        res = load(c, path, sched, emit, t0, t, err);
    if (res) {
        attnc_tools_compiled_free(c);
        return res;
    }
    strbuf s;
    sb_init(&s);
    schedule_print_for(&s, &c->k->sched, c->r->family == FAMILY_LINEAR);
    snprintf(t->schedule, sizeof t->schedule, "%s", sb_cstr(&s));
    sb_free(&s);
    *out = c;
    return ATTNC_TOOLS_OK;
}

attnc_tools_result attnc_tools_cold_compile(const char *path, const char *arch, const char *sched,
                                            attnc_tools_compiled **out, attnc_tools_cold *t, strbuf *err)
{
    return compile(path, arch, sched, true, out, t, err);
}

attnc_tools_result attnc_tools_plan(const char *path, const char *arch, const char *sched, attnc_tools_compiled **out,
                                    attnc_tools_cold *t, strbuf *err)
{
    return compile(path, arch, sched, false, out, t, err);
}

void attnc_tools_compiled_free(attnc_tools_compiled *c)
{
    if (!c)
        return;
    arena_free_all(&c->a);
    free(c);
}

bool attnc_tools_count_pairs(const attnc_tools_compiled *c, const int64_t *sizes, const attnc_tools_param_host *params,
                             attnc_tools_pairs *out, strbuf *err)
{
    return tools_count_pairs(c->r, &c->k->sched, sizes, params, out, err);
}

/* The backward's schedule text parsed: base, the schedule before its
 * parenthesised notes; out, the dK/dV kernel's tiles: base with the
 * "(dK/dV q=.. kv=..)" part's boxes where it has one. */
static bool bwd_tiles(const char *text, int ndims, schedule *base, schedule *out, strbuf *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    char *paren = strstr(buf, " ("), *dkv = strstr(buf, "(dK/dV ");
    if (paren)
        *paren = 0;
    if (!schedule_parse(buf, ndims, base, err))
        return false;
    *out = *base;
    if (!dkv)
        return true;
    dkv += strlen("(dK/dV ");
    char *end = strchr(dkv, ')');
    if (end)
        *end = 0;
    schedule t;
    if (!schedule_parse(dkv, ndims, &t, err))
        return false;
    if (strstr(dkv, "q="))
        memcpy(out->q_tile, t.q_tile, sizeof out->q_tile);
    if (strstr(dkv, "kv="))
        memcpy(out->kv_tile, t.kv_tile, sizeof out->kv_tile);
    return true;
}

bool attnc_tools_count_bwd_tiles(const attnc_tools_compiled *c, const char *bwd, const int64_t *sizes,
                                 const attnc_tools_param_host *params, attnc_tools_bwd_tiles *out, strbuf *err)
{
    schedule s, dq;
    memset(out, 0, sizeof *out);
    if (!bwd_tiles(bwd, c->k->sched.ndims, &dq, &s, err))
        return false;
    /* the dQ kernel keeps the schedule's key tiles and the dK/dV kernel's query box */
    memcpy(dq.q_tile, s.q_tile, sizeof dq.q_tile);
    return tools_count_bwd_tiles(c->r, &s, sizes, params, out, err) &&
           tools_count_bwd_dq_tiles(c->r, &dq, sizes, params, out, err);
}
