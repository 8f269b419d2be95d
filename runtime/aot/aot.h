/*
 * aot.h — ahead-of-time output: a C header and a C source that embed a
 * compiled kernel image and launch it through the CUDA driver API.
 *
 * aot_generate() writes DIR/NAME.h and DIR/NAME.c. The generated code:
 *  - embeds the PTX (and the cubin when given) as byte arrays with an
 *    FNV-1a checksum, so NAME_self_check() can verify the image without a
 *    driver ("dry" check);
 *  - declares NAME_args, a struct with one field per kernel parameter in
 *    launch order (device pointers as void *, integers as int32_t/int64_t,
 *    floats as float/double);
 *  - a header comment that documents the ABI: every field, for recipe
 *    kernels the dtype, head dims, each size[] index by name, the params,
 *    the launch configuration, and the stream, ordering and thread rules
 *    (aot_gen_doc.c);
 *  - NAME_launch(const NAME_args *, struct CUstream_st *) — the stream type
 *    is CUstream of cuda.h — validates every argument (non-NULL and aligned
 *    pointers, integers in range, grid within the device limits; for recipe
 *    kernels exactly attnc_launch's checks, see aot_attn), loads
 *    libcuda with dlopen on first use (path from $ATTNC_LIBCUDA, else
 *    libcuda.so.1), loads the image once per CUDA context under a mutex
 *    (cubin first, PTX through the driver JIT when the cubin does not fit
 *    the device), raises the dynamic shared memory limit when needed, and
 *    launches. It returns a status (NAME_OK, NAME_ERR_INVALID_ARGUMENT,
 *    NAME_ERR_NO_DRIVER, NAME_ERR_CUDA, NAME_ERR_IMAGE — the same numbers as
 *    attnc_status) and keeps a per-thread message (NAME_errmsg()).
 * The program links nothing of attnc, LLVM or CUDA: only libc (dlopen).
 */
#ifndef ATTNC_RUNTIME_AOT_H
#define ATTNC_RUNTIME_AOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/kernel_abi.h"
#include "support/strbuf.h"

typedef enum { AOT_PTR, AOT_I32, AOT_I64, AOT_F32, AOT_F64 } aot_type;

typedef struct aot_param {
    const char *name; /* the field name (aot_field_name_ok) */
    aot_type type;
    int align;        /* pointers: required byte alignment (0: 16) */
    bool nullable;    /* pointers: NULL allowed (an optional output) */
    int64_t min, max; /* integers: inclusive range; unchecked when min > max */
    int count;        /* > 1: an array field of that many scalars (each a kernel
                         parameter, in order); 0 or 1: one value */
} aot_param;

/* One launch-grid extent: ceil(param[a0] * param[a1] / div), where a -1
 * index stands for 1; with both indices -1 the extent is `div` itself. */
typedef struct aot_dim {
    int arg[2];
    int64_t div;
} aot_dim;

/* Optional TMA tensor maps (kernels that copy tiles with TMA, see
 * codegen/nvptx_kernel.h): the launcher encodes one map for each of q, k
 * and v (params named "q", "k", "v", "<t>_stride" and "size" in the ABI)
 * and passes them by value after the other parameters. The enum values are
 * the driver's (cuda.h), written into the generated code as numbers. */
typedef struct aot_tma {
    bool enabled;
    int dtype;        /* CUtensorMapDataType */
    int swizzle;      /* CUtensorMapSwizzle */
    int l2_promotion; /* CUtensorMapL2promotion */
    bool o_map;       /* a fourth map, o's: the kernel stores O by TMA (sequences; nvptx_kernel_info.o_tma) */
    int dims[4];      /* head dims of q, k, v (and o) */
    int rows[4];      /* box rows (tile tokens; o: a warpgroup's 64) */
    int size_tokens, size_kv_tokens, size_heads, size_kv_heads, size_batch; /* indices into `size` */
    int grid_ndim;    /* 2, 3: grid maps of rank 5 (runtime/cuda/cuda_tma.h); 0: a sequence's rank 4 */
    int size_grid0;   /* index into `size` of the grid's first (outermost) dim */
    int box[3][3];    /* grids: box extents of q, k, v per grid dim, outermost first */
} aot_tma;

/* A recipe kernel's launch contract (aot_recipe.c fills it from the typed
 * recipe and the kernel info; aot_gen_attn.c renders it). With it,
 * NAME_validate checks exactly what attnc_launch checks for a CUDA kernel
 * (runtime/api/api_validate.c, then runtime/cuda/cuda_launch.c), over the fields of
 * the kernel ABI (codegen/nvptx_kernel.h: q, k, v, o, lse, their strides,
 * size[AOT_NSIZES] by size id of ir/expr.h, then the params), and
 * NAME_launch passes what runtime/cuda/cuda_backend.c passes: named sizes left 0
 * take the recipe's fixed value, unused sizes are 0, an empty launch (batch,
 * heads or tokens 0) succeeds without the driver, and tensors with a zero
 * extent get q's address and strides. Limits: support/checked.h-style
 * overflow checks written out in the generated C. */
