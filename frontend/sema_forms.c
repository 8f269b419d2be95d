/*
 * sema_forms.c — checks a named mask form's arguments and normalises them
 * to the EX_FORM layout of forms.h (defaults filled in, keyword and
 * positional arguments merged, tuples spread per grid dimension).
 *
 * Argument names, in positional order:
 *   causal                    ()
 *   sliding_window            (left, right)
 *   neighborhood              (window, dilation = 1, stride = 1, causal = false)
 *                             each a number (every dim) or a tuple, one per grid dim
 *   radial                    (frame, block = 128, decay = 1, sink = false)
 *                             decay a number k / 2^m (m <= 16), e.g. 0.5
 *   radial_token              (frame, window); `radial` with a window
 *                             argument (or two positional ones) is this
 *   strided_heads             (stride, local)
 *   sinks                     (n)
 *   document                  (ids)             a param name
 *   blocks                    (table, bq, bk)   a param name, block sizes
 *   full                      ()
 */
#include <stdio.h>
#include <string.h>

#include "sema.h"

typedef struct form_spec {
    const char *name;
    int nparams, nrequired;
    const char *params[4];
} form_spec;

static const form_spec specs[FORM_COUNT] = {
    [FORM_CAUSAL] = {"causal", 0, 0, {0}},
    [FORM_SLIDING_WINDOW] = {"sliding_window", 2, 2, {"left", "right"}},
    [FORM_NEIGHBORHOOD] = {"neighborhood", 4, 1, {"window", "dilation", "stride", "causal"}},
    [FORM_RADIAL] = {"radial_token", 2, 2, {"frame", "window"}},
    [FORM_RADIAL_VIDEO] = {"radial", 4, 1, {"frame", "block", "decay", "sink"}},
    [FORM_STRIDED_HEADS] = {"strided_heads", 2, 2, {"stride", "local"}},
    [FORM_SINKS] = {"sinks", 1, 1, {"n"}},
    [FORM_DOCUMENT] = {"document", 1, 1, {"ids"}},
    [FORM_BLOCKS] = {"blocks", 3, 3, {"table", "bq", "bk"}},
    [FORM_FULL] = {"full", 0, 0, {0}},
};

int fe_form_lookup(const char *name)
{
    if (!strcmp(name, "radial"))
        return FORM_RADIAL_VIDEO;
    for (int f = 0; f < FORM_COUNT; f++)
        if (!strcmp(name, specs[f].name))
            return f;
    return -1;
}

/* Binds call arguments to the spec's parameters: bound[i] = node or NULL. */
static bool bind_args(sema *S, const node *call, const form_spec *sp, const node **bound)
{
    memset(bound, 0, sizeof(node *) * 4);
    int npos = 0;
    for (int i = 0; i < call->nargs; i++) {
        const char *key = call->keys ? call->keys[i] : NULL;
        int slot = -1;
        if (!key) {
            if (npos >= sp->nparams) {
                diag_error(S->d, call->args[i]->span, NULL, "'%s' takes %s%d argument%s, not %d", sp->name,
                           sp->nrequired < sp->nparams ? "at most " : "", sp->nparams,
                           sp->nparams == 1 ? "" : "s", call->nargs);
                return false;
            }
            slot = npos++;
        } else {
            for (int j = 0; j < sp->nparams; j++)
                if (!strcmp(key, sp->params[j]))
                    slot = j;
            if (slot < 0) {
                const char *near = fe_suggest(key, sp->params, sp->nparams);
                char hint[96];
                snprintf(hint, sizeof hint, "write '%s'", near ? near : "");
                diag_error(S->d, call->key_locs[i], near ? hint : NULL, "'%s' has no argument '%s'", sp->name, key);
                return false;
            }
        }
        if (bound[slot]) {
            diag_error(S->d, key ? call->key_locs[i] : call->args[i]->loc, NULL, "argument '%s' of '%s' is given twice",
                       sp->params[slot], sp->name);
            return false;
        }
        bound[slot] = call->args[i];
    }
    for (int j = 0; j < sp->nrequired; j++)
        if (!bound[j]) {
            diag_error(S->d, call->loc, NULL, "'%s' needs the argument '%s'", sp->name, sp->params[j]);
            return false;
        }
    return true;
}

