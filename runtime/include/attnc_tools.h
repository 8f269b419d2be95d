/*
 * attnc_tools.h — the internal interface of attnc's own tools.
 *
 * Who may use it: the `attnc` command (cli/) and attnc's tests, nothing
 * else. Programs and bindings use attnc.h only.
 * Stability: none. It changes with the CLI, in the same commit; it is not
 * installed and its symbols carry no version promise.
 *
 * Why it exists: the CLI needs a few things the public API does not offer
 * (the on-disk kernel cache, the tuning database, ...). They are declared
 * here as a narrow set of functions over the internals (runtime/tools_*.c),
 * so cli/ includes attnc.h, this header, its own headers, support/ and the
 * fp64 reference (tests/reference) only. Types here are opaque or plain
 * copies of internal records; functions never print: messages go into the
 * caller's strbuf.
 */
#ifndef ATTNC_TOOLS_H
#define ATTNC_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../support/strbuf.h"
#include "attnc.h"

/* What a tools call came to: the CLI maps these to its exit codes. */
typedef enum {
    ATTNC_TOOLS_OK,
    ATTNC_TOOLS_USER,       /* the input is wrong (message says why) */
    ATTNC_TOOLS_INTERNAL,   /* attnc failed (out of memory, a bug) */
    ATTNC_TOOLS_UNREADABLE, /* the file cannot be read (message: why) */
} attnc_tools_result;

/* ---- code targets (tools_recipe.c) ---- */

/* The host (CPU) or a GPU arch; the values of the internal target_arch. */
typedef enum { ATTNC_TOOLS_HOST, ATTNC_TOOLS_SM80, ATTNC_TOOLS_SM90A } attnc_tools_arch;

/* A GPU arch name ("sm_80", "sm_86", "sm_90a", ...; not "host"). */
bool attnc_tools_arch_parse(const char *name, attnc_tools_arch *out);
/* The name of the code a GPU arch gets ("sm_80" for sm_86). */
const char *attnc_tools_arch_name(attnc_tools_arch arch);
/* The accepted GPU names, up to cap; returns how many. */
int attnc_tools_arch_names(const char **names, int cap);
/* Appends the accepted GPU names, comma-separated, to sb. */
void attnc_tools_arch_list(strbuf *sb);

/* ---- recipes and their tile IR (tools_recipe.c) ---- */

typedef struct attnc_tools_recipe attnc_tools_recipe;

/* Reads and checks the recipe in path. ATTNC_TOOLS_UNREADABLE: msg has why
 * the file cannot be read; ATTNC_TOOLS_USER: msg has the rendered
 * diagnostics (file:line:col: error: ..., source line, caret, hint). */
attnc_tools_result attnc_tools_recipe_read(const char *path, attnc_tools_recipe **out, strbuf *msg);
void attnc_tools_recipe_free(attnc_tools_recipe *r);

/* attnc check: reads and checks the recipe in path, with what it needs of
 * the target (arch_name NULL: none given, sm_80's needs become a warning;
 * else an error for arch). The rendered diagnostics are appended to diags
 * (UNREADABLE: why the file cannot be read); with dump non-NULL the typed
 * recipe is appended there. ATTNC_TOOLS_INTERNAL: out of memory. */
typedef struct attnc_tools_checked {
    bool parsed;          /* a recipe came out (it may still have errors) */
    int errors, warnings; /* diagnostics */
    strbuf name;          /* the recipe's name; the caller frees it */
} attnc_tools_checked;
attnc_tools_result attnc_tools_check(const char *path, const char *arch_name, attnc_tools_arch arch, strbuf *diags,
                                     strbuf *dump, attnc_tools_checked *out);

/* The passes of the pipeline, in order: the name and one-line summary of
 * pass i, or NULL past the last. */
const char *attnc_tools_pass(int i, const char **summary);
bool attnc_tools_pass_exists(const char *name);

/* Lowers r for arch under sched (NULL: the recipe's tile section) and
 * appends its tile IR after pass `after` (NULL: the last) to out, or with
 * all the IR after every pass. ATTNC_TOOLS_USER: err has one line
 * ("--schedule: ...", "illegal schedule: ...", or why r cannot run on arch);
 * ATTNC_TOOLS_INTERNAL: err has "internal error: ...". */