enum { AOT_NSIZES = 16, AOT_MAX_WINDOWS = 24 };

typedef struct aot_attn_param {
    const char *name;     /* the recipe's name (messages) */
    const char *dtype;    /* "f32", "i32", "u8", ... (the header's ABI comment) */
    int ndim;             /* 0: a scalar (nothing to check) */
    int elem_size;        /* bytes */
    int dim_size[4];      /* the size id of each dim, or -1: dim_const */
    int64_t dim_const[4];
} aot_attn_param;

typedef struct aot_attn {
    bool enabled;
    const char *dtype;        /* q, k, v, o: "bf16" or "f16" (lse: f32) */
    int elem_size;
    int head_dim, head_dim_v;
    bool gqa, cross, linear;
    const char *size_name[AOT_NSIZES]; /* for messages */
    bool named[AOT_NSIZES];   /* set by name in attnc_launch: grid dims and extra sizes */
    int64_t fixed[AOT_NSIZES]; /* > 0: the recipe fixes it */
    bool zero_ok[AOT_NSIZES];  /* may be 0 in a non-empty launch (global kernels' offsets) */
    /* global kernels (ATTNC_BUILD_GLOBAL_COORDS): offset and whole-axis size ids per side (q, k), else -1 */
    int global_off[2], global_axis[2];
    int64_t limit[AOT_NSIZES]; /* size_limit() (ATTNC_MAX_*) */
    int grid_ndim;            /* > 0: sizes GRID0.. multiply to tokens */
    int first_extra, nsizes;  /* extra sizes are [first_extra, nsizes) */
    int first_param;          /* index in aot_spec.params of the first recipe param */
    int nparams;
    aot_attn_param params[16];
    int nwindows;             /* neighborhood windows: span <= that size, unless empty */
    int window_size[AOT_MAX_WINDOWS];
    int64_t window_span[AOT_MAX_WINDOWS];
    /* grid.x (nvptx_grid_x): grid_x_fixed when > 0 (and tokens > 0), else
     * the product over tile dims of ceil(size[tile_size[d]] / q_tile[d]);
     * grid.y heads, grid.z batch. */
    int grid_x_fixed, ntile_dims, tile_size[3], q_tile[3];
    int dil[3]; /* dilation-group tiling: dil * ceil(ceil(size / dil) / q_tile) tiles (0/1: none) */
} aot_attn;

/* The backward program (attnc compile --aot --backward): its kernels
 * launched in order by NAME_backward over NAME_bwd_args, whose fields and
 * the kernels' parameter arrays are written from the program's role table
 * (codegen/kernel_abi.h, kernel_abi_backward); the workspace regions and
 * gradient slices come from a caller-provided workspace of
 * NAME_backward_workspace_bytes (nvptx_bwd.h's layout). */
enum { AOT_BWD_MAX_KERNELS = 4 };

typedef struct aot_bwd_kernel {
    const char *entry;
    int threads, smem;
    /* the grid (nvptx_bwd_grid_rule): x by kind (0 rows: ceil(size[x_size] *
     * x_mul / x_div), 1 query tiles, 2 key tiles, 3 ceil(max gradient numel /
     * x_div), 4 ceil(query tiles x Tq x x_mul / x_div): the rows of whole
     * query tiles, BWR_Q_TILE_ROWS), y = size[y_size] (-1: gradients),
     * z = size[z_size] (-1: 1) */
    int x_kind, x_size, x_mul, x_div, y_size, z_size;
    bool zeroes_accumulators; /* grid x at least 1 when the gradients are atomic (attnc_bwd_pre) */
} aot_bwd_kernel;