/* A constant int argument with a lower bound. */
static bool int_arg(sema *S, const form_spec *sp, int slot, const node *n, int64_t lo, int64_t *out)
{
    if (n->kind == N_NAME && (!strcmp(n->name, "true") || !strcmp(n->name, "false")) && lo <= 0) {
        *out = n->name[0] == 't';
        return true;
    }
    if (!fe_const_int(n, out)) {
        diag_error(S->d, n->span, NULL, "argument '%s' of '%s' must be a constant integer", sp->params[slot], sp->name);
        return false;
    }
    if (*out < lo || *out > (1 << 30)) {
        diag_error(S->d, n->span, NULL, "argument '%s' of '%s' must be %s %lld, not %lld", sp->params[slot],
                   sp->name, *out < lo ? "at least" : "at most", *out < lo ? (long long)lo : 1LL << 30,
                   (long long)*out);
        return false;
    }
    return true;
}

static expr *new_form(sema *S, int form, int nargs)
{
    expr *e = ARENA_NEW(S->a, expr);
    if (!e)
        return NULL;
    e->kind = EX_FORM;
    e->type = TY_BOOL;
    e->u.form = form;
    e->nargs = nargs;
    if (nargs && !(e->args = ARENA_ARRAY(S->a, expr *, nargs)))
        return NULL;
    return e;
}

/* neighborhood's per-dim values: a tuple with one entry per dim, or one value for all. */
static bool per_dim(sema *S, const form_spec *sp, int slot, const node *n, int nd, int64_t lo, int64_t *vals)
{
    if (n->kind != N_TUPLE) {
        if (!int_arg(S, sp, slot, n, lo, &vals[0]))
            return false;
        for (int d = 1; d < nd; d++)
            vals[d] = vals[0];
        return true;
    }
    if (n->nargs != nd) {
        diag_error(S->d, n->span, NULL, "'%s' needs %d value%s, one per %s, not %d", sp->params[slot], nd,
                   nd == 1 ? "" : "s", S->r->grid_ndim ? "grid dimension" : "token sequence", n->nargs);
        return false;
    }
    for (int d = 0; d < nd; d++)
        if (!int_arg(S, sp, slot, n->args[d], lo, &vals[d]))
            return false;
    return true;
}

static const char *dim_label(const sema *S, int d)
{
    return S->r->grid_ndim ? S->grid_labels[d] : "t";
}

/* The checks forms.h leaves to the front end: stride <= window, no stride
 * on a causal dim, window * dilation <= a constant extent. */
static bool check_neighborhood(sema *S, const node *at, int nd, int64_t v[4][3], const node **bound)
{
    for (int d = 0; d < nd; d++) {
        int64_t w = v[0][d], dil = v[1][d], st = v[2][d];
        const node *sn = bound[2] ? bound[2] : at;
        if (st > w) {
            diag_error(S->d, sn->span, "stride = window gives blocked attention; a larger stride skips keys",
                       "stride %lld is larger than the window %lld in dimension %s", (long long)st, (long long)w,
                       dim_label(S, d));
            return false;
        }
        if (st != 1 && v[3][d]) {
            diag_error(S->d, sn->span, NULL, "stride %lld on the causal dimension %s: causal dimensions need stride 1",
                       (long long)st, dim_label(S, d));
            return false;
        }
        int64_t ext = S->r->sizes[S->r->grid_ndim ? SZ_GRID0 + d : SZ_TOKENS].fixed;
        char what[96]; /* a fixed grid extent, or fixed tokens for a sequence */
        if (S->r->grid_ndim)
            snprintf(what, sizeof what, "the grid's %s extent", dim_label(S, d));
        else
            snprintf(what, sizeof what, "the recipe's tokens");
        if (ext > 0 && w * dil > ext) {
            const node *wn = bound[0];
            if (dil == 1)
                diag_error(S->d, wn->span, NULL, "window %lld is larger than %s %lld", (long long)w, what,
                           (long long)ext);
            else
                diag_error(S->d, wn->span, NULL, "window %lld with dilation %lld spans %lld tokens, more than %s %lld",
                           (long long)w, (long long)dil, (long long)(w * dil), what, (long long)ext);
            return false;
        }
    }
    return true;
}

static expr *form_neighborhood(sema *S, const node *call, const form_spec *sp, const node **bound)
{
    int nd = S->r->grid_ndim ? S->r->grid_ndim : 1;
    int64_t v[4][3];
    static const int64_t defaults[4] = {0, 1, 1, 0}, lows[4] = {1, 1, 1, 0};
    for (int k = 0; k < 4; k++) {
        for (int d = 0; d < nd; d++)
            v[k][d] = defaults[k];
        if (bound[k] && !per_dim(S, sp, k, bound[k], nd, lows[k], v[k]))
            return NULL;
        for (int d = 0; k == 3 && d < nd; d++)
            if (v[3][d] > 1) {
                diag_error(S->d, bound[3]->loc, "write causal: (true, false)", "'causal' values must be true or false");
                return NULL;
            }
    }
    if (!check_neighborhood(S, call, nd, v, bound))
        return NULL;
    expr *e = new_form(S, FORM_NEIGHBORHOOD, 4 * nd);
    for (int k = 0; e && k < 4; k++)
        for (int d = 0; d < nd; d++)
            e->args[k * nd + d] = ex_int(S->a, v[k][d]);
    return e;
}

