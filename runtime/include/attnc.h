/*
 * attnc.h — the attnc C API: compile attention recipes and run them.
 *
 * Typical use:
 *
 *   attnc_context *ctx;  attnc_context_create(&ctx, NULL);
 *   attnc_recipe *r;     attnc_recipe_from_file(&r, ctx, "recipes/causal.attn");
 *   attnc_kernel *k;     attnc_kernel_build(&k, ctx, r, NULL);  // CPU, recipe's tiling
 *   attnc_args *a;       attnc_args_create(&a, k);
 *   attnc_args_set_tensor(a, "q", &q);  ... "k", "v", "o", optional "lse", params
 *   attnc_args_set_size(a, "H", 64);    // grid dims and extra sizes by name
 *   attnc_launch(k, a, NULL);
 *   attnc_args_destroy(a); attnc_kernel_destroy(k); attnc_recipe_destroy(r);
 *   attnc_context_destroy(ctx);
 *
 * Conventions
 *  - Constructors take the result pointer first and return an attnc_status;
 *    on failure *out is set to NULL and the context's message says why
 *    (attnc_context_errmsg). Destroy functions accept NULL.
 *  - Ownership: each handle is owned by the caller and must be destroyed
 *    before the context that made it. Strings returned by the library belong
 *    to the object they were read from and stay valid until its next call.
 *  - Thread safety: a context and everything made from it may be used by one
 *    thread at a time; distinct contexts may be used concurrently. The disk
 *    cache is safe across threads and processes.
 *  - Kernel cache: a context opens one on its first CUDA build (folder
 *    $ATTNC_CACHE_DIR, else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc;
 *    memory-only, without an error, when the folder is unusable). CUDA
 *    builds reuse the PTX of an identical kernel (same lowered IR, schedule,
 *    arch and recipe text) and the cubin the driver linked from it (same
 *    PTX, compute capability and driver version: loaded without the driver
 *    JIT); a damaged entry is never loaded: it is rebuilt and the build's
 *    note is left in attnc_kernel_errmsg.
 *  - Tuned `tile auto` launches: a kernel built from a recipe whose tile
 *    section is `auto`, with no explicit options->schedule, picks its
 *    schedule per launch shape. On the first launch of a shape bucket
 *    (batch*heads, query and key tokens rounded up to powers of two, head
 *    dim; see docs/runtime.md) it looks the bucket up in the tuning
 *    database ($ATTNC_CACHE_DIR/tuning.sqlite, written by `attnc tune`;
 *    opened once per context) and, when a best schedule is stored that
 *    differs from the built one, builds that variant once (through the
 *    kernel cache) and keeps it inside the kernel; later launches of the
 *    bucket reuse the decision. No database, no record, a damaged or
 *    illegal record, or a variant that fails to build all mean the
 *    documented default schedule, never an error; the reason is left in
 *    attnc_kernel_errmsg after that (successful) launch. At most 16 buckets
 *    per kernel are remembered; launches of further buckets use the
 *    default. ATTNC_NO_TUNED=1 in the environment when the kernel is built
 *    turns the lookup off. attnc_kernel_last_schedule says what ran. The
 *    database open, its lookups and the per-kernel bucket table are guarded
 *    by mutexes; the thread-safety rule above is unchanged.
 *  - No global state besides one-time initialisation (LLVM targets, the
 *    dlopen of libcuda), which is thread-safe.
 *  - Every launch validates shapes, strides, alignment, dtypes and pointers
 *    before any work; a bad launch returns ATTNC_ERR_INVALID_ARGUMENT and
 *    writes nothing.
 */
#ifndef ATTNC_H
#define ATTNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ATTNC_BUILDING) && defined(__GNUC__)
#define ATTNC_API __attribute__((visibility("default")))
#else
#define ATTNC_API
#endif

#define ATTNC_VERSION_MAJOR 0
#define ATTNC_VERSION_MINOR 1
#define ATTNC_VERSION_PATCH 0
#define ATTNC_VERSION_NUMBER (ATTNC_VERSION_MAJOR * 10000 + ATTNC_VERSION_MINOR * 100 + ATTNC_VERSION_PATCH)

