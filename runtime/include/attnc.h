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
 *    arch and recipe text) and the cubin ptxas made from it (same PTX,
 *    compute capability, driver version and compiler: loaded without a
 *    JIT); backward programs (attnc_kernel_build_backward) reuse their
 *    PTX likewise, keyed also by the $ATTNC_BWD_* settings and
 *    ATTNC_BUILD_DETERMINISTIC. A damaged entry is never loaded: it is
 *    rebuilt and the build's note is left in attnc_kernel_errmsg.
 *  - JIT: PTX becomes machine code through NVIDIA's ptxas when one is
 *    installed ($ATTNC_PTXAS, else /usr/local/cuda/bin/ptxas, else PATH),
 *    else through the driver's own compiler, which keeps no cubin to cache;
 *    $ATTNC_JIT = auto (default) | ptxas | driver chooses (docs/runtime.md).
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
 *    writes nothing. Sizes are bounded (ATTNC_MAX_* below) and every product
 *    of sizes, strides and element sizes is overflow-checked, so no
 *    argument can make a kernel index out of range.
 *  - Empty launches: a launch with batch, heads or tokens 0 is valid. It is
 *    validated like any other (tensors with a zero extent may have data
 *    NULL; neighborhood windows are not compared with the grid), then
 *    succeeds without running anything: nothing is written, no GPU kernel is
 *    launched, and attnc_kernel_last_schedule is unchanged. Sizes set by
 *    name (grid dims, extra sizes) may be 0 only in an empty launch (a zero
 *    grid dim makes tokens 0). kv_tokens 0 with tokens > 0 (cross
 *    attention) is not empty: every query row has no key, so O = 0 and
 *    LSE = -inf. kv_heads must be >= 1 when heads >= 1.
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

/* Size limits, checked at every launch (and, for sizes a recipe fixes with
 * a number, when the recipe is checked). batch and heads (and kv_heads) are
 * CUDA grid dimensions; tokens (and kv_tokens, and the product of a token
 * grid's extents) leave the kernels' 32-bit token arithmetic a factor of two
 * of headroom; ATTNC_MAX_SIZE bounds any other size set by name and any one
 * tensor extent. Besides, each tensor must span at most 2^62 bytes (the
 * offset of its last element, from the strides). */
#define ATTNC_MAX_BATCH ((int64_t)65535)
#define ATTNC_MAX_HEADS ((int64_t)65535)
#define ATTNC_MAX_TOKENS ((int64_t)1 << 30)
#define ATTNC_MAX_SIZE ((int64_t)2147483647)

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

/* Build options, versioned: initialise with ATTNC_BUILD_OPTIONS_INIT.
 * Version 2 added `flags`, version 3 `no_grad`; callers compiled against
 * an older version (a struct without them) keep working: the library reads
 * only the fields their version has. */
#define ATTNC_BUILD_OPTIONS_VERSION 3
typedef struct attnc_build_options {
    int version;             /* ATTNC_BUILD_OPTIONS_VERSION */
    attnc_backend backend;   /* default CPU */
    const char *schedule;    /* NULL: the recipe's `tile` section (auto: default or tuned);
                                else e.g. "q=64 kv=64 stages=2 warps=4" or "q=8x16 kv=8x8" */
    const char *arch;        /* CUDA: "sm_80", "sm_90a" (also sm_86, sm_87, sm_89, sm_100,
                                sm_120: sm_80 code; sm_90: sm_90a code) or NULL for the
                                device's; f32 recipes are refused (CPU only) */
    unsigned flags;          /* version >= 2: ATTNC_BUILD_* bits, 0 by default */
    const char *no_grad;     /* version >= 3: params held constant by the backward pass,
                                as comma-separated names ("decay" or "slopes,bias"; NULL
                                or "": none): attnc_kernel_build_backward computes no
                                gradient for them and takes no "d" + NAME (fixed ALiBi
                                slopes, a frozen bias, Lightning Attention's fixed decay
                                rates). Every name must be a param of the recipe
                                (ATTNC_ERR_INVALID_ARGUMENT otherwise); forward builds
                                check the names and are otherwise unchanged. */
} attnc_build_options;
#define ATTNC_BUILD_OPTIONS_INIT {ATTNC_BUILD_OPTIONS_VERSION, ATTNC_BACKEND_CPU, NULL, NULL, 0u, NULL}