attnc_tools_result attnc_tools_ir(const attnc_tools_recipe *r, const char *sched, attnc_tools_arch arch,
                                  const char *after, bool all, strbuf *out, strbuf *err);

/* ---- PTX (tools_ptx.c) ---- */

/* One GPU kernel's PTX and launch shape. */
typedef struct attnc_tools_ptx_out {
    strbuf ptx; /* the caller frees it */
    char name[64];
    int threads, smem_bytes; /* block size, dynamic shared memory */
    int ndims, q_tile[3];    /* query tile; the grid is (query tiles, heads, batch) */
    double lower_ms, codegen_ms;
} attnc_tools_ptx_out;

/* Lowers r for GPU arch under sched (NULL or `auto`: the GPU's default;
 * else it overrides the tile section) and emits its kernel's PTX into out
 * (initialised here). ATTNC_TOOLS_USER: err has one line (a bad --schedule
 * prefixed "--schedule: ", a recipe the arch cannot run, an illegal
 * schedule); ATTNC_TOOLS_INTERNAL: one line ("not supported: ..." when the
 * GPU has no kernel for it yet). */
attnc_tools_result attnc_tools_ptx(const attnc_tools_recipe *r, attnc_tools_arch arch, const char *sched,
                                   attnc_tools_ptx_out *out, strbuf *err);

/* ---- ahead-of-time output (tools_aot.c) ---- */

/* attnc compile --from-ptx: a PTX file and its launch contract. */
typedef struct attnc_tools_aot_ptx {
    const char *name, *entry; /* name NULL: the entry's */
    const char *arch;         /* NULL: sm_80 */
    const char *ptx;
    size_t len;
    const char *signature, *grid, *block; /* the --signature, --grid and --block texts */
    int smem;                             /* dynamic shared memory bytes */
    const char *source;                   /* the PTX file's path, named in the output */
} attnc_tools_aot_ptx;
/* Writes DIR/NAME.{ptx,cubin,h,c} (the cubin when ptxas exists); note says
 * what was written. ATTNC_TOOLS_USER: a bad signature, grid, block or name,
 * PTX that ptxas rejects, -o naming a file; ATTNC_TOOLS_INTERNAL: the folder
 * cannot be written, or "internal error: ...". */
attnc_tools_result attnc_tools_aot_from_ptx(const attnc_tools_aot_ptx *in, const char *dir, strbuf *note, strbuf *err);
/* The same for recipe r on GPU arch under sched (NULL: the tile section,
 * `auto` the documented default); name NULL: RECIPE_ARCH; backward: also
 * the backward program (DIR/NAME.bwd.ptx, NAME_backward), with the params
 * named in no_grad (comma-separated, NULL: none; attnc_build_options.no_grad)
 * held constant: ATTNC_TOOLS_USER for a name that is no param. */
attnc_tools_result attnc_tools_aot_recipe(const attnc_tools_recipe *r, const char *sched, attnc_tools_arch arch,
                                          const char *name, const char *dir, bool backward, const char *no_grad,
                                          strbuf *note, strbuf *err);
/* Whether schedule text parses for r (false with why). */
bool attnc_tools_schedule_parses(const attnc_tools_recipe *r, const char *text, strbuf *err);

/* ---- tuning shapes and stored schedules (tools_tune.c) ---- */

const char *attnc_tools_recipe_name(const attnc_tools_recipe *r);
/* The name grid dim d goes by in shapes and messages: its extent's size
 * name ("H" in grid(y: H)), or for a dim the recipe fixes its label. */
const char *attnc_tools_grid_dim_name(const attnc_tools_recipe *r, int d);

/* A launch shape for tuning (the internal tune_shape). */
typedef struct attnc_tools_shape {
    int64_t batch, heads, tokens, kv_tokens, kv_heads, grid[3];
} attnc_tools_shape;
/* --shape text ("batch=2,heads=16,tokens=4096", "H=64,W=64") for r: dims
 * the recipe fixes need not be given (another value is an error). False
 * with one line in err. */