/* "0.1.0" */
ATTNC_API const char *attnc_version(void);
ATTNC_API int attnc_version_number(void);

typedef enum attnc_status {
    ATTNC_OK = 0,
    ATTNC_ERR_RECIPE = 1,           /* the recipe text is wrong (diagnostics say where) */
    ATTNC_ERR_INVALID_ARGUMENT = 2, /* bad call: NULL, shape, stride, dtype, alignment */
    ATTNC_ERR_UNSUPPORTED = 3,      /* valid, but not supported by this backend/arch */
    ATTNC_ERR_NO_DRIVER = 4,        /* no CUDA driver (libcuda) on this machine */
    ATTNC_ERR_NOMEM = 5,            /* allocation failed */
    ATTNC_ERR_CUDA = 6,             /* the CUDA driver reported an error */
    ATTNC_ERR_IO = 7,               /* a file could not be read or written */
    ATTNC_ERR_INTERNAL = 8,         /* a bug in attnc: please report it with the recipe */
} attnc_status;

/* Static text for a status code ("invalid argument"). Never NULL. */
ATTNC_API const char *attnc_status_string(attnc_status s);

typedef enum attnc_dtype {
    ATTNC_BF16 = 0,
    ATTNC_F16 = 1,
    ATTNC_F32 = 2,
    ATTNC_I32 = 3,
    ATTNC_I64 = 4,
    ATTNC_U8 = 5,
} attnc_dtype;

typedef enum attnc_backend {
    ATTNC_BACKEND_CPU = 0,  /* LLVM host JIT; always available */
    ATTNC_BACKEND_CUDA = 1, /* NVPTX + CUDA driver */
} attnc_backend;

typedef struct attnc_context attnc_context;
typedef struct attnc_recipe attnc_recipe;
typedef struct attnc_kernel attnc_kernel;
typedef struct attnc_args attnc_args;

/* A custom allocator for everything the library allocates on the heap.
 * alloc returns NULL on failure; free accepts NULL. */
typedef struct attnc_allocator {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} attnc_allocator;

/* Creates a context. allocator may be NULL (malloc/free); when given it must
 * outlive the context. Returns ATTNC_OK or ATTNC_ERR_NOMEM. */
ATTNC_API attnc_status attnc_context_create(attnc_context **out, const attnc_allocator *allocator);
ATTNC_API void attnc_context_destroy(attnc_context *ctx);

/* The message of the last failed call on this context, "" when none. Recipe
 * errors are rendered diagnostics (file:line:col: error: ..., source line,
 * caret, hint). Valid until the next call on the context. */
ATTNC_API const char *attnc_context_errmsg(const attnc_context *ctx);

/* Parses and checks a recipe. `name` is the file name shown in diagnostics
 * (may be NULL). The text need not be NUL-terminated. */
ATTNC_API attnc_status attnc_recipe_from_text(attnc_recipe **out, attnc_context *ctx, const char *name,
                                              const char *text, size_t len);
ATTNC_API attnc_status attnc_recipe_from_file(attnc_recipe **out, attnc_context *ctx, const char *path);
ATTNC_API void attnc_recipe_destroy(attnc_recipe *r);
/* The recipe's declared name. */
ATTNC_API const char *attnc_recipe_name(const attnc_recipe *r);

/* Build options, versioned: initialise with ATTNC_BUILD_OPTIONS_INIT. */
#define ATTNC_BUILD_OPTIONS_VERSION 1
typedef struct attnc_build_options {
    int version;             /* ATTNC_BUILD_OPTIONS_VERSION */
    attnc_backend backend;   /* default CPU */
    const char *schedule;    /* NULL: the recipe's `tile` section (auto: default or tuned);
                                else e.g. "q=64 kv=64 stages=2 warps=4" or "q=8x16 kv=8x8" */
    const char *arch;        /* CUDA: "sm_80", "sm_90a" or NULL for the device's */
} attnc_build_options;
#define ATTNC_BUILD_OPTIONS_INIT {ATTNC_BUILD_OPTIONS_VERSION, ATTNC_BACKEND_CPU, NULL, NULL}

