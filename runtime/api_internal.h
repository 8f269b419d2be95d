/*
 * api_internal.h — what sits behind the opaque handles of attnc.h.
 *
 * Ownership: a context owns nothing but its allocator and error message;
 * each recipe, kernel and args object is a heap block from the context's
 * allocator with its own arena (also on that allocator). A kernel keeps a
 * private deep copy of the recipe (kernel_recipe_copy) so it never
 * references the attnc_recipe it was built from. Error messages are fixed
 * buffers, so reporting an error (even out-of-memory) never allocates.
 */
#ifndef ATTNC_RUNTIME_API_INTERNAL_H
#define ATTNC_RUNTIME_API_INTERNAL_H

#include <stdarg.h>

#include "../codegen/host_codegen.h"
#include "../frontend/recipe.h"
#include "../support/arena.h"
#include "include/attnc.h"

enum { ERRMSG_CAP = 8192 };

struct kcache;

struct attnc_context {
    attnc_allocator alloc; /* the user's, or malloc/free */
    heap_alloc heap;       /* the same functions, for arenas */
    char errmsg[ERRMSG_CAP];
    struct kcache *cache; /* kernel cache, opened on the first GPU build (api_kcache.c) */
    bool cache_tried;     /* cache_open was attempted (NULL cache then: no cache) */
};

struct attnc_recipe {
    attnc_context *ctx;
    arena arena; /* the recipe and its expressions */
    recipe *r;
    char text_hash[33]; /* tune_recipe_hash of the source text */
};

/* Backend-specific part of a kernel. The CUDA backend (branch gpu) plugs in
 * through these hooks; see api_backend.h. */
typedef struct kernel_backend_ops kernel_backend_ops;
/* Per-shape block tables (block_table.h); NULL until first needed. */
typedef struct block_table_cache block_table_cache;

struct attnc_kernel {
    attnc_context *ctx;
    attnc_backend backend;
    arena arena;  /* recipe copy, tile IR, signature */
    recipe *r;    /* private copy (kernel_recipe_copy) */
    schedule sched;
    char sched_text[128];
    host_kernel host; /* CPU backend: JIT and signature */
    const kernel_backend_ops *ops; /* NULL for the CPU backend */
    void *backend_data;            /* owned by ops */
    char recipe_hash[33];          /* of the recipe text; "" (not cached) when unknown */
    block_table_cache *btab;       /* block_table.c; freed by attnc_kernel_destroy */
    char errmsg[ERRMSG_CAP];       /* after a successful build: a note, if any */
};

/* Launch arguments. Tensors are indexed: 0..4 = q, k, v, o, lse, then one
 * per recipe param. */
enum { ARG_Q, ARG_K, ARG_V, ARG_O, ARG_LSE, ARG_NFIXED };

struct attnc_args {
    attnc_kernel *k; /* errors are reported on the kernel */
    int ntensors;
    attnc_tensor *tensors; /* [ntensors] */
    bool *tensor_set;
    float *scalar_f32; /* [nparams]: backing store for attnc_args_set_scalar */
    int64_t sizes[SZ_MAX];
    bool size_set[SZ_MAX];
};

/* Allocation through the context's allocator. */
void *ctx_alloc(attnc_context *ctx, size_t n);
void *ctx_calloc(attnc_context *ctx, size_t n);
void ctx_free(attnc_context *ctx, void *p);

/* Records a message on the context (and returns status for `return`). */
attnc_status ctx_error(attnc_context *ctx, attnc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ctx_clear_error(attnc_context *ctx);
/* Records a message on the kernel (and on its context). */
attnc_status kernel_error(attnc_kernel *k, attnc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lowering used by kernel builds: passes' lower_recipe in the product;
 * tests may pass a hand-written one. */
typedef tir_kernel *(*kernel_lower_fn)(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err);
/* attnc_kernel_build's body, for a typed recipe (copied) and a lowering. */
attnc_status kernel_build_with(attnc_kernel **out, attnc_context *ctx, const recipe *r,
                               const attnc_build_options *options, kernel_lower_fn lower);

/* kernel_build_with, also keeping the recipe text's hash (NULL: unknown,
 * then GPU builds bypass the kernel cache). */
attnc_status kernel_build_hashed(attnc_kernel **out, attnc_context *ctx, const recipe *r, const char *recipe_hash,
                                 const attnc_build_options *options, kernel_lower_fn lower);

/* Deep copy of a recipe (strings, params, expressions) into arena a. */
recipe *kernel_recipe_copy(arena *a, const recipe *r);

/* The launch-time problem after validation: every size resolved. */
typedef struct launch_problem {
    int64_t sizes[SZ_MAX];
    const attnc_tensor *t[ARG_NFIXED];
    const attnc_tensor *params; /* [r->nparams] */
} launch_problem;

/* Validates args against the kernel's recipe (pointers, dtypes, shapes,
 * strides, alignment, sizes, params, form bounds). On failure records the
 * message on the kernel and returns ATTNC_ERR_INVALID_ARGUMENT. */
attnc_status launch_validate(attnc_kernel *k, const attnc_args *a, launch_problem *out);

/* Runs the CPU backend on a validated problem. */
attnc_status launch_host(attnc_kernel *k, const launch_problem *p);

#endif