/* The param named by argument `slot`, checked against the allowed dtypes. */
static int param_arg(sema *S, const form_spec *sp, int slot, const node *n, const char *dtypes)
{
    int p = n->kind == N_NAME ? fe_find_param(S, n->name) : -1;
    if (p < 0) {
        diag_error(S->d, n->loc, "declare it: param NAME : i32 [tokens]",
                   "argument '%s' of '%s' must name a param", sp->params[slot], sp->name);
        return -1;
    }
    const char *dt = dtype_name(S->r->params[p].dtype);
    if (!strstr(dtypes, dt)) {
        diag_error(S->d, n->loc, NULL, "param '%s' of '%s' must be %s, not %s", n->name, sp->name, dtypes, dt);
        return -1;
    }
    return p;
}

static bool dims_are(const recipe_param *pr, int first, const size_id *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (pr->const_dims[first + i] || pr->dims[first + i] != ids[i])
            return false;
    return true;
}

static expr *form_document(sema *S, const form_spec *sp, const node **bound)
{
    int p = param_arg(S, sp, 0, bound[0], "i32 or i64");
    if (p < 0)
        return NULL;
    const recipe_param *pr = &S->r->params[p];
    static const size_id bt[] = {SZ_BATCH, SZ_TOKENS};
    if (!((pr->ndim == 1 && dims_are(pr, 0, bt + 1, 1)) || (pr->ndim == 2 && dims_are(pr, 0, bt, 2)))) {
        diag_error(S->d, bound[0]->loc, "declare it as [tokens] or [batch, tokens]",
                   "document ids '%s' must have shape [tokens] or [batch, tokens]", pr->name);
        return NULL;
    }
    expr *e = new_form(S, FORM_DOCUMENT, 1);
    if (e)
        e->args[0] = ex_int(S->a, p);
    return e;
}

static expr *form_blocks(sema *S, const form_spec *sp, const node **bound)
{
    int p = param_arg(S, sp, 0, bound[0], "u8 or i32");
    int64_t bq, bk;
    if (p < 0 || !int_arg(S, sp, 1, bound[1], 1, &bq) || !int_arg(S, sp, 2, bound[2], 1, &bk))
        return NULL;
    const recipe_param *pr = &S->r->params[p];
    static const size_id bh[] = {SZ_BATCH, SZ_HEADS};
    bool ok = (pr->ndim == 2) || (pr->ndim == 3 && dims_are(pr, 0, bh + 1, 1)) ||
              (pr->ndim == 4 && dims_are(pr, 0, bh, 2));
    if (!ok) {
        diag_error(S->d, bound[0]->loc, NULL,
                   "block table '%s' must have shape [nqb, nkb], [heads, nqb, nkb] or [batch, heads, nqb, nkb]",
                   pr->name);
        return NULL;
    }
    expr *e = new_form(S, FORM_BLOCKS, 3);
    if (e) {
        e->args[0] = ex_int(S->a, p);
        e->args[1] = ex_int(S->a, bq);
        e->args[2] = ex_int(S->a, bk);
    }
    return e;
}

/* Forms whose arguments are all constant ints with lower bounds. */
static expr *form_ints(sema *S, int f, const form_spec *sp, const node **bound)
{
    static const int64_t lows[FORM_COUNT][2] = {
        [FORM_SLIDING_WINDOW] = {0, 0}, [FORM_RADIAL] = {1, 1}, [FORM_STRIDED_HEADS] = {1, 1}, [FORM_SINKS] = {0, 0}};
    expr *e = new_form(S, f, sp->nparams);
    for (int i = 0; e && i < sp->nparams; i++) {
        int64_t v;
        if (!int_arg(S, sp, i, bound[i], lows[f][i], &v))
            return NULL;
        e->args[i] = ex_int(S->a, v);
    }
    return e;
}

/* `radial` with a window argument, or with exactly two positional ones,
 * is the earlier token-level form (radial_token), kept for old recipes. */
