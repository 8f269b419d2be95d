/* doc_table.h — document masks and document-id layouts to check them on:
 * the CPU backend cuts each query tile's key range to its document span,
 * computed at launch from the ids (runtime/host/doc_spans.h), so the ids below
 * cover what the spans must get right: many short and few long documents
 * not aligned with the tiles, one-token documents, ids with gaps (empty
 * documents), ids that come back later (a document in several pieces), and
 * negative or descending ids. Shared by the CPU check (test_documents.c)
 * and the GPU one (tests/gpu/test_gpu_documents.c). Header-only. */
#ifndef ATTNC_TESTS_DOC_TABLE_H
#define ATTNC_TESTS_DOC_TABLE_H

#include <stdint.h>
#include <stdlib.h>

typedef enum {
    IDS_SHORT,       /* documents of 1 to 20 tokens */
    IDS_LONG,        /* three long documents */
    IDS_SINGLETONS,  /* every token its own document */
    IDS_GAPS,        /* contiguous, ids skip values (empty documents between) */
    IDS_RECURRING,   /* (t / 7) % 3: each id in many separate pieces */
    IDS_FEW_RANDOM,  /* random ids in 0..3 */
    IDS_DESCENDING,  /* contiguous documents with negative, falling ids */
    IDS_TILED,       /* long documents over whole tiles (300, 1, empty, 517, 128, 64 tokens, again) */
    IDS_COUNT
} ids_layout;

static const char *const ids_names[IDS_COUNT] = {"short", "long", "singletons", "gaps", "recurring", "few_random",
                                                 "descending", "tiled"};

typedef struct doc_recipe {
    const char *name;
    const char *text; /* after "recipe NAME\n" */
} doc_recipe;

static const doc_recipe doc_recipes[] = {
    {"causal_doc_batch", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                         "mask causal && document(doc)\n"},
    {"causal_doc_shared_i64", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i64 [tokens]\n"
                              "mask causal && document(doc)\n"},
    {"doc_bidirectional", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                          "mask document(doc) && k.t <= q.t + 40\n"},
    {"doc_only", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask document(doc)\n"},
    {"doc_sinks_window", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                         "mask causal && document(doc) && (sinks(4) || sliding_window(24, 0))\n"},
    {"causal_doc_d128", "input q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
                        "mask causal && document(doc)\n"},
};

/* IDS_TILED: document lengths in turn; 0 is an empty document (its id is skipped). */
static const int64_t doc_tiled_lengths[] = {300, 1, 0, 517, 128, 64};

/* The ids of row b (n tokens, element size 4 or 8) in layout l. */
static inline void doc_fill(ids_layout l, int64_t b, int64_t n, void *out, int elem)
{
    unsigned seed = 7u + 131u * (unsigned)b + 17u * (unsigned)l;
    int64_t id = 0, left = 0, cut[2] = {n / 3 + 5 + b, 2 * n / 3 - 3};
    for (int64_t t = 0; t < n; t++) {
        int64_t v;
        switch (l) {
        case IDS_SHORT:
            if (left-- <= 0)
                id++, left = 1 + (int64_t)(rand_r(&seed) % 20) - 1;
            v = id;
            break;
        case IDS_LONG: v = (t >= cut[0]) + (t >= cut[1]); break;
        case IDS_SINGLETONS: v = t; break;
        case IDS_GAPS: v = 3 * (t / 23) + (t / 23) % 2; break;
        case IDS_RECURRING: v = (t / 7) % 3; break;
        case IDS_FEW_RANDOM: v = rand_r(&seed) % 4; break;
        case IDS_TILED:
            while (left <= 0) { /* the next document (of length 0: only its id is used up) */
                left = doc_tiled_lengths[id % 6];
                id++;
            }
            left--;
            v = id - 1;
            break;
        default: v = -5 * (t / 31) - 1; break;
        }
        if (elem == 8)
            ((int64_t *)out)[t] = v;
        else
            ((int32_t *)out)[t] = (int32_t)v;
    }
}

#endif