/* Bit-identical results run to run (attnc_build_options.flags). Every CPU
 * kernel, forward and backward, is deterministic already whatever the
 * flag says: each output element is computed by one program in a fixed
 * order, and the backward's param gradients are summed over a fixed number
 * of per-slot partials in slot order. The flag is accepted and kept so
 * that code asking for determinism stays right on backends where the
 * fastest path is not deterministic: the CUDA backward on sm_90a forms dQ
 * by bulk reductions of f32 tiles (the default there; $ATTNC_BWD_DQ=
 * kernel|atomic|bulk picks another way) only without this flag; with it,
 * dQ comes from its own kernel, bit-identical run to run. */
#define ATTNC_BUILD_DETERMINISTIC 0x1u

/* A forward kernel at global coordinates (attnc_build_options.flags): it
 * computes one block of a larger attention — its q, k, v, o and lse are
 * slices of the whole problem's — and evaluates the mask, the score and
 * every param index where those tokens lie in the whole problem, so a
 * causal, windowed, document or neighborhood mask stays right for any
 * block. It takes these sizes besides the recipe's (attnc_args_set_size):
 *   "q_offset", "k_offset"  where the block's first query / key lies: a
 *       token index for a sequence, a row of the outermost grid dim for a
 *       token grid (always taken);
 *   sequences: "tokens_global" (and "kv_tokens_global" for a cross-attention
 *       recipe) the whole problem's token counts (always taken); k and v
 *       may have any number of tokens (a key range), so the key range
 *       [k_begin, k_end) of a sequence is k and v offset by k_begin tokens,
 *       shape k_end - k_begin, and k_offset = k_begin; a launch needs
 *       q_offset + tokens <= tokens_global and k_offset + kv_tokens <=
 *       kv_tokens_global (tokens_global for self-attention);
 *   grids: "<outer>_global" (e.g. "T_global" for grid(time: T, ...)) the
 *       whole grid's outermost extent; the block's q and k share their
 *       extents (the launch's grid sizes), key rows at or past
 *       <outer>_global are masked, so slabs may be padded to equal rows; a
 *       launch needs q_offset and k_offset < <outer>_global;
 *   "head_offset" the block's first head (when the mask or score reads the
 *       head), "heads_global" (when they or a param shape read heads).
 * Params are the whole problem's (a doc id table over all tokens); param
 * dims named tokens/heads/the outer grid extent take the global sizes, and
 * neighborhood windows are checked against the whole problem's extents.
 * The offsets may be 0 in a non-empty launch. Softmax family only (linear
 * attention fails with ATTNC_ERR_UNSUPPORTED); forward kernels only. A size
 * the recipe already names the same way, or more than 8 extra sizes in
 * all, fail with ATTNC_ERR_UNSUPPORTED. attnc_kernel_arg_info lists the
 * sizes. */
#define ATTNC_BUILD_GLOBAL_COORDS 0x2u

/* Compiles a recipe for a backend. options may be NULL (CPU, recipe tiling).
 * The kernel does not reference the recipe afterwards. */
ATTNC_API attnc_status attnc_kernel_build(attnc_kernel **out, attnc_context *ctx, const attnc_recipe *r,
                                          const attnc_build_options *options);

