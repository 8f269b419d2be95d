/* ptxas_run.c — see ptxas_run.h. */
#include "ptxas_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ptxas_path(void)
{
    const char *p = getenv("ATTNC_PTXAS");
    return p && *p ? p : "/usr/local/cuda/bin/ptxas";
}

bool ptxas_available(void)
{
    return access(ptxas_path(), X_OK) == 0;
}

bool run_capture(const char *cmd, strbuf *out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        sb_append(out, buf, n);
    int st = pclose(p);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool ptxas_assemble(const char *ptx, const char *arch, const char *out, strbuf *log)
{
    char path[] = "/tmp/attnc_ptx_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    FILE *f = fdopen(fd, "w");
    fputs(ptx, f);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -v --gpu-name %s %s -o %s 2>&1", ptxas_path(), arch, path, out);
    bool ok = run_capture(cmd, log);
    unlink(path);
    return ok;
}

bool ptxas_check(const char *ptx, const char *arch, strbuf *log)
{
    return ptxas_assemble(ptx, arch, "/dev/null", log);
}

int ptxas_spill_bytes(const char *log)
{
    int total = 0;
    for (const char *s = log; (s = strstr(s, "bytes spill")) != NULL; s++) {
        const char *b = s;
        while (b > log && b[-1] == ' ')
            b--;
        while (b > log && b[-1] >= '0' && b[-1] <= '9')
            b--;
        total += atoi(b);
    }
    return total;
}

bool ptxas_spills(const char *ptx, const char *arch, int *spill, strbuf *log)
{
    *spill = -1;
    if (!ptxas_available())
        return true;
    if (!ptxas_check(ptx, arch, log))
        return false;
    *spill = ptxas_spill_bytes(sb_cstr(log));
    return true;
}

const char *ptxas_clean(const char *ptx, const char *arch, strbuf *log)
{
    if (!ptxas_check(ptx, arch, log))
        return "ptxas rejected the PTX";
    if (ptxas_spill_bytes(sb_cstr(log)))
        return "ptxas spills";
    if (strstr(sb_cstr(log), "are serialized") || strstr(sb_cstr(log), "C751"))
        return "ptxas serialises the wgmma";
    return NULL;
}

int ptx_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}
