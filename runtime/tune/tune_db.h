/*
 * tune_db.h — the persistent tuning database: the best schedule per
 * (recipe hash, arch, shape bucket), and every candidate timed.
 *
 * Storage: SQLite at $ATTNC_CACHE_DIR/tuning.sqlite (see cache_default_dir),
 * in WAL mode with a busy timeout so any number of processes may read and
 * record at once. On open the file is checked (PRAGMA quick_check); a file
 * that is not a database or fails the check is moved aside to
 * tuning.sqlite.corrupt-<unix time> (replacing any older such copy: at most
 * one is kept), reported through the open message and recreated empty. A
 * database that exists but cannot be written (a read-only folder or file,
 * another user's cache) is opened read-only, and the open message says so:
 * lookups and listing work, recording and clearing fail with a message, and
 * a row failing its checksum is reported but not deleted. Every row also
 * carries an XXH3-64 checksum over its
 * fields: a row whose checksum fails (a bit flip SQLite's page checks miss)
 * is deleted, reported as TUNE_CORRUPT and treated as absent.
 *
 * Shape buckets: launches whose shapes fall in one bucket share a tuned
 * schedule. tune_bucket() names the bucket:
 *   "bh<B>.q<Q>.k<K>.d<D>"
 * with B = batch * heads rounded up to a power of two, Q and K = query and
 * key tokens rounded up to a power of two (at least 16), D = head dim as is
 * (it changes the kernel itself). For multi-dimensional token grids the
 * token counts are the products of the grid extents.
 *
 * A handle may be used from one thread at a time; use one per thread.
 */
#ifndef ATTNC_RUNTIME_TUNE_DB_H
#define ATTNC_RUNTIME_TUNE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/schedule.h"
#include "support/strbuf.h"

typedef struct tune_db tune_db;

typedef enum { TUNE_FOUND, TUNE_NOT_FOUND, TUNE_CORRUPT, TUNE_ERROR } tune_result;

/* Opens (creating if needed) the database at `path`; NULL: the default
 * location. A corrupt file is moved aside and recreated; `note` then says
 * so (the open still succeeds). Returns NULL with a message on failure. */
tune_db *tune_db_open(const char *path, strbuf *note);
void tune_db_close(tune_db *db);
const char *tune_db_path(const tune_db *db);
/* True when the database was opened read-only (see above). */
bool tune_db_readonly(const tune_db *db);
/* Removes the damaged copies PATH.corrupt-* moved aside next to the
 * database at `path`. Returns how many, or -1 with a message when the folder
 * cannot be read or a copy cannot be removed. */
long tune_db_remove_asides(const char *path, strbuf *err);

/* The recipe part of a record's key: XXH3-128 (32 hex digits) of the
 * recipe's source text. */
void tune_recipe_hash(const char *text, size_t len, char out[33]);

/* A launch shape as `attnc tune/compile --shape` take it:
 * "batch=2,heads=16,tokens=4096[,kv_tokens=N][,kv_heads=N]" or, for a recipe
 * with a token grid, its dims by size name or label ("H=64,W=64" or
 * "y=64,x=64" for `tokens grid(y: H, x: W)`; tokens = their product).
 * batch and heads default to 1, kv_tokens to tokens, kv_heads to heads. */
typedef struct tune_shape {
    int64_t batch, heads, tokens, kv_tokens, kv_heads, grid[3];
} tune_shape;
bool tune_shape_parse(const char *text, const char *const *grid_names, const char *const *size_names, int grid_ndim,
                      tune_shape *out, strbuf *err);

/* Writes the bucket name for a launch shape into out (at least 64 bytes). */
void tune_bucket(char *out, size_t cap, int64_t batch, int64_t heads, int64_t q_tokens, int64_t kv_tokens,
                 int head_dim);

typedef struct tune_record {
    char recipe_hash[65];
    char arch[24];
    char bucket[64];
    char schedule[256];
    double time_us;
    int64_t created; /* unix seconds */
} tune_record;

/* The stored best for (recipe, arch, bucket). */
tune_result tune_db_lookup(tune_db *db, const char *recipe_hash, const char *arch, const char *bucket,
                           tune_record *out, strbuf *msg);

/* Keeps `sched` as the best when it is faster than the stored one (or none
 * is stored); concurrent tuners thus converge on the fastest. */
bool tune_db_record_best(tune_db *db, const char *recipe_hash, const char *arch, const char *bucket,
                         const char *sched, double time_us, strbuf *msg);

/* Records one timed candidate (time_us < 0: refused or failed, reason in
 * `status`). A re-timed candidate replaces the older row. */
bool tune_db_record_candidate(tune_db *db, const char *recipe_hash, const char *arch, const char *bucket,
                              const char *sched, double time_us, const char *status, strbuf *msg);

/* Calls fn for every best row (ordered by recipe, arch, bucket); rows that
 * fail their checksum are skipped and counted in *corrupt (may be NULL). */
typedef void (*tune_list_fn)(void *user, const tune_record *r);
long tune_db_list(tune_db *db, tune_list_fn fn, void *user, long *corrupt, strbuf *msg);

/* The schedule for a `tile auto` launch of shape `shape`: the stored best
 * for (recipe_hash, arch key "host"/"sm_80"/"sm_90a", bucket), parsed and
 * re-checked with schedule_check; otherwise *out is the documented default
 * schedule_default(ndims, arch, linear). Returns TUNE_FOUND when the stored
 * choice is used. db may be NULL (default). */
tune_result tune_db_pick_schedule(tune_db *db, const char *recipe_hash, target_arch arch, const tune_shape *shape,
                                  int ndims, int head_dim, int elem_size, bool linear, schedule *out, strbuf *msg);

/* Removes every row (false with a message on a read-only database). */
bool tune_db_clear(tune_db *db, strbuf *msg);

#endif