/* Compiles a recipe for a backend. options may be NULL (CPU, recipe tiling).
 * The kernel does not reference the recipe afterwards. */
ATTNC_API attnc_status attnc_kernel_build(attnc_kernel **out, attnc_context *ctx, const attnc_recipe *r,
                                          const attnc_build_options *options);
ATTNC_API void attnc_kernel_destroy(attnc_kernel *k);
/* The schedule the kernel was compiled with, printed ("q=64 kv=64 ..."). */
ATTNC_API const char *attnc_kernel_schedule(const attnc_kernel *k);
/* The schedule the last successful attnc_launch of k ran with: for a `tile
 * auto` kernel the tuned choice of that launch's shape bucket, else (and
 * before any launch) attnc_kernel_schedule(k). */
ATTNC_API const char *attnc_kernel_last_schedule(const attnc_kernel *k);

/* A tensor view. data is a host pointer for the CPU backend and a device
 * pointer (CUdeviceptr cast to void *) for CUDA. Strides are in elements.
 * ndim is 4 for q/k/v/o ([batch, heads, tokens, dim]), 3 for lse. */
typedef struct attnc_tensor {
    attnc_dtype dtype;
    void *data;
    int ndim;
    int64_t shape[4];
    int64_t stride[4];
} attnc_tensor;

/* Launch arguments for one kernel. Tensors by name: "q", "k", "v", "o",
 * "lse" (optional, softmax family) and each `param` of the recipe. Sizes by
 * name: grid dims ("H", "W") and extra names used in param shapes; batch,
 * heads, tokens and kv_heads are read from the tensor shapes. The args copy
 * the tensor descriptors, not the data. */
ATTNC_API attnc_status attnc_args_create(attnc_args **out, const attnc_kernel *k);
ATTNC_API void attnc_args_destroy(attnc_args *a);
ATTNC_API attnc_status attnc_args_set_tensor(attnc_args *a, const char *name, const attnc_tensor *t);
ATTNC_API attnc_status attnc_args_set_size(attnc_args *a, const char *name, int64_t value);
/* Scalar float params (`param c : f32 []`) may be set by value. */
ATTNC_API attnc_status attnc_args_set_scalar(attnc_args *a, const char *name, double value);

/* Validates everything, then runs. stream: a CUstream for CUDA (NULL: the
 * default stream), ignored for the CPU. On CUDA the launch is asynchronous.
 * Kernels that keep scratch in module globals (linear attention with the
 * inter=chain schedule) never run two launches at once: a launch on another
 * stream than the kernel's previous one first waits for that one.
 * On the CPU the launch returns when done; its programs (query tiles x heads
 * x batch, or heads x batch for linear attention) are spread over a pool
 * of threads started for the launch: $ATTNC_NUM_THREADS of them when set
 * (a whole number from 1 to 1024; anything else makes the launch fail with
 * ATTNC_ERR_INVALID_ARGUMENT), else one per CPU this process may run on.
 * Every output element is computed by one program, so results are
 * bit-identical for any thread count. */
ATTNC_API attnc_status attnc_launch(attnc_kernel *k, const attnc_args *a, void *stream);

/* Progress of CPU launches on kernels of ctx: fn is called on the thread
 * that called attnc_launch, about every 100 ms while it runs and, when it
 * succeeds, once at the end with done == total, with the programs done, their total and the
 * seconds since the launch began. NULL fn turns it off (the default). */
typedef void (*attnc_progress_fn)(void *user, int64_t done, int64_t total, double seconds);
ATTNC_API void attnc_context_set_progress(attnc_context *ctx, attnc_progress_fn fn, void *user);

/* The message of the last failed call on the kernel or its args; after a
 * successful build, a note if any (e.g. a damaged cache entry rebuilt). */
ATTNC_API const char *attnc_kernel_errmsg(const attnc_kernel *k);

#ifdef __cplusplus
}
#endif
#endif
