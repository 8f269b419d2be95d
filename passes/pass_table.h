/*
 * pass_table.h — the ordered list of passes from typed recipe to scheduled
 * tile IR. One static table of {name, summary, run} drives the lowering,
 * `attnc ir --after NAME`, --print-after-all and the golden tests.
 * (The table itself is filled in by the tile IR work: passes/pipeline.c.)
 */
#ifndef ATTNC_PASSES_PASS_TABLE_H
#define ATTNC_PASSES_PASS_TABLE_H

#include <stdbool.h>

#include "../frontend/recipe.h"
#include "../ir/tile_ir.h"

typedef struct pass_info {
    const char *name;
    const char *summary;
    /* Transforms k in place; returns false with a message in err on failure. */
    bool (*run)(tir_kernel *k, const recipe *r, strbuf *err);
} pass_info;

#endif
