/*
 * numeric_plan.h — which shapes, dtypes and schedules each recipe is
 * checked under. Shapes are chosen per recipe kind (sequence, 2-D/3-D
 * grid, linear) so they respect the recipe's bounds (a window never larger
 * than its grid) and never divide the tiles; GQA where the recipe declares
 * kv_heads; one BSHD layout per recipe.
 */
#ifndef ATTNC_TESTS_NUMERIC_PLAN_H
#define ATTNC_TESTS_NUMERIC_PLAN_H

#include <stdbool.h>

#include "frontend/recipe.h"
#include "reference/ref_check.h"

enum { PLAN_MAX = 16 };

typedef struct numeric_case {
    ref_shape shape;
    dtype dt;            /* q/k/v dtype to compile for */
    const char *schedule; /* NULL: the recipe's */
} numeric_case;

/* Fills cases for recipe r (name = file stem); slow: the bigger set. */
int numeric_plan(const char *name, const recipe *r, bool slow, numeric_case *cases);

#endif