typedef struct aot_bwd {
    bool enabled;
    const char *ptx;
    size_t ptx_len;
    const unsigned char *cubin; /* optional (aot_write_with_cubin runs ptxas) */
    size_t cubin_len;
    const char *schedule;
    int nkernels;
    aot_bwd_kernel k[AOT_BWD_MAX_KERNELS];
    kernel_abi abi;  /* every kernel's parameters */
    int ndims, grid_ndim, q_tile[3], kv_tile[3], dkv_warps; /* tiles: key tiles and slices */
    int64_t ws_row_floats[KABI_NWS]; /* per row of each region */
    int ws_rows[KABI_NWS]; /* its rows per (batch, head) (nvptx_bwd_ws_rows): 0 tokens, 1 query tiles x Tq */
    bool grads_atomic; /* one accumulator per gradient (an atomic-dQ build) instead of slices */
    /* The linear family's program (nvptx_linear_bwd.c: chained scans and the
     * gate kernel): lse unused, kv heads and tokens must equal heads and
     * tokens, and launches must not overlap (its scans keep module-global
     * slots). */
    bool linear;
    /* The dK/dV kernel's TMA producer (nvptx_bwd_info.producer): the role
     * table ends in the maps of q and dout, which NAME_backward encodes per
     * launch as runtime/cuda/cuda_backward.c does ({dim, tokens, heads,
     * batch}, boxes of 64 dims x tma_rows, 128-byte swizzle). The enum
     * values are the driver's (cuda.h). */
    bool tma;
    int tma_dtype, tma_swizzle, tma_l2_promotion; /* CUtensorMapDataType, ...Swizzle, ...L2promotion */
    int tma_dims[2];                              /* head dims of q and dout */
    int tma_rows;                                 /* box rows: the query tile */
    int ngrad;
    int grad_param[KABI_MAX_PARAMS]; /* recipe param index of each gradient (aot_attn.params) */
} aot_bwd;

typedef struct aot_spec {
    const char *name;  /* C prefix of everything generated, file names too (an identifier) */
    const char *entry; /* the PTX .entry symbol (an identifier) */
    const char *arch;  /* "sm_80" ... (aot_arch_known; a comment, and ptxas's target) */
    const char *ptx;
    size_t ptx_len;
    const unsigned char *cubin; /* optional */
    size_t cubin_len;
    const aot_param *params;
    int nparams;
    aot_dim grid[3]; /* unused with attn */
    int block[3];
    int dyn_smem;          /* bytes of dynamic shared memory */
    const char *recipe;    /* for the header comment, escaped (may be NULL) */
    const char *schedule;  /* idem */
    aot_tma tma;
    aot_attn attn; /* recipe kernels: validation and launch as attnc_launch's */
    bool serial; /* launches must not overlap (module-global scratch): said in the header */
    aot_bwd bwd; /* recipe kernels: the backward program too (attn must be enabled) */
} aot_spec;

/* What user text may reach the generated files (aot_text.c). */
bool aot_is_ident(const char *s);
/* A kernel parameter name usable as a field in C and C++: an identifier
 * starting with a lower-case letter that is no C or C++ keyword and no
 * lower-case standard macro (stdin, errno, unix, ...). Names starting with
 * an upper-case letter are refused as likely macros (NULL, EOF). */
bool aot_field_name_ok(const char *s, strbuf *why);
/* GPU target names ptxas knows ("sm_80", "sm_90a", ...), and their list. */
bool aot_arch_known(const char *arch);
void aot_arch_list(strbuf *out);
/* Appends free text escaped for a C comment, or for a string literal (a
 * printf format when `format`: '%' doubled). */
void aot_put_comment(strbuf *out, const char *text);
void aot_put_string(strbuf *out, const char *text, bool format);

/* Checks the spec (identifiers, field names, arch, entry present in the
 * PTX, geometry). */
bool aot_check_spec(const aot_spec *s, strbuf *err);
/* Renders both files into strbufs. */
bool aot_render(const aot_spec *s, strbuf *header, strbuf *source, strbuf *err);

/* How writing AOT output went; the message says more. */
typedef enum {
    AOT_OK = 0,
    AOT_USER = 1,     /* a bad spec or name, -o naming a file, ... (exit 1) */
    AOT_IO = 2,       /* the folder cannot be created or written: full disk, permissions (exit 2) */
    AOT_INTERNAL = 3, /* out of memory, a bug */
    AOT_PTXAS = 4,    /* ptxas rejected the PTX (its log in the message) */
} aot_result;

/* Renders and writes DIR/NAME.h and DIR/NAME.c (DIR is created), each
 * written to a temp file in DIR and renamed into place once both are
 * complete (aot_files.c). */
aot_result aot_generate(const aot_spec *s, const char *dir, strbuf *err);

/* Parses "x:ptr, n:i32>0, lse:ptr?" into params (names point into an arena
 * owned by the caller-supplied buffer `storage` of `cap` bytes). Used by
 * `attnc compile --from-ptx`. Returns the count or -1 with a message. */
int aot_parse_signature(const char *text, aot_param *out, int max, char *storage, size_t cap, strbuf *err);

/* Parses "n/256,1,1" or "tokens/64,heads*batch,1" against the parameters. */
bool aot_parse_grid(const char *text, const aot_param *params, int nparams, aot_dim out[3], strbuf *err);

#endif