bool attnc_tools_tune_shape(const attnc_tools_recipe *r, const char *text, attnc_tools_shape *out, strbuf *err);

typedef struct attnc_tools_tuned attnc_tools_tuned;
/* The tuning database's best for (r, arch name, the bucket of shape, named
 * in bucket). ATTNC_TOOLS_USER: none stored (or a corrupt row);
 * ATTNC_TOOLS_INTERNAL: the database cannot be read. Opening notes go to
 * note, lookup messages to err. */
attnc_tools_result attnc_tools_tuned_lookup(const attnc_tools_recipe *r, const char *arch,
                                            const attnc_tools_shape *shape, attnc_tools_tuned *rec, char bucket[64],
                                            strbuf *note, strbuf *err);

/* ---- the tuner (tools_tuner.c) ---- */

/* The current device's arch ($ATTNC_DEVICE, default 0). */
attnc_status attnc_tools_device_arch(attnc_tools_arch *out, strbuf *err);
/* Whether r can run on arch at all (false with why and what to write). */
bool attnc_tools_target_ok(const attnc_tools_recipe *r, attnc_tools_arch arch, strbuf *err);

/* The candidate schedules of r for arch and shape, best-ranked first (the
 * default schedule first, then the cost model of docs/runtime.md), at most
 * max (0: all), one per line into out. The count, or -1 out of memory. */
int attnc_tools_tune_list(const attnc_tools_recipe *r, attnc_tools_arch arch, const attnc_tools_shape *shape, int max,
                          strbuf *out);

/* After each candidate: done of total, whether the last was timed, its
 * median and schedule text. */
typedef void (*attnc_tools_progress_fn)(void *user, int done, int total, bool ok, double us, const char *text);

typedef struct attnc_tools_tune_in {
    const char *file;      /* the recipe file (compiled per candidate) */
    attnc_backend backend; /* where candidates run */
    attnc_tools_arch arch;
    const char *arch_name; /* the tuning database's arch key ("host", "sm_80", ...) */
    attnc_tools_shape shape;
    int warmup;      /* -1: none, 0: the default */
    int repeats;     /* 0: the default */
    int max;         /* 0: every candidate */
    double budget_s; /* 0: no limit */
    bool save;       /* store the winner */
    attnc_tools_progress_fn progress; /* may be NULL */
    void *progress_user;
} attnc_tools_tune_in;

typedef struct attnc_tools_tune_out {
    strbuf table; /* one row per candidate, fastest first, the winner marked */
    int best;     /* -1: no candidate could be timed */
    char best_text[160];
    double best_us;
    char bucket[64];
    strbuf saved_to; /* the database's path once saved */
    strbuf msg;      /* notes and why saving failed */
    bool save_failed;
} attnc_tools_tune_out;

/* Times every candidate on generated inputs and stores the winner.
 * ATTNC_TOOLS_USER/INTERNAL before any run: err has "STATUS: why";
 * ATTNC_TOOLS_INTERNAL after it: no winner, or it could not be saved (out
 * says which). Free out with attnc_tools_tune_out_free either way. */
attnc_tools_result attnc_tools_tune_run(const attnc_tools_recipe *r, const attnc_tools_tune_in *in,
                                        attnc_tools_tune_out *out, strbuf *err);
void attnc_tools_tune_out_free(attnc_tools_tune_out *out);

/* ---- the fp64 reference and device buffers (tools_run.c) ---- */

/* The typed recipe behind r (owned by r), for the fp64 reference
 * (tests/reference), whose functions take it. NULL for NULL. */
struct recipe;
const struct recipe *attnc_tools_recipe_typed(const attnc_recipe *r);

/* Device memory of the current device ($ATTNC_DEVICE, default 0; a context
 * is made current when none is), synchronous copies; driver errors as
 * statuses with the message in err. */