/* Compiles the backward program of a recipe: the gradients of a loss L
 * with respect to the attention's inputs, given dO = dL/dO. options as for
 * attnc_kernel_build (schedule: the recipe's tiles, or a spec; the flags).
 *
 * Launch it with attnc_launch and these tensors (attnc_args_set_tensor):
 *   inputs   "q", "k", "v"   as for the forward;
 *            "o"             the forward's output (both families; the
 *                            linear family validates but does not read it);
 *            "lse"           the forward's log-sum-exp, f32 [batch, heads,
 *                            tokens] (softmax family: required);
 *            "do"            dL/dO, shaped and typed like o;
 *            the recipe's params, as for the forward;
 *   outputs  "dq", "dk", "dv" shaped and typed like q, k, v;
 *            "d" + NAME      for each param with a gradient, shaped and
 *                            typed like the param: every float param the
 *                            score reads in a value position (a bias table,
 *                            ALiBi slopes given as a param), and a causal
 *                            linear recipe's decay (per-head λ or per-token
 *                            log-space gate). Params read only by the mask
 *                            (or only as indices) get none, nor do params
 *                            held constant (options->no_grad), and setting
 *                            "d" + NAME for them is an error.
 * Outputs are overwritten, never accumulated. Sizes are set as for the
 * forward. Semantics (docs/recipe-language.md, "Gradients"): rows whose
 * every key is masked contribute nothing and get dq = 0; keys no query
 * sees get dk = dv = 0; GQA/MQA dk and dv sum over the query heads that
 * share a k/v head; param elements never read get 0. dK/dV and the
 * params' gradients accumulate in f32 (param gradients summed over a fixed
 * number of slots in f64) and are rounded once to the output dtype.
 *
 * Backends: the CPU (one JIT-compiled host function per phase of the
 * program; results are bit-identical run to run and for any thread count,
 * ATTNC_BUILD_DETERMINISTIC or not). ATTNC_BACKEND_CUDA (softmax family,
 * bf16/f16): a program of GPU kernels run in order on the launch's stream
 * (delta = rowsum(dO·O); dK/dV per key tile over the query tiles that see
 * it; dQ per query tile over its key tiles; each "d" + NAME summed in a
 * fixed order from per-warp f32 slices the dK/dV kernel fills, then
 * rounded to the param's dtype), deterministic whether the flag is set or
 * not (except the atomic modes below); the workspace (f32 [batch, heads, tokens], plus (key tiles x kv
 * heads x batch x 4) f32 slices of each param with a gradient) is the
 * kernel's own device memory, grown on demand, so launches of one kernel
 * are ordered (a launch on another stream waits for the previous one).
 * q, k, v, o, "do" need 16-byte aligned rows, dq, dk, dv 4-byte aligned
 * pairs of elements (even strides), "d" + NAME contiguous device tensors.
 * Param slices over 4 GB in all (a bias tensor over long sequences) are
 * replaced by one f32 accumulator per param and atomic adds (not
 * deterministic; so are they whenever dQ is formed by atomics or bulk
 * reductions, the sm_90a default without ATTNC_BUILD_DETERMINISTIC), or, in an
 * ATTNC_BUILD_DETERMINISTIC build, make the launch return
 * ATTNC_ERR_UNSUPPORTED. The linear family on CUDA (causal, identity
 * feature map, no normaliser, head dims 64 or 128, bf16/f16, an f32 decay
 * param) runs its own program (docs/linear-gpu.md: dq, dk, dv scans, the
 * decay's gradient in f64 in a fixed order, deterministic; workspace, with
 * a decay gradient, 32 bytes a token and head_dim x head_dim_v bf16 a
 * 64-token block, none without); other linear recipes, GQA and cross attention in it
 * return ATTNC_ERR_UNSUPPORTED ($ATTNC_BWD_LINEAR=0 refuses it all). A
 * score reading params with
 * gradients at more than 8 places, and a param whose partial derivative
 * depends on the query/key position (ALiBi slopes given as a param: the
 * GPU's delta, rowsum(dO*O) with O in bf16/f16, is not exact enough for
 * them; the CPU's is) return ATTNC_ERR_UNSUPPORTED on CUDA (build them for
 * the CPU). A recipe whose score has no derivative
 * (floor(s), a float % of s) fails with ATTNC_ERR_RECIPE and a located
 * diagnostic in attnc_context_errmsg. The launch allocates its workspace
 * with the context's allocator and frees it before returning: f32 rows of
 * dO·O ([batch, heads, tokens]); up to 64 per-slot partials of each param
 * gradient (256 MB at most together, fewer slots for big params); for
 * linear attention per-token rows, the normalised dO and, with GQA,
 * per-query-head dK/dV partials (f32, the size of q and of k per head). */
ATTNC_API attnc_status attnc_kernel_build_backward(attnc_kernel **out, attnc_context *ctx, const attnc_recipe *r,
                                                   const attnc_build_options *options);
ATTNC_API void attnc_kernel_destroy(attnc_kernel *k);
/* The schedule the kernel was compiled with, printed ("q=64 kv=64 ..."). */
ATTNC_API const char *attnc_kernel_schedule(const attnc_kernel *k);
/* The schedule the last successful attnc_launch of k ran with: for a `tile
 * auto` kernel the tuned choice of that launch's shape bucket, else (and
 * before any launch) attnc_kernel_schedule(k). */
