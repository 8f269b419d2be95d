/*
 * ptxas_run.h — run /usr/local/cuda/bin/ptxas on PTX text (tests only).
 * ptxas_available() is false when the tool is absent; tests then print
 * "skipped: no ptxas".
 */
#ifndef ATTNC_TESTS_PTXAS_RUN_H
#define ATTNC_TESTS_PTXAS_RUN_H

#include <stdbool.h>

#include "support/strbuf.h"

bool ptxas_available(void);
/* Assembles ptx for arch ("sm_80", "sm_90a") with -v; the tool's output goes
 * to log. Returns true when ptxas exits 0. */
bool ptxas_check(const char *ptx, const char *arch, strbuf *log);
/* The same, writing the cubin to out (a path). */
bool ptxas_assemble(const char *ptx, const char *arch, const char *out, strbuf *log);
/* Runs the shell command cmd, appending its output to out; true when it
 * exits 0. */
bool run_capture(const char *cmd, strbuf *out);
/* From a -v log: total spill bytes (stores + loads) and stack frame bytes. */
int ptxas_spill_bytes(const char *log);
/* ptxas_check when ptxas is installed: false when it refuses ptx (log
 * holds why); else true with *spill its spill bytes, or -1 without ptxas. */
bool ptxas_spills(const char *ptx, const char *arch, int *spill, strbuf *log);
/* ptxas_check, then what makes a kernel unfit for speed: NULL when ptxas
 * accepts ptx with no spills and no wgmma it serialises (its C751x
 * warnings: the overlapped loop would be lost), else which (log holds
 * ptxas' output). */
const char *ptxas_clean(const char *ptx, const char *arch, strbuf *log);
/* Occurrences of needle in text. */
int ptx_count(const char *text, const char *needle);

#endif
