/* golden_runner — the tile IR golden test (tests/golden/README.md).
 *
 *   golden_runner RECIPES_DIR GOLDEN_DIR
 *
 * For every RECIPES_DIR/NAME.attn and every pass P (pipeline.c's table),
 * lowers the recipe for the host with its own schedule (or the default) and
 * compares the IR after P with GOLDEN_DIR/NAME.P.tir; the GPU layout is
 * checked too, as NAME.layout.sm_80.tir and NAME.pipelining.sm_80.tir. Every golden file must also round
 * trip: parse -> print gives the same text. Prints [PASS]/[FAIL] per file
 * and a summary; exit 1 on any failure. With ATTNC_UPDATE_GOLDEN=1 the
 * files are (re)written instead. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/pipeline.h"

typedef struct stats {
    int pass, fail;
    bool update;
} stats;

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    strbuf sb;
    sb_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&sb, buf, n);
    fclose(f);
    *len = sb.len;
    sb_cstr(&sb);
    return sb_take(&sb);
}

static bool write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Round trip of an expected file: parse, print, compare. */
static bool round_trips(const char *text, size_t len, strbuf *why)
{
    arena a;
    arena_init(&a, NULL);
    tir_kernel *k = tir_parse(&a, text, len, why);
    bool ok = false;
    if (k) {
        strbuf again;
        sb_init(&again);
        tir_print(&again, k);
        ok = again.len == len && !memcmp(again.data, text, len);
        if (!ok)
            sb_puts(why, "print(parse(file)) differs from the file");
        sb_free(&again);
    }
    arena_free_all(&a);
    return ok;
}

static void check(stats *st, const char *path, const char *name, const char *actual)
{
    size_t len = 0;
    char *expected = st->update ? NULL : read_all(path, &len);
    strbuf why;
    sb_init(&why);
    bool ok;
    if (st->update)
        ok = write_all(path, actual) || (sb_puts(&why, "cannot write"), false);
    else if (!expected)
        ok = (sb_puts(&why, "missing golden file (ATTNC_UPDATE_GOLDEN=1 writes it)"), false);
    else if (strcmp(expected, actual))
        ok = (sb_puts(&why, "IR differs from the golden file"), false);
    else
        ok = round_trips(expected, len, &why);
    printf("[%s] %s%s%s\n", ok ? "PASS" : "FAIL", name, ok ? "" : ": ", ok ? "" : sb_cstr(&why));
    if (!ok && expected && strcmp(expected, actual))
        printf("---- expected\n%s---- actual\n%s----\n", expected, actual);
    st->pass += ok;
    st->fail += !ok;
    sb_free(&why);
    free(expected);
}

static const recipe *load(arena *a, const char *path)
{
    size_t len;
    const char *why;
    char *text = frontend_read_file(a, path, &len, &why);
    if (!text)
        return NULL;
    diag_list d;
    diag_list_init(&d, a, path, text, len);
    recipe *r = frontend_parse(a, path, text, len, &d);
    return d.errors ? NULL : r;
}

static void one_pass(stats *st, const recipe *r, const char *dir, const char *base, const char *pass, target_arch arch)
{
    char path[4096], name[512];
    snprintf(name, sizeof name, "%s.%s%s.tir", base, pass, arch == TARGET_HOST ? "" : ".sm_80");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    arena a;
    arena_init(&a, NULL);
    strbuf out, err;
    sb_init(&out);
    sb_init(&err);
    tir_kernel *k = lower_recipe_until(&a, r, NULL, arch, pass, NULL, &err);
    if (k) {
        tir_print(&out, k);
        check(st, path, name, sb_cstr(&out));
    } else {
        printf("[FAIL] %s: lowering failed: %s\n", name, sb_cstr(&err));
        st->fail++;
    }
    sb_free(&out);
    sb_free(&err);
    arena_free_all(&a);
}

static void one_recipe(stats *st, const char *rdir, const char *gdir, const char *file)
{
    char path[4096], base[256];
    snprintf(path, sizeof path, "%s/%s", rdir, file);
    snprintf(base, sizeof base, "%.*s", (int)(strlen(file) - 5), file);
    arena a;
    arena_init(&a, NULL);
    const recipe *r = load(&a, path);
    if (!r) {
        printf("[FAIL] %s: the recipe does not parse\n", file);
        st->fail++;
    } else {
        for (const pass_info *p = pass_table(); p->name; p++)
            one_pass(st, r, gdir, base, p->name, TARGET_HOST);
        one_pass(st, r, gdir, base, "layout", TARGET_SM80);
        one_pass(st, r, gdir, base, "pipelining", TARGET_SM80);
    }
    arena_free_all(&a);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: golden_runner RECIPES_DIR GOLDEN_DIR\n");
        return 2;
    }
    stats st = {0, 0, getenv("ATTNC_UPDATE_GOLDEN") && *getenv("ATTNC_UPDATE_GOLDEN") == '1'};
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "golden_runner: cannot open %s\n", argv[1]);
        return 2;
    }
    char *names[512];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 512;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".attn"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        one_recipe(&st, argv[1], argv[2], names[i]);
        free(names[i]);
    }
    printf("%d passed, %d failed%s\n", st.pass, st.fail, st.update ? " (golden files written)" : "");
    return st.fail || n == 0 ? 1 : 0;
}
