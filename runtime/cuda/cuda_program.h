/*
 * cuda_program.h — a program of GPU kernels: one PTX module with several
 * entry points, compiled once (cuda_jit.h), whose kernels a caller launches in order
 * on one stream, plus a device workspace the program owns (grown on
 * demand, freed with it). It is the one GPU runner of programs of kernels:
 * the backward pass runs on it (cuda_backward.c), and so does the LSE merge
 * of programs over partial attentions (program_run.c); decode is meant to.
 *
 * Launches of one program are ordered: cuda_program_begin takes the
 * program's lock (held until cuda_program_end) and, when the stream differs
 * from the previous run's, makes it wait for that run (an event), since
 * both use the one workspace. Programs take PTX: the backward's comes
 * through the kernel cache (cuda_bwd_job.c) and is compiled by ptxas or
 * the driver (cuda_jit.h) on every load (no cubin entry for programs yet).
 */
#ifndef ATTNC_RUNTIME_CUDA_PROGRAM_H
#define ATTNC_RUNTIME_CUDA_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "support/strbuf.h"
#include "runtime/include/attnc.h"

typedef struct cuda_program cuda_program;

enum { CUDA_PROGRAM_MAX_KERNELS = 8 };

typedef struct cuda_program_kernel {
    const char *name; /* entry point in the PTX */
    int threads;      /* block size */
    int smem_bytes;   /* dynamic shared memory (over 48 KB sets the function attribute) */
} cuda_program_kernel;

/* Compiles ptx (len bytes) for the current device (cuda_jit.h), loads it
 * and finds the n kernels. */
attnc_status cuda_program_load(cuda_program **out, const char *ptx, size_t len, const cuda_program_kernel *kernels,
                               int n, strbuf *err);
void cuda_program_destroy(cuda_program *p);

/* Starts a run on stream with a workspace of at least `bytes` (*ws its
 * device address; not zeroed). Always pair with cuda_program_end. */
attnc_status cuda_program_begin(cuda_program *p, void *stream, size_t bytes, uint64_t *ws, strbuf *err);
/* Launches kernel i on grid (gx, gy, gz) with args (the kernel's parameters
 * in order). A grid with a zero extent launches nothing. Between begin and
 * end when the kernels use the workspace; a program that never asks for one
 * (the merge) may launch without them, each launch ordered by its stream. */
attnc_status cuda_program_launch(cuda_program *p, int i, const int64_t grid[3], void **args, void *stream, strbuf *err);
/* Ends the run begun on stream (records its completion, unlocks). */
attnc_status cuda_program_end(cuda_program *p, void *stream, strbuf *err);

#endif