static bool radial_token_spelling(const node *call)
{
    if (call->kind != N_CALL)
        return false;
    bool keys = false;
    for (int i = 0; i < call->nargs; i++) {
        const char *key = call->keys ? call->keys[i] : NULL;
        if (key && !strcmp(key, "window"))
            return true;
        keys |= key != NULL;
    }
    return call->nargs == 2 && !keys;
}

/* decay: a positive number k / 2^m (m <= 16, k < 2^24): args[2] = k, args[3] = m. */
static bool decay_arg(sema *S, const node *n, expr **k, expr **m)
{
    double v = n->kind == N_FLOAT ? n->fval : (double)n->ival;
    if ((n->kind != N_FLOAT && n->kind != N_INT) || !(v > 0) || v * 65536.0 != (double)(int64_t)(v * 65536.0) ||
        v * 65536.0 >= 16777216.0) {
        diag_error(S->d, n->span, "write e.g. decay: 1, decay: 0.5 or decay: 0.25",
                   "argument 'decay' of 'radial' must be a positive number, a multiple of 1/65536 below 256");
        return false;
    }
    int64_t num = (int64_t)(v * 65536.0), shift = 16;
    while (shift > 0 && num % 2 == 0)
        num /= 2, shift--;
    *k = ex_int(S->a, num);
    *m = ex_int(S->a, shift);
    return *k && *m;
}

/* radial(frame, block = 128, decay = 1, sink = false) -> args F, B, k, m, sink. */
static expr *form_radial(sema *S, const form_spec *sp, const node **bound)
{
    expr *e = new_form(S, FORM_RADIAL_VIDEO, 5);
    int64_t F, B = 128, sink = 0;
    if (!e || !int_arg(S, sp, 0, bound[0], 1, &F) || (bound[1] && !int_arg(S, sp, 1, bound[1], 1, &B)) ||
        (bound[3] && !int_arg(S, sp, 3, bound[3], 0, &sink)))
        return NULL;
    if (B > 65536 || sink > 1) {
        diag_error(S->d, (B > 65536 ? bound[1] : bound[3])->span, NULL,
                   B > 65536 ? "argument 'block' of 'radial' must be at most 65536" : "argument 'sink' of 'radial' is true or false");
        return NULL;
    }
    e->args[0] = ex_int(S->a, F);
    e->args[1] = ex_int(S->a, B);
    e->args[2] = ex_int(S->a, 1);
    e->args[3] = ex_int(S->a, 0);
    e->args[4] = ex_int(S->a, sink);
    if (bound[2] && !decay_arg(S, bound[2], &e->args[2], &e->args[3]))
        return NULL;
    return e;
}

expr *fe_sema_form(sema *S, const node *call)
{
    int f = fe_form_lookup(call->name);
    if (f == FORM_RADIAL_VIDEO && radial_token_spelling(call))
        f = FORM_RADIAL;
    const form_spec *sp = &specs[f];
    if (S->ctx != CTX_MASK) {
        diag_error(S->d, call->loc, NULL, "the mask form '%s' can only be used in a mask", sp->name);
        return NULL;
    }
    /* with kv_tokens the key index runs over another sequence: forms that
     * compare positions inside one sequence or index a [tokens] table by k.t
     * have no meaning there */
    if (S->r->cross && (f == FORM_NEIGHBORHOOD || f == FORM_RADIAL || f == FORM_RADIAL_VIDEO || f == FORM_DOCUMENT)) {
        diag_error(S->d, call->loc, "declare k and v over 'tokens'",
                   "'%s' needs k and v over the query's tokens, but they use kv_tokens", sp->name);
        return NULL;
    }
    const node *bound[4];
    if (call->kind == N_NAME) {
        if (sp->nrequired) {
            diag_error(S->d, call->loc, NULL, "'%s' needs arguments: %s(%s%s%s)", sp->name, sp->name,
                       sp->params[0], sp->nparams > 1 ? ", " : "", sp->nparams > 1 ? sp->params[1] : "");
            return NULL;
        }
        return new_form(S, f, 0);
    }
    if (!bind_args(S, call, sp, bound))
        return NULL;
    switch (f) {
    case FORM_NEIGHBORHOOD:
        return form_neighborhood(S, call, sp, bound);
    case FORM_DOCUMENT:
        return form_document(S, sp, bound);
    case FORM_BLOCKS:
        return form_blocks(S, sp, bound);
    case FORM_RADIAL_VIDEO:
        return form_radial(S, sp, bound);
    default:
        return form_ints(S, f, sp, bound);
    }
}