ATTNC_API const char *attnc_kernel_last_schedule(const attnc_kernel *k);

/* A tensor view. data is a host pointer for the CPU backend and a device
 * pointer (CUdeviceptr cast to void *) for CUDA, except for a 0-dim (scalar)
 * param: its data is a host pointer on every backend, read by its dtype when
 * the launch is made and passed to the kernel by value. Strides are in elements.
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
 * name: grid dims ("H", "W") and extra names used in param shapes, each
 * 0..ATTNC_MAX_TOKENS (grid dims) or 0..ATTNC_MAX_SIZE (extras); batch,
 * heads, tokens and kv_heads are read from the tensor shapes. The args copy
 * the tensor descriptors, not the data. */
ATTNC_API attnc_status attnc_args_create(attnc_args **out, const attnc_kernel *k);
ATTNC_API void attnc_args_destroy(attnc_args *a);
ATTNC_API attnc_status attnc_args_set_tensor(attnc_args *a, const char *name, const attnc_tensor *t);
ATTNC_API attnc_status attnc_args_set_size(attnc_args *a, const char *name, int64_t value);
/* Replaces the data pointers of n tensors already set on a (by name, as
 * attnc_args_set_tensor set them); shapes, strides and dtypes stay. For
 * bindings that launch the same shapes many times with new buffers: one
 * call instead of one attnc_args_set_tensor per tensor. A name not set
 * earlier (or a 0-dim scalar param) is ATTNC_ERR_INVALID_ARGUMENT and
 * changes nothing. attnc_launch validates the result as always. */
ATTNC_API attnc_status attnc_args_set_data(attnc_args *a, int n, const char *const *names, void *const *data);
/* Scalar float params (`param c : f32 []`) may be set by value. */
ATTNC_API attnc_status attnc_args_set_scalar(attnc_args *a, const char *name, double value);

/* Validates everything, then runs. stream: a CUstream for CUDA (NULL: the
 * default stream), ignored for the CPU. On CUDA the launch is asynchronous.
 * Kernels that keep scratch in module globals (linear attention with the
 * inter=chain schedule; document masks, whose blocks share each query
 * tile's document cut through a table; persistent blocks with dynamic items)
 * never run two launches at once: a launch on another stream than the
 * kernel's previous one first waits for that one.
 * On the CPU the launch returns when done; its programs (query tiles x heads
 * x batch, or heads x batch for linear attention) are spread over a pool
 * of threads started for the launch: $ATTNC_NUM_THREADS of them when set
 * (a whole number from 1 to 1024; anything else makes the launch fail with
 * ATTNC_ERR_INVALID_ARGUMENT), else one per CPU this process may run on.
 * Every output element is computed by one program, so results are
 * bit-identical for any thread count. */
ATTNC_API attnc_status attnc_launch(attnc_kernel *k, const attnc_args *a, void *stream);

