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

#include <pthread.h>
#include <stdarg.h>

#include "codegen/host_codegen.h"
#include "frontend/recipe.h"
#include "support/arena.h"
#include "runtime/include/attnc.h"

enum { ERRMSG_CAP = 8192 };

struct kcache;
struct tune_db;

struct attnc_context {
    attnc_allocator alloc; /* the user's, or malloc/free */
    heap_alloc heap;       /* the same functions, for arenas */
    char errmsg[ERRMSG_CAP];
    struct kcache *cache; /* kernel cache, opened on the first GPU build (api_kcache.c) */
    bool cache_tried;     /* cache_open was attempted (NULL cache then: no cache) */
    /* The tuning database for `tile auto` launches (api_tuned.c): opened on
     * the first launch that needs it; `lock` guards the open and every
     * lookup (a tune_db handle is single-threaded). */
    pthread_mutex_t lock;
    struct tune_db *tune;
    bool tune_tried;
    char tune_note[256]; /* what the open reported (a damaged file moved aside), "" if nothing */
    attnc_progress_fn progress; /* CPU launch progress (host_launch.c), NULL: none */
    void *progress_user;
};

struct attnc_recipe {
    attnc_context *ctx;
    arena arena; /* the recipe and its expressions */
    recipe *r;
    char text_hash[33]; /* tune_recipe_hash of the source text */
};

/* Per-shape block tables (block_table.h); NULL until first needed. */
typedef struct block_table_cache block_table_cache;

/* Lowering used by kernel builds: passes' lower_recipe in the product;
 * tests may pass a hand-written one. */
typedef tir_kernel *(*kernel_lower_fn)(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err);

/* One shape bucket's decision for a `tile auto` kernel (api_tuned.c):
 * variant NULL means "launch the kernel itself" (no record, the record is
 * the built schedule, or the tuned variant failed to build). */
typedef struct tuned_slot {
    char bucket[64];
    char sched_text[128]; /* the tuned schedule requested ("" when none) */
    struct attnc_kernel *variant;
} tuned_slot;
enum { TUNED_SLOTS = 16 };

struct attnc_kernel {
    attnc_context *ctx;
    attnc_backend backend;
    arena arena;  /* recipe copy, tile IR, signature */
    recipe *r;    /* private copy (kernel_recipe_copy) */
    schedule sched;
    int sched_source; /* where sched came from: compile_job.h's sched_source */
    char sched_text[128];
    host_kernel host; /* CPU backend: JIT and signature */
    void *backend_data;            /* the backend's state (api_backend.h: built and released by its row) */
    char recipe_hash[33];          /* of the recipe text; "" (not cached) when unknown */
    block_table_cache *btab;       /* block_table.c; freed by attnc_kernel_destroy */
    char errmsg[ERRMSG_CAP];       /* after a successful build: a note, if any */
    /* `tile auto` launches (api_tuned.c). tuned_auto: built from an auto
     * recipe without an explicit schedule, with a recipe hash, and
     * ATTNC_NO_TUNED unset at build time. Variants are built with the same
     * options (backend, arch) and lowering, live until the kernel is
     * destroyed, and are guarded by tune_lock. */
    bool tuned_auto;
    target_arch arch;       /* what the kernel was built for */
    kernel_lower_fn lower;  /* the lowering it was built with */
    pthread_mutex_t tune_lock;
    tuned_slot tuned[TUNED_SLOTS];
    int ntuned;
    char last_sched[128]; /* the schedule of the last successful launch ("" before) */
    unsigned flags;       /* attnc_build_options.flags it was built with */
    struct bwd_kernel *bwd; /* a backward program (api_backward.c); NULL for forward kernels */
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
    /* varlen launches (api_varlen.c): "cu_seqlens_q", "cu_seqlens_k" */
    attnc_tensor cu_seqlens[2];
    bool cu_seqlens_set[2];
};

