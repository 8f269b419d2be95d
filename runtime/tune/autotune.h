/*
 * autotune.h — the autotuner loop, independent of any backend.
 *
 * The tuner walks a list of candidate schedules (schedule_enumerate) and
 * asks the backend, through hooks, to prepare (compile) each one and to time
 * single runs of it. Backends plug in their own timing: the CUDA backend
 * uses CUDA events around a launch and rotates between input buffers by the
 * `rep` number, the CPU backend a monotonic clock. The tuner does the rest:
 *  - `warmup` untimed runs, then up to `repeats` timed runs; the candidate's
 *    time is the median of its samples;
 *  - early stop: once `early_stop_after` samples are all slower than
 *    `early_stop_factor` x the best median so far, the candidate is dropped;
 *  - a wall-clock budget: candidates not reached are marked NOT_RUN;
 *  - prepare() may refuse a candidate with a reason (shared memory,
 *    registers or spills read back from the compiled kernel): SKIPPED.
 * Results can be recorded into the tuning database with tuner_record().
 */
#ifndef ATTNC_RUNTIME_AUTOTUNE_H
#define ATTNC_RUNTIME_AUTOTUNE_H

#include "ir/schedule.h"
#include "runtime/tune/tune_db.h"

typedef enum {
    TUNED_OK,            /* timed: median_us is valid */
    TUNED_SKIPPED,       /* prepare() refused it (why says why) */
    TUNED_FAILED,        /* a timed run failed */
    TUNED_STOPPED_EARLY, /* clearly slower than the best: median of the samples taken */
    TUNED_NOT_RUN,       /* the time budget ran out first */
} tuned_status;

typedef struct tuner_result {
    schedule sched;
    char text[160]; /* schedule_print */
    tuned_status status;
    double median_us, min_us;
    int samples;
    char why[200];
} tuner_result;

typedef struct tuner_hooks {
    void *user;
    /* Compiles/prepares a candidate; false refuses it with a reason. */
    bool (*prepare)(void *user, const schedule *s, strbuf *why);
    /* One run of the prepared candidate: `rep` < 0 for warm-ups, else the
     * sample number (rotate inputs by it). Sets *us; false on failure. */
    bool (*time_once)(void *user, const schedule *s, int rep, double *us, strbuf *why);
    /* Optional: frees what prepare() made. */
    void (*release)(void *user, const schedule *s);
    /* Optional: called after each candidate (done of total), with
     * progress_user (or user when that is NULL). */
    void (*progress)(void *user, int done, int total, const tuner_result *last);
    void *progress_user;
} tuner_hooks;

typedef struct tuner_options {
    int warmup;               /* 0: 2 */
    int repeats;              /* 0: 7 */
    int early_stop_after;     /* 0: 3 */
    double early_stop_factor; /* 0: 3.0 */
    double budget_s;          /* 0: no limit */
    bool linear;              /* candidates of a linear recipe: their text shows block= and inter= */
} tuner_options;

/* Runs every candidate (results has n slots). Returns the index of the
 * fastest TUNED_OK candidate, or -1 when none could be timed. */
int tuner_run(const schedule *cands, int n, const tuner_options *opts, const tuner_hooks *hooks,
              tuner_result *results);

const char *tuned_status_name(tuned_status s);

/* The table the CLI prints: one row per candidate, fastest first, the
 * winner marked. */
void tuner_format_table(strbuf *out, const tuner_result *results, int n, int best);

/* Records every timed or refused candidate and the winner. */
bool tuner_record(tune_db *db, const char *recipe_hash, const char *arch, const char *bucket,
                  const tuner_result *results, int n, int best, strbuf *msg);

/* Ranking for `attnc tune --max N` (tune_rank.c; the model is described
 * there and in docs/runtime.md). */
typedef struct tune_rank_ctx {
    target_arch arch;
    int head_dim, elem_size;
    int64_t q_tokens; /* of the tuned shape */
} tune_rank_ctx;
/* Reorders c[0..n) best first with `def` at the front (added when it is not
 * among them: c must have room for n + 1). Returns the new count. */
int tune_rank(schedule *c, int n, const schedule *def, const tune_rank_ctx *ctx);

#endif