/* ---- Variable-length (packed) batches (runtime/api_varlen.c) ----
 *
 * FlashAttention's cu_seqlens form: B sequences of different lengths packed
 * along the token axis, each attended on its own. A launch is varlen when
 * the tensor "cu_seqlens_q" is set (attnc_args_set_tensor; also accepted by
 * attnc_args_set_data); "cu_seqlens_k" is optional and defaults to
 * cu_seqlens_q. Both are int32 (ATTNC_I32), ndim 1, shape [B + 1], any
 * stride, in HOST memory on every backend (on CUDA too: the launch reads
 * them on the host before any device work, like FlashAttention's
 * max_seqlen; they may be changed or freed once attnc_launch returns).
 * Sequence b holds the query tokens [cu_seqlens_q[b], cu_seqlens_q[b+1])
 * and the key tokens [cu_seqlens_k[b], cu_seqlens_k[b+1]).
 *
 * The tensors keep their usual 4-D form with batch 1 and the packed token
 * axis: q and o [1, heads, total_q, D] (FlashAttention's [total_q, heads,
 * D] is this shape with strides {.., D, heads*D, 1}), k and v [1, kv_heads,
 * total_k, D], lse [1, heads, total_q]. Params are sliced like the tokens:
 * a param dimension named `tokens` has extent total_q, one named
 * `kv_tokens` extent total_k (each sequence sees its own slice), one named
 * `batch` extent B (sequence b sees row b); other dims are shared.
 *
 * Semantics: exactly B independent attentions. In sequence b every mask
 * (causal, windows, sinks, neighborhoods with their border clamping,
 * documents, ...), score and param index is evaluated in the sequence's
 * LOCAL coordinates, with tokens = Lq(b) = cu_seqlens_q[b+1] -
 * cu_seqlens_q[b] and kv_tokens = Lk(b) likewise; no key of another
 * sequence is ever read. Queries and keys with different lengths follow
 * attnc's cross-attention convention (recipes that declare kv_tokens;
 * docs/recipe-language.md): query i and key j are compared at their own
 * indices (`k.t <= q.t` keeps j <= i: top-left aligned), not
 * FlashAttention's bottom-right alignment, which is written
 * `k.t <= q.t + kv_tokens - tokens`. A self-attention recipe (no kv_tokens) needs
 * Lk(b) == Lq(b) for every b. Sequences may be empty: Lq(b) = 0 writes
 * nothing; Lk(b) = 0 with Lq(b) > 0 gives O = 0 and LSE = -inf for those
 * rows (cross-attention recipes).
 *
 * Validation, before any work (ATTNC_ERR_INVALID_ARGUMENT, with the reason
 * and the offending index in attnc_kernel_errmsg): dtype, ndim and shape of
 * both arrays (the same B >= 1, at most ATTNC_MAX_BATCH sequences); each
 * starts at 0, never decreases, and ends at q's (k's) token count; q, k,
 * v, o and lse have batch 1 and the packed token count, with strides that
 * keep every offset within 2^62 bytes; then every sequence as a launch of its own
 * (shapes, strides, alignment, a neighborhood window at most its length).
 * Token-grid recipes, ATTNC_BUILD_GLOBAL_COORDS kernels, programs
 * (attnc_program_launch) and context parallelism (attnc_cp_*) return
 * ATTNC_ERR_UNSUPPORTED for varlen launches. attnc_kernel_arg_info does not
 * list the two arrays (they are optional on every kernel).
 *
 * Backward kernels (attnc_kernel_build_backward) take the same arrays and
 * packed "do", "dq", "dk", "dv" (CPU: tested; CUDA: the same per-sequence
 * launches). A param gradient that every sequence would add into (a param
 * with no tokens/kv_tokens/batch dim, e.g. a bias table or ALiBi slopes
 * given as a param) returns ATTNC_ERR_UNSUPPORTED, and a sequence with keys
 * but no query (Lq(b) = 0 < Lk(b)) ATTNC_ERR_INVALID_ARGUMENT (its dk, dv
 * would be left unwritten, as in an empty launch).
 *
 * Execution today: one launch of the kernel per non-empty sequence (an
 * empty one is an empty launch), so cross-sequence tiles are never
 * visited. On CUDA the B launches (asynchronous) go round robin to four
 * side streams of the device's primary context that wait for `stream`'s
 * earlier work, and `stream` waits for them (events), so sequences may
 * overlap on the GPU while the launch stays ordered in `stream` like one
 * kernel; kernels whose launches must not overlap (a backward program's
 * workspace, module-global scratch) still run one after another.
 * $ATTNC_VARLEN_STREAMS=0 (or a driver without cuStreamCreate) puts them on
 * `stream` in order instead. The CPU spreads each sequence's
 * programs over its threads, and a progress callback reports each
 * sequence as a launch. attnc_kernel_last_schedule: the last non-empty
 * sequence's. AOT launchers (attnc compile --aot) have no
 * varlen form. */

/* Progress of CPU launches on kernels of ctx: fn is called on the thread
 * that called attnc_launch, about every 100 ms while it runs and, when it
 * succeeds, once at the end with done == total, with the programs done, their total and the
 * seconds since the launch began. NULL fn turns it off (the default). */
typedef void (*attnc_progress_fn)(void *user, int64_t done, int64_t total, double seconds);
ATTNC_API void attnc_context_set_progress(attnc_context *ctx, attnc_progress_fn fn, void *user);

/* The message of the last failed call on the kernel or its args; after a
 * successful build, a note if any (e.g. a damaged cache entry rebuilt). */