attnc_status attnc_tools_dev_alloc(uint64_t *out, size_t bytes, strbuf *err);
void attnc_tools_dev_free(uint64_t p);
attnc_status attnc_tools_dev_upload(uint64_t dst, const void *src, size_t bytes, strbuf *err);
attnc_status attnc_tools_dev_download(void *dst, uint64_t src, size_t bytes, strbuf *err);
attnc_status attnc_tools_dev_memset8(uint64_t dst, unsigned char v, size_t bytes, strbuf *err);
attnc_status attnc_tools_dev_sync(strbuf *err);

/* An event timer on the default stream: start, then stop (waits for the
 * work between them, returns milliseconds, destroys the events). */
typedef struct attnc_tools_timer {
    void *start, *stop;
} attnc_tools_timer;
attnc_status attnc_tools_timer_start(attnc_tools_timer *t, strbuf *err);
attnc_status attnc_tools_timer_stop(attnc_tools_timer *t, double *ms, strbuf *err);

/* ---- kernels built through attnc.h (tools_run.c) ---- */

/* A whole file, NUL-terminated (*len excludes the NUL), malloc'd; NULL with
 * why (the system's reason) in why. */
char *attnc_tools_read_file(const char *path, size_t *len, strbuf *why);
/* True for a CUDA kernel whose module came from a cached cubin (no driver
 * JIT). */
bool attnc_tools_kernel_from_cubin(const attnc_kernel *k);

/* ---- attnc bench: the recipe's shape, a cold compile, pair counts
 * (tools_bench.c, tools_pairs.c) ---- */

/* Size slots, as the internal size_id numbers them: the five standard
 * sizes, three token grid extents (outermost first), then extra names. */
enum {
    ATTNC_TOOLS_SZ_BATCH,
    ATTNC_TOOLS_SZ_HEADS,
    ATTNC_TOOLS_SZ_KV_HEADS,
    ATTNC_TOOLS_SZ_TOKENS,
    ATTNC_TOOLS_SZ_KV_TOKENS,
    ATTNC_TOOLS_SZ_GRID0,
    ATTNC_TOOLS_SZ_EXTRA0 = ATTNC_TOOLS_SZ_GRID0 + 3,
    ATTNC_TOOLS_SZ_MAX = ATTNC_TOOLS_SZ_EXTRA0 + 8,
    ATTNC_TOOLS_MAX_PARAMS = 16 /* params a GPU kernel takes */
};

/* A size slot of a recipe. */
typedef struct attnc_tools_size_info {
    const char *name; /* as written ("batch", "H", "nblocks"); may be NULL */
    int64_t fixed;    /* > 0: the recipe's number; 0: bound at launch */
    int64_t limit;    /* the largest value (ATTNC_MAX_*) */
    const char *slot; /* the slot's own name ("batch", ..., "grid0", "extra3") */
} attnc_tools_size_info;

/* A runtime param (`param doc : i32 [tokens]`). */
typedef struct attnc_tools_param_info {
    const char *name;
    attnc_dtype dtype;
    int ndim;              /* 0: a scalar */
    int dims[4];           /* each dim's size slot ... */
    int64_t const_dims[4]; /* ... or, > 0, a literal number */
} attnc_tools_param_info;

/* What attnc bench reads of a recipe: a plain copy (strings owned by r). */
typedef struct attnc_tools_recipe_info {
    const char *name;
    int head_dim, head_dim_v;
    attnc_dtype dtype; /* of q, k, v, o */
    bool linear;       /* linear attention (no lse) */
    bool tile_auto;    /* `tile auto`: the schedule is picked at launch */
    int grid_ndim;     /* 0: a token sequence */
    const char *grid_names[3]; /* the dims' labels ("y", "x") */
    int nsizes;        /* slots in use: ATTNC_TOOLS_SZ_EXTRA0 + extra names */
    attnc_tools_size_info sizes[ATTNC_TOOLS_SZ_MAX];
    int nparams;
    attnc_tools_param_info params[ATTNC_TOOLS_MAX_PARAMS];
} attnc_tools_recipe_info;
void attnc_tools_recipe_describe(const attnc_tools_recipe *r, attnc_tools_recipe_info *out);
/* The bytes of one element of dtype. */
int attnc_tools_dtype_size(attnc_dtype dtype);

