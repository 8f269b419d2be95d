/*
 * sass_run.h — SASS of PTX text (tests only): ptxas to a cubin, then
 * nvdisasm. nvdisasm is not part of every CUDA install: it is looked up at
 * $ATTNC_NVDISASM, /usr/local/cuda/bin/nvdisasm, then the PyPI package
 * nvidia-cuda-nvdisasm in the source tree's build-venv (scripts/install-deps.sh
 * installs it there). Tests print "skipped: no nvdisasm" without one.
 */
#ifndef ATTNC_TESTS_SASS_RUN_H
#define ATTNC_TESTS_SASS_RUN_H

#include <stdbool.h>

#include "support/strbuf.h"

/* The nvdisasm found, or NULL. */
const char *sass_tool(void);
/* Appends the SASS of ptx (arch "sm_90a", ...) to sass; false when ptxas or
 * nvdisasm fails (sass then holds their output). */
bool sass_of(const char *ptx, const char *arch, strbuf *sass);
/* Registers loaded by `LDSM.16.M88.4` (the x4 ldmatrix: Q's A fragments)
 * that a later instruction overwrites, other than in place by a LOP3 that
 * reads the same register (the plain loop's XOR carry). Fills first (if not
 * NULL, up to 160 bytes) with the first such instruction. */
int sass_ldsm_clobbers(const char *sass, char *first, int first_size);

#endif