ATTNC_API const char *attnc_kernel_errmsg(const attnc_kernel *k);

/* Element conversions for preparing inputs and reading outputs (host
 * memory). bf16 and f16 values are their IEEE bit patterns in uint16_t.
 *  - f32 -> bf16/f16 round to nearest, ties to even (whatever the current
 *    floating-point rounding mode); values past the largest finite bf16/f16
 *    (f16: |x| >= 65520) become +-inf; f16 subnormals are produced exactly
 *    (|x| <= 2^-25 becomes +-0, keeping the sign);
 *  - bf16/f16 -> f32 are exact;
 *  - NaN stays NaN in both directions, with its sign and the leading bits of
 *    its payload, always as a quiet NaN; inf stays inf.
 * src and dst may not overlap. n = 0 does nothing. Thread-safe. */
ATTNC_API void attnc_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
ATTNC_API void attnc_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
ATTNC_API void attnc_f32_to_f16(const float *src, uint16_t *dst, size_t n);
ATTNC_API void attnc_f16_to_f32(const uint16_t *src, float *dst, size_t n);

/* ---- Programs of kernels (runtime/program/program_split.c; docs/runtime.md) ----
 *
 * A program computes one forward attention with several kernels and a
 * workspace it owns. attnc_program_build_kv_split: `kv_splits` (1..64)
 * contiguous key ranges, one launch each of the recipe's forward kernel
 * built with ATTNC_BUILD_GLOBAL_COORDS (so masks see global key
 * positions), writing partial (O, LSE) into the workspace, then the
 * LSE-merge kernel, which writes o and lse exactly as one forward launch
 * would (O = sum_i exp(LSE_i - LSE) O_i, LSE = log sum_i exp(LSE_i); a range
 * with no kept key has LSE -inf and adds nothing; a row with no kept key at
 * all gets O = 0, LSE = -inf; NaN rows stay NaN). Partial outputs are kept
 * in q's dtype, so results match one launch within that dtype's rounding,
 * not bit for bit. Token sequences only (a token grid: attnc_cp_*).
 *
 * Args come from attnc_program_args_create and are set as for the plain
 * forward kernel (q, k, v, o, optional lse, params, the recipe's sizes);
 * the program sets q_offset, k_offset and the global sizes itself. The
 * whole launch is validated before any kernel runs. Workspace: kv_splits x
 * (batch*heads*tokens*(head_dim_v * sizeof(q's dtype) + 4)) bytes, host
 * memory from the context's allocator or device memory (cuMemAlloc), kept
 * until the program is destroyed and grown when a launch needs more.
 * CUDA launches are asynchronous on `stream`; two launches of one program
 * must not overlap (they share the workspace). */
#define ATTNC_PROGRAM_MAX_SPLITS 64
typedef struct attnc_program attnc_program;
ATTNC_API attnc_status attnc_program_build_kv_split(attnc_program **out, attnc_context *ctx, const attnc_recipe *r,
                                                    int kv_splits, const attnc_build_options *options);
ATTNC_API void attnc_program_destroy(attnc_program *p);
ATTNC_API attnc_status attnc_program_args_create(attnc_args **out, const attnc_program *p);
ATTNC_API attnc_status attnc_program_launch(attnc_program *p, const attnc_args *a, void *stream);
/* The message of the program's last failed launch, or its forward kernel's. */
ATTNC_API const char *attnc_program_errmsg(const attnc_program *p);
/* The program's global-coordinates forward kernel (owned by the program). */
ATTNC_API const attnc_kernel *attnc_program_kernel(const attnc_program *p);

