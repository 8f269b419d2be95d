/*
 * compile_job.h — one compile job: a parsed recipe and a GPU arch (or the
 * host) to a resolved schedule, the tile IR, and PTX with its launch
 * description. The runtime (CUDA builds, with the kernel cache between
 * lowering and emission), AOT output, the CLI tools and the PTX tests all
 * go through it, so the chain "schedule -> lower -> emit" exists once and
 * the schedule is decided in one function (compile_job_schedule).
 *
 * Use: compile_job_init, set the optional inputs, then compile_job_run (or
 * the steps one by one: schedule, lower, emit), read the outputs, and
 * compile_job_free. A failed step sets `status` (an enum: never search the
 * message), `failed` (which step) and `err` (one line for people).
 */
#ifndef ATTNC_RUNTIME_COMPILE_JOB_H
#define ATTNC_RUNTIME_COMPILE_JOB_H

#include "codegen/nvptx_kernel.h"
#include "frontend/recipe.h"
#include "ir/tile_ir.h"
#include "runtime/include/attnc.h"
#include "support/arena.h"
#include "support/strbuf.h"

typedef enum {
    JOB_OK = 0,
    JOB_USER_ERROR,  /* a schedule that does not parse or is illegal for the arch */
    JOB_UNSUPPORTED, /* the target cannot run the recipe, or no GPU strategy handles it yet */
    JOB_INTERNAL,    /* a pass or the code generator failed: a bug */
    JOB_NOMEM,
} job_status;

/* The step that failed (JOB_STEP_NONE while none has). */
typedef enum { JOB_STEP_NONE, JOB_STEP_PARSE, JOB_STEP_TARGET, JOB_STEP_SCHEDULE, JOB_STEP_LOWER, JOB_STEP_EMIT } job_step;

/* Where the resolved schedule came from. */
typedef enum {
    SCHED_FROM_EXPLICIT, /* the caller's schedule (--schedule, build options) */
    SCHED_FROM_TUNED,    /* the caller's tuned pick for a `tile auto` recipe */
    SCHED_FROM_RECIPE,   /* the recipe's own tile section */
    SCHED_FROM_DEFAULT,  /* the arch's default for `tile auto` */
} sched_source;

typedef tir_kernel *(*job_lower_fn)(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err);

typedef struct compile_job {
    /* inputs (compile_job_init sets r and arch; the rest are optional) */
    const recipe *r;
    target_arch arch;          /* TARGET_HOST: schedule and lowering only */
    const char *schedule_text; /* explicit schedule text ("auto" counts as none) */
    const schedule *explicit_sched; /* explicit, already parsed (wins over the text) */
    const schedule *tuned;     /* a tuned pick, taken when nothing explicit is given and the recipe says `tile auto` */
    job_lower_fn lower;        /* NULL: lower_recipe (passes/pipeline.h) */
    arena *a;                  /* where the tile IR lives; NULL: the job's own arena */
    /* outputs */
    job_status status;
    job_step failed;
    strbuf err;
    bool resolved;             /* sched and source are set (a caller may set them to skip the step) */
    schedule sched;
    sched_source source;
    tir_kernel *tk;
    strbuf ptx;
    nvptx_kernel_info info;
    double lower_ms, codegen_ms;
    arena own;
} compile_job;

void compile_job_init(compile_job *j, const recipe *r, target_arch arch);
void compile_job_free(compile_job *j);

/* The arch's schedule for a `tile auto` recipe with nothing tuned: on a GPU
 * nvptx_default_schedule (on sm_90a a strided neighborhood on a 2-D/3-D
 * grid takes 128-token query and key boxes that divide its strides,
 * query tiles numbered by stride group (qgroup=), on 2-D grids with
 * overlap=1; a
 * token sequence without a mask takes overlap=1, one with the plain
 * causal mask and the default score regs=even), on
 * the host schedule_default with the recipe's linear block. The recipe's
 * own tile section wins when it has one. */
schedule compile_default_schedule(const recipe *r, target_arch arch);

/* Resolves the schedule once: explicit, else tuned, else the recipe's,
 * else the default; then checks it for the recipe and arch (tile dims,
 * schedule_check). Also refuses a recipe the target cannot run
 * (frontend_target_ok: JOB_UNSUPPORTED). */
job_status compile_job_schedule(compile_job *j);
/* The tile IR under the resolved schedule (resolving it first if needed). */
job_status compile_job_lower(compile_job *j);
/* PTX and the launch description of the lowered kernel: the one call into
 * the NVPTX code generator for forward kernels. */
job_status compile_job_emit(compile_job *j);
/* schedule, lower, emit. */
job_status compile_job_run(compile_job *j);

/* The API's status for a job status (USER_ERROR: invalid argument). */
attnc_status compile_job_attnc_status(job_status st);

/* The schedule as people read it (schedule_print_for). */
void compile_job_schedule_text(const compile_job *j, strbuf *out);
const char *sched_source_name(sched_source s);

#endif