/* The names of the varlen arrays, and the index (0: q, 1: k) of a name or -1. */
int varlen_arg_index(const char *name);

/* A varlen launch (a has cu_seqlens set): validates the arrays, the packed
 * tensors and every sequence, then runs one ordinary launch per sequence
 * on slices of the tensors (api_varlen.c). */
attnc_status launch_varlen(attnc_kernel *k, const attnc_args *a, void *stream);

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

/* The caller's build options read as far as their version has fields (NULL:
 * the defaults); ATTNC_ERR_INVALID_ARGUMENT, with the message on ctx, for a
 * version this library does not know. */
attnc_status kernel_options_read(attnc_context *ctx, const attnc_build_options *in, attnc_build_options *out);

/* A validated problem with batch, heads or tokens 0: a no-op that succeeds
 * without launching anything (attnc.h). */
bool launch_is_empty(const launch_problem *p);

/* The value of a 0-dim (scalar) param, read from host memory as its dtype
 * says (f32, bf16, f16, i32, i64, u8); 0 when t->data is NULL. Backends that
 * pass scalars by value (CUDA) use it. */
double launch_scalar_value(const attnc_tensor *t);
/* Row-major with no gaps (extents of 1 may have any stride). */
bool tensor_is_contiguous(const attnc_tensor *t);
/* Bytes per element of t's dtype. */
int tensor_elem_size(attnc_dtype t);

/* The kernel a validated launch of k runs on: k itself, or for a `tile
 * auto` kernel the variant built for the tuned schedule of p's shape bucket
 * (built on the first launch of that bucket). Never fails: any problem
 * (no database, a damaged record, a variant that does not build) means k,
 * with a note in k->errmsg. api_tuned.c. */
attnc_kernel *kernel_for_launch(attnc_kernel *k, const launch_problem *p);
/* Releases the variants (attnc_kernel_destroy) and the context's database. */
void kernel_tuned_free(attnc_kernel *k);
void ctx_tune_close(attnc_context *ctx);

/* k->sched_text from k->sched (after the schedule is resolved or refined). */
void kernel_set_schedule_text(attnc_kernel *k);
/* Runs a validated launch on the CPU backend, spread over threads
 * (host_launch.c). */
attnc_status launch_host(attnc_kernel *k, const launch_problem *p);

/* ---- backward kernels (api_backward.c, api_validate_bwd.c) ----
 * The args of a backward kernel hold, after the forward's tensors
 * (ARG_NFIXED + nparams), "do", "dq", "dk", "dv" (BWD_*), then one
 * "d<param>" per recipe param. */
enum { BWD_DO, BWD_DQ, BWD_DK, BWD_DV, BWD_NFIXED };
/* Index of a backward tensor name in the args, or -1 (k->bwd set). */
int bwd_tensor_index(const attnc_kernel *k, const char *name);
/* Tensors of the args of k (forward or backward). */
int kernel_arg_tensors(const attnc_kernel *k);
/* Allocates k->bwd with its param gradients (which params, their names). */
attnc_status bwd_kernel_init(attnc_kernel *k);
/* Builds k's backward program on the CPU (k->r and k->sched are set). */
attnc_status bwd_build_host(attnc_kernel *k, strbuf *err);
/* Validates and runs a launch of a backward kernel. */
attnc_status launch_backward(attnc_kernel *k, const attnc_args *a);
/* Releases what bwd_build_host made (attnc_kernel_destroy). */
void bwd_kernel_free(attnc_kernel *k);
/* "d<param>" for each param with a gradient, NULL for the others (an
 * array of nparams); NULL for a forward kernel. */
const char *const *kernel_bwd_grad_names(const attnc_kernel *k);
/* attnc_kernel_build's body, for a forward or (backward) a backward kernel. */
attnc_status kernel_build_kind(attnc_kernel **out, attnc_context *ctx, const recipe *r, const char *recipe_hash,
                               const attnc_build_options *options, kernel_lower_fn lower, bool backward);

#endif