/* ---- Context parallelism (runtime/program_cp*.c; docs/runtime.md) ----
 *
 * One forward attention over a sequence (or token grid) sharded across R
 * ranks, each a GPU of one NCCL communicator, or all simulated in this
 * process on one device. Schedules (attnc_cp_kind):
 *  - RING: the sharded axis (tokens; for a token grid the rows of its
 *    outermost dim, cut into slabs of equal rows, the last padded) in R
 *    contiguous segments, rank r holding segment r. Each rank visits the
 *    ranks' K/V blocks in ring order (its own, then r-1, r-2, ...); a
 *    (query segment, key block) pair that mask analysis proves empty over
 *    the whole problem's boxes is skipped (a causal rank never computes
 *    later ranks' blocks; a neighborhood rank only its halo neighbours'),
 *    the others are launches of the recipe's forward kernel at global
 *    coordinates (ATTNC_BUILD_GLOBAL_COORDS) into partial (O, LSE), merged
 *    with the LSE-merge kernel (attnc_program_*).
 *  - ZIGZAG: the same over 2R segments, rank r holding segments r and
 *    2R-1-r, which balances causal work.
 *  - ULYSSES: all-to-all from sequence shards to head groups (rank r gets
 *    heads [r H/R, (r+1) H/R) and kv heads likewise, every token), one
 *    launch with head_offset, all-to-all back. heads and kv_heads must be
 *    multiples of R.
 * Results equal one launch within q's dtype rounding (partials are kept in
 * that dtype). Rows with no kept key get O = 0, LSE = -inf as always.
 *
 * attnc_cp_launch_simulated runs every rank in this process on one device
 * (the CPU, or the current GPU for ATTNC_BACKEND_CUDA): args as for the
 * plain forward kernel over the WHOLE problem (attnc_cp_args_create; the
 * plan sets offsets and global sizes), the same schedule and merges, with
 * blocks copied (memcpy / cuMemcpy2DAsync) where NCCL would send them. The
 * head dim of q, k, v and o must be contiguous (stride 1). It allocates a
 * workspace per launch (dense copies of one rank's q segment, one received
 * K/V block, 2R partials; Ulysses: one head group's q, k, v, o) and, on
 * CUDA, waits for the stream before freeing it.
 *
 * attnc_cp_launch is the multi-GPU path: options.nccl_comm is this rank's
 * ncclComm_t (options.rank its rank) and the args hold this rank's shard
 * of q, k, v, o and lse (params: the whole problem's), every rank holding the same number
 * of tokens (a token grid: the same number of outer rows, set as the
 * outer grid size; the other grid sizes as for the whole grid). K/V blocks
 * travel by ncclSend/ncclRecv on a communication stream of the launch,
 * overlapped with the partials on `stream`; the call returns when the
 * rank's o and lse are written (it waits for the device). libnccl.so.2 is
 * opened with dlopen at plan creation (no link dependency); without it
 * attnc_cp_plan_create fails with ATTNC_ERR_NO_DRIVER, and with the CPU
 * backend with ATTNC_ERR_UNSUPPORTED. attnc sets NCCL_NVLS_ENABLE=0 in the
 * environment when it is unset (NVLink multicast off) before opening NCCL;
 * a communicator created earlier keeps the setting it was created with, so
 * set it yourself (or create the plan first). attnc never creates
 * multicast objects. Every kind runs over NCCL (a zigzag shard is
 * segments rank and 2R-1-rank, concatenated, of equal length; Ulysses'
 * exchanges are one group of sends and receives each, on `stream`). The
 * per-rank code is tested on the CPU (and one GPU) with loopback
 * transports; the NCCL transport itself has not yet run on several GPUs. */
typedef enum attnc_cp_kind {
    ATTNC_CP_RING = 0,
    ATTNC_CP_ZIGZAG = 1,
    ATTNC_CP_ULYSSES = 2,
} attnc_cp_kind;

#define ATTNC_CP_MAX_RANKS 64
#define ATTNC_CP_OPTIONS_VERSION 1
typedef struct attnc_cp_options {
    int version;         /* ATTNC_CP_OPTIONS_VERSION */
    attnc_cp_kind kind;
    int ranks;           /* 1..ATTNC_CP_MAX_RANKS */
    int rank;            /* this process's rank (NCCL only) */
    void *nccl_comm;     /* ncclComm_t; NULL: simulated ranks only */
} attnc_cp_options;
#define ATTNC_CP_OPTIONS_INIT {ATTNC_CP_OPTIONS_VERSION, ATTNC_CP_RING, 1, 0, NULL}

typedef struct attnc_cp_plan attnc_cp_plan;
/* Builds the plan's kernels (forward at global coordinates, merge) for
 * build->backend (NULL: CPU). */
ATTNC_API attnc_status attnc_cp_plan_create(attnc_cp_plan **out, attnc_context *ctx, const attnc_recipe *r,
                                            const attnc_build_options *build, const attnc_cp_options *options);
