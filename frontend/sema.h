/*
 * sema.h — shared state of the semantic checks (sema*.c, expand_forms.c).
 * Internal to the front end.
 */
#ifndef ATTNC_FRONTEND_SEMA_H
#define ATTNC_FRONTEND_SEMA_H

#include "forms.h"
#include "syntax.h"

typedef enum { CTX_MASK, CTX_SCORE, CTX_DECAY } expr_ctx;

typedef struct sema {
    arena *a;
    diag_list *d;
    const syntax *syn;
    recipe *r;
    expr_ctx ctx;
    const char *grid_labels[3]; /* coordinate names q.y, k.x */
    src_loc grid_label_locs[3];
    expr_origin *origins; /* score nodes and their spans (recipe.score_origins) */
    int norigins, origins_cap;
} sema;

/* sema_expr.c: a checked expression (NULL after reporting an error). */
expr *fe_sema_expr(sema *S, const node *n);
int fe_find_param(const sema *S, const char *name);
bool fe_is_reserved(const char *name);
/* Marks a size used; returns a constant for sizes the recipe fixes. */
expr *fe_size_expr(sema *S, size_id id);
const char *fe_type_name(expr_type t);

/* sema_forms.c: a named mask form, checked and normalised to an EX_FORM node. */
int fe_form_lookup(const char *name);
expr *fe_sema_form(sema *S, const node *call);

/* expand_forms.c: the mask with every EX_FORM replaced by its definition. */
expr *fe_expand_forms(arena *a, const recipe *r, const expr *surface);

/* sema_blocks.c: the linear and tile sections. */
void fe_sema_linear(sema *S);
void fe_sema_tile(sema *S);

/* constant integer value of a literal expression (+ - * / % of ints, unary -) */
bool fe_const_int(const node *n, int64_t *out);

#endif