/* The tuning database's pick for a `tile auto` r on arch at sizes (slots
 * above), as a launch makes it (the nearest stored bucket): true with the
 * schedule text in out; false when none fits. Opening and lookup messages
 * go to note. */
bool attnc_tools_tuned_pick(const attnc_tools_recipe *r, attnc_tools_arch arch, const int64_t *sizes, char *out,
                            size_t cap, strbuf *note);

/* A recipe file compiled cold for a GPU: read, parsed, lowered, emitted as
 * PTX and loaded by the CUDA driver (JIT), each stage timed; the module is
 * unloaded again (attnc bench times launches through attnc.h). */
typedef struct attnc_tools_compiled attnc_tools_compiled;
typedef struct attnc_tools_cold {
    attnc_tools_arch arch;
    char schedule[192]; /* the kernel's schedule, as `attnc bench` prints it */
    double read_ms, parse_ms, lower_ms, codegen_ms, jit_ms;
    double total_ms;   /* read to loaded module */
    char jit_by[8];    /* the compiler of the cubin: "ptxas" or "driver" (runtime/cuda/cuda_jit.h) */
} attnc_tools_cold;
/* arch NULL: the current device's; sched NULL: the recipe's tile section,
 * `auto`: the GPU's default. ATTNC_TOOLS_UNREADABLE: err has why;
 * ATTNC_TOOLS_USER: err has the rendered diagnostics or one line (a bad
 * arch or --schedule, a recipe the arch cannot run, an illegal schedule);
 * ATTNC_TOOLS_INTERNAL: one line (the driver, "not supported: ...").
 * *out is set (free with attnc_tools_compiled_free) only on success. */
attnc_tools_result attnc_tools_cold_compile(const char *path, const char *arch, const char *sched,
                                            attnc_tools_compiled **out, attnc_tools_cold *times, strbuf *err);
/* The same up to the kernel's schedule and tile IR only: no PTX, no
 * driver (arch NULL still asks the driver for the device's); jit_ms and
 * codegen_ms stay 0. What `attnc bench --pairs-only` counts on. */
attnc_tools_result attnc_tools_plan(const char *path, const char *arch, const char *sched, attnc_tools_compiled **out,
                                    attnc_tools_cold *times, strbuf *err);
void attnc_tools_compiled_free(attnc_tools_compiled *c);

/* A runtime param's host copy (contiguous, row-major). */
typedef struct attnc_tools_param_host {
    const void *data;
    int ndim;
    int64_t shape[4];
} attnc_tools_param_host;

/* Pair counts, totals over batch and heads. */
typedef struct attnc_tools_pairs {
    int64_t kept;           /* pairs the mask keeps */
    int64_t dense;          /* every pair */
    int64_t visited_tiles;  /* tile pairs in the kernel's key-tile ranges (loop iterations) */
    int64_t computed_tiles; /* of those, computed (not proven empty) */
    int64_t kept_tiles;     /* tile pairs holding at least one kept pair */
    int64_t computed_pairs; /* pairs inside computed tiles */
    bool closed_form;       /* counted in closed form: per query row, or per tile pair for a
                               radial mask (else pair by pair) */
} attnc_tools_pairs;
/* Counts for c's recipe and schedule at sizes (slots above), the params'
 * values read from params (indexed like the recipe's); false (message in
 * err) when the mask cannot be evaluated on the host. */
bool attnc_tools_count_pairs(const attnc_tools_compiled *c, const int64_t *sizes, const attnc_tools_param_host *params,
                             attnc_tools_pairs *out, strbuf *err);

/* The backward's dK/dV kernel loop (per key tile, the query tiles of its
 * transposed range, or of its transposed union parts under
 * $ATTNC_BWD_PARTS=1 as the GPU walks them), totals over batch and heads;
 * counted false where not counted (no mask, dilation-group tiles). */