ATTNC_API void attnc_cp_plan_destroy(attnc_cp_plan *p);
ATTNC_API attnc_status attnc_cp_args_create(attnc_args **out, const attnc_cp_plan *p);
ATTNC_API attnc_status attnc_cp_launch_simulated(attnc_cp_plan *p, const attnc_args *whole, void *stream);
ATTNC_API attnc_status attnc_cp_launch(attnc_cp_plan *p, const attnc_args *local, void *stream);
ATTNC_API const char *attnc_cp_errmsg(const attnc_cp_plan *p);
/* The plan's forward kernel (owned by the plan). */
ATTNC_API const attnc_kernel *attnc_cp_kernel(const attnc_cp_plan *p);
/* Block pairs the last launch computed and skipped (over all ranks when simulated). */
ATTNC_API void attnc_cp_last_stats(const attnc_cp_plan *p, int64_t *computed, int64_t *skipped);

/* ---- Introspection: a kernel's argument list (runtime/api/api_introspect.c) ----
 *
 * What a binding (the Python package, a framework glue layer) needs to call a
 * kernel without knowing its recipe: every tensor it reads or writes and
 * every size it takes by name, in a fixed order:
 *   the tensors "q", "k", "v" (inputs), "o" and, for the softmax family,
 *   "lse" (outputs; lse optional), then the recipe's params in declaration
 *   order (inputs), then the sizes set with attnc_args_set_size: the grid
 *   extents outermost first, then the extra names of param shapes.
 * A backward kernel answers the same way with its own list (inputs "q", "k",
 * "v", "o", "lse", "do" and the params; outputs "dq", "dk", "dv" and
 * "d<param>" for each float param that gets a gradient).
 *
 * Each tensor dimension is described by the size it names and, where known
 * before launch, its extent: q is {"batch", "heads", "tokens", "head_dim"}
 * with extent[3] = the recipe's head dimension; k and v say "kv_heads" /
 * "kv_tokens" for GQA and cross attention; a param dimension written as a
 * number has dims[d] = NULL and extent[d] = that number. Strings belong to
 * the recipe or kernel asked and live as long as it does. */
typedef enum attnc_arg_role {
    ATTNC_ARG_INPUT = 0,  /* a tensor the kernel reads (attnc_args_set_tensor) */
    ATTNC_ARG_OUTPUT = 1, /* a tensor the kernel writes (attnc_args_set_tensor) */
    ATTNC_ARG_SIZE = 2,   /* a size bound by name (attnc_args_set_size) */
} attnc_arg_role;

typedef struct attnc_arg_info {
    const char *name;     /* "q", "lse", "rpb", "H", "dq", ... */
    attnc_arg_role role;
    attnc_dtype dtype;    /* tensors: the element type; sizes: ATTNC_I64 */
    int ndim;             /* tensors: 0 (a scalar param) to 4; sizes: 0 */
    const char *dims[4];  /* tensors: the size each dimension names, NULL for a literal */
    int64_t extent[4];    /* tensors: each dimension's extent when fixed, else 0 */
    int64_t value;        /* sizes: the value the recipe fixes, else 0 (bound at launch) */
    int grid_dim;         /* sizes: 0..2 for a grid extent (outermost first), else -1 */
    int optional;         /* 1 when the tensor may be left unset ("lse" of a forward kernel) */
    int by_value;         /* 1 for a scalar f32 param: attnc_args_set_scalar accepts it */
} attnc_arg_info;

/* The number of entries of k's argument list (0 for NULL). */
ATTNC_API int attnc_kernel_arg_count(const attnc_kernel *k);
/* Fills *out with entry `index` (0 <= index < attnc_kernel_arg_count(k)).
 * ATTNC_ERR_INVALID_ARGUMENT (out untouched) for NULL or an index out of range. */
ATTNC_API attnc_status attnc_kernel_arg_info(const attnc_kernel *k, int index, attnc_arg_info *out);
/* The same for the forward kernel any attnc_kernel_build of r makes, without
 * compiling it (cheap: for checking calls before the first build). */
ATTNC_API int attnc_recipe_arg_count(const attnc_recipe *r);
ATTNC_API attnc_status attnc_recipe_arg_info(const attnc_recipe *r, int index, attnc_arg_info *out);

#ifdef __cplusplus
}
#endif
#endif
