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

/* One SASS instruction: its text (from the opcode or guard) and, for a
 * label line (".L_x_N:"), the label's number (-1 otherwise). */
typedef struct sass_line {
    const char *text;
    int label;
} sass_line;

int sass_loop_with_hgmma(const char *sass, int hgmma, int *r2ur)
{
    /* instructions and labels in order: a label line precedes the instruction it marks */
    size_t cap = 1024, n = 0;
    sass_line *ins = malloc(cap * sizeof *ins);
    int *label_at = NULL; /* label number -> instruction index */
    int nlabels = 0;
    int best = -1;
    *r2ur = 0;
    if (!ins)
        return -1;
    for (const char *l = sass; l && *l;) {
        const char *end = strchr(l, '\n');
        const char *lab = strstr(l, ".L_x_");
        const char *insn = strstr(l, "*/");
        if (insn && end && insn > end)
            insn = NULL; /* on a later line */
        if (lab && (!end || lab < end) && !insn) {
            int num = atoi(lab + 5);
            if (num >= nlabels) {
                int *grown = realloc(label_at, (size_t)(num + 1) * sizeof *grown);
                if (!grown)
                    break;
                for (int i = nlabels; i <= num; i++)
                    grown[i] = -1;
                label_at = grown;
                nlabels = num + 1;
            }
            label_at[num] = (int)n;
        } else if (insn && strncmp(l, "        /*", 10) == 0) {
            if (n == cap) {
                sass_line *grown = realloc(ins, 2 * cap * sizeof *grown);
                if (!grown)
                    break;
                ins = grown;
                cap *= 2;
            }
            ins[n++] = (sass_line){insn + 2, -1};
        }
        l = end ? end + 1 : NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(ins[i].text, '\n');
        const char *bra = strstr(ins[i].text, "BRA ");
        const char *to = bra ? strstr(bra, ".L_x_") : NULL;
        if (!to || (end && to > end))
            continue;
        int num = atoi(to + 5);
        if (num >= nlabels || label_at[num] < 0 || label_at[num] > (int)i)
            continue;
        int count = 0, moves = 0, size = (int)i - label_at[num] + 1;
        for (size_t k = (size_t)label_at[num]; k <= i; k++) {
            const char *e = strchr(ins[k].text, '\n');
            size_t len = e ? (size_t)(e - ins[k].text) : strlen(ins[k].text);
            char line[256];
            snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), ins[k].text);
            count += strstr(line, "HGMMA") != NULL;
            moves += strstr(line, "R2UR ") != NULL;
        }
        if (count == hgmma && (best < 0 || size < best)) {
            best = size;
            *r2ur = moves;
        }
    }
    free(ins);
    free(label_at);
    return best;
}
