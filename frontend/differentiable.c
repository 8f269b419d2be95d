/* differentiable.c — the recipe-level check that gradients exist; see
 * differentiable.h. The work is ir/expr_diff.c's; this file turns its
 * failure into a located diagnostic. */
#include "differentiable.h"

#include "../ir/expr_diff.h"

static const expr_origin *origin_of(const recipe *r, const expr *e)
{
    for (int i = 0; i < r->nscore_origins; i++)
        if (r->score_origins[i].e == e)
            return &r->score_origins[i];
    return NULL;
}

enum { MAX_PATH = 1024 }; /* well above the front end's nesting limit */

/* Depth-first search for target below e; path[0..*len) receives the nodes
 * from e down to target. Scores nest at most SYN_MAX_DEPTH deep, and their
 * shared subtrees are small (softcap's cap), so the walk stays short. */
static bool find_path(const expr *e, const expr *target, const expr **path, int *len)
{
    if (!e || *len >= MAX_PATH)
        return false;
    path[(*len)++] = e;
    if (e == target)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (find_path(e->args[i], target, path, len))
            return true;
    (*len)--;
    return false;
}

src_loc recipe_score_span(const recipe *r, const expr *e)
{
    const expr *path[MAX_PATH];
    int len = 0;
    if (!e || !find_path(r->score, e, path, &len))
        return r->score_loc;
    for (int i = len - 1; i >= 0; i--) { /* the innermost written node */
        const expr_origin *o = origin_of(r, path[i]);
        if (o)
            return o->span;
    }
    return r->score_loc;
}

bool recipe_check_differentiable(const recipe *r, diag_list *d)
{
    if (!r || r->family != FAMILY_SOFTMAX || !r->score)
        return true;
    arena a;
    arena_init(&a, NULL);
    strbuf why;
    sb_init(&why);
    const expr *where = NULL;
    bool ok = expr_diff_score_at(&a, r->score, &why, &where) != NULL;
    if (ok) {
        expr_param_site *sites;
        sb_clear(&why);
        ok = expr_param_sites(&a, r->score, &sites, &why) >= 0;
    }
    if (!ok) {
        bool is_floor = where && where->kind == EX_UNARY && where->u.unop == UN_FLOOR;
        const char *hint = is_floor ? "keep s out of floor(): for a piecewise score compare s in a "
                                      "select(...), e.g. select(s > 0.0, s, 0.1 * s)"
                                    : "use +, -, *, /, exp, log, tanh, sqrt, abs, min, max or select of s";
        diag_error(d, recipe_score_span(r, where), hint, "the score has no gradient for the backward pass: %s",
                   sb_cstr(&why));
    }
    sb_free(&why);
    arena_free_all(&a);
    return ok;
}
