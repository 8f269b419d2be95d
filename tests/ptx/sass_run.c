/* sass_run.c — see sass_run.h. */
#include "sass_run.h"

#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptxas_run.h"

#ifndef ATTNC_SOURCE_DIR
#define ATTNC_SOURCE_DIR "."
#endif

static char found[1024];

const char *sass_tool(void)
{
    const char *env = getenv("ATTNC_NVDISASM");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    if (access("/usr/local/cuda/bin/nvdisasm", X_OK) == 0)
        return "/usr/local/cuda/bin/nvdisasm";
    glob_t g;
    const char *pattern = ATTNC_SOURCE_DIR "/build-venv/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm";
    const char *hit = NULL;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && !hit; i++)
            if (access(g.gl_pathv[i], X_OK) == 0 && strlen(g.gl_pathv[i]) < sizeof found) {
                strcpy(found, g.gl_pathv[i]);
                hit = found;
            }
        globfree(&g);
    }
    return hit;
}

bool sass_of(const char *ptx, const char *arch, strbuf *sass)
{
    const char *tool = sass_tool();
    if (!tool || !ptxas_available())
        return false;
    char cubin[] = "/tmp/attnc_cubin_XXXXXX";
    int fd = mkstemp(cubin);
    if (fd < 0)
        return false;
    close(fd);
    bool ok = ptxas_assemble(ptx, arch, cubin, sass);
    if (ok) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%s -c %s 2>&1", tool, cubin);
        ok = run_capture(cmd, sass);
    }
    unlink(cubin);
    return ok;
}

/* The destination register of SASS line l ("/ *0x..* /  [@P0] OPC Rn, ..."):
 * n, or -1 when it has none. */
static int dest_reg(const char *l, const char **opcode)
{
    const char *p = strstr(l, "*/");
    if (!p)
        return -1;
    p += 2;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '@') { /* a predicate guard */
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    *opcode = p;
    while (*p && *p != ' ')
        p++;
    while (*p == ' ')
        p++;
    if (p[0] != 'R' || !isdigit((unsigned char)p[1]))
        return -1;
    return atoi(p + 1);
}

int sass_ldsm_clobbers(const char *sass, char *first, int first_size)
{
    enum { NREG = 256 };
    bool q[NREG] = {0};
    const char *start = NULL;
    if (first && first_size > 0)
        first[0] = '\0';
    for (const char *l = sass; l && *l;) { /* the LDSM x4 destinations, and where the first is */
        const char *end = strchr(l, '\n');
        const char *op;
        int r = dest_reg(l, &op);
        if (r >= 0 && r + 3 < NREG && strncmp(op, "LDSM.16.M88.4 ", 14) == 0 && (!end || op < end)) {
            for (int d = 0; d < 4; d++)
                q[r + d] = true;
            if (!start)
                start = l;
        }
        l = end ? end + 1 : NULL;
    }
    int n = 0;
    for (const char *l = start; l && *l;) {
        const char *end = strchr(l, '\n');
        const char *op;
        int r = dest_reg(l, &op);
        if (r >= 0 && r < NREG && q[r] && (!end || op < end) && strncmp(op, "LDSM.", 5) != 0) {
            char self[32]; /* LOP3.LUT Rn, Rn, ...: the carry's XOR, in place */
            snprintf(self, sizeof self, "LOP3.LUT R%d, R%d,", r, r);
            if (strncmp(op, self, strlen(self)) != 0) {
                if (n == 0 && first && first_size > 0) {
                    int len = end ? (int)(end - op) : (int)strlen(op);
                    snprintf(first, (size_t)first_size, "%.*s", len < first_size - 1 ? len : first_size - 1, op);
                }
                n++;
            }
        }
        l = end ? end + 1 : NULL;
    }
    return n;
}