typedef struct attnc_tools_bwd_tiles {
    int64_t visited_tiles;  /* (query tile, key tile) loop iterations */
    int64_t computed_tiles; /* of those, computed (in the forward's range, not proven empty) */
    int64_t full_tiles;     /* of those, full: no per-element mask */
    int64_t kept_tiles;     /* of those, holding at least one kept pair */
    int64_t computed_pairs; /* pairs inside computed tiles */
    /* the dQ kernel's loop (deterministic builds; per query tile the key
     * tiles of the forward's range or its union parts): iterations, and
     * those computed (not proven empty) */
    int64_t dq_visited_tiles, dq_computed_tiles;
    bool counted;
} attnc_tools_bwd_tiles;
/* Counts for c's recipe under the backward schedule text `bwd` (as `attnc
 * bench --grad` prints it: "q=.. kv=.. ..." and, where the dK/dV kernel
 * has its own tiles, " (dK/dV kv=128)" or " (dK/dV q=8x8 kv=8x16)"). */
bool attnc_tools_count_bwd_tiles(const attnc_tools_compiled *c, const char *bwd, const int64_t *sizes,
                                 const attnc_tools_param_host *params, attnc_tools_bwd_tiles *out, strbuf *err);

/* ---- the kernel cache folder (tools_cache.c) ---- */

typedef struct kcache attnc_tools_cache;

/* Opens the cache in dir (NULL: $ATTNC_CACHE_DIR, else $XDG_CACHE_HOME/attnc,
 * else ~/.cache/attnc, in a folder per version); NULL with a message. */
attnc_tools_cache *attnc_tools_cache_open(const char *dir, strbuf *err);
void attnc_tools_cache_close(attnc_tools_cache *c);
const char *attnc_tools_cache_dir(const attnc_tools_cache *c);
/* What the cache keys depend on besides the IR (attnc/LLVM/code generator). */
const char *attnc_tools_cache_stamp(void);

/* One entry file, as listed. */
typedef struct attnc_tools_entry {
    char key_hex[33];
    bool cubin; /* else PTX */
    uint64_t payload_len, file_len;
    int64_t mtime;
    bool valid; /* header and checksum verified */
} attnc_tools_entry;
typedef void (*attnc_tools_entry_fn)(void *user, const attnc_tools_entry *e);
/* Calls fn for every entry file; the count, or -1 with a message. */
long attnc_tools_cache_list(attnc_tools_cache *c, attnc_tools_entry_fn fn, void *user, strbuf *err);
/* Removes every entry of this version's folder; the count of files removed,
 * or -1 with a message. */
long attnc_tools_cache_clear(attnc_tools_cache *c, strbuf *err);

/* ---- the tuning database (tools_tuning.c) ---- */

typedef struct tune_db attnc_tools_tuning;

/* Where the tuning database of cache folder dir (NULL: the default) is or
 * would be, appended to path; false with a message in note. */
bool attnc_tools_tuning_path(const char *dir, strbuf *path, strbuf *note);
/* Opens it (path NULL: the default; created if missing, read-only when it
 * cannot be written; a corrupt file is moved aside and recreated, which
 * note says); NULL with a message in note when it cannot be opened. */
attnc_tools_tuning *attnc_tools_tuning_open(const char *path, strbuf *note);
void attnc_tools_tuning_close(attnc_tools_tuning *db);
const char *attnc_tools_tuning_where(const attnc_tools_tuning *db);
bool attnc_tools_tuning_readonly(const attnc_tools_tuning *db);

/* One stored best schedule. */
typedef struct attnc_tools_tuned {
    char recipe_hash[65];
    char arch[24];
    char bucket[64];
    char schedule[256];
    double time_us;
} attnc_tools_tuned;
typedef void (*attnc_tools_tuned_fn)(void *user, const attnc_tools_tuned *r);
/* Calls fn for every best row; rows failing their checksum are counted in
 * *corrupt. The count, or -1 with a message. */
long attnc_tools_tuning_list(attnc_tools_tuning *db, attnc_tools_tuned_fn fn, void *user, long *corrupt, strbuf *err);
/* Removes every row (false with a message when read-only). */
bool attnc_tools_tuning_clear(attnc_tools_tuning *db, strbuf *err);
/* Removes the damaged copies moved aside next to path; the count or -1. */
long attnc_tools_tuning_remove_asides(const char *path, strbuf *err);

#endif
