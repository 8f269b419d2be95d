/*
 * `--json` output (cli/json_out.h): strings escaped and kept valid UTF-8,
 * non-finite numbers as null; and `attnc bench --compile-timings --json`
 * on a recipe whose path holds a quote, a backslash, control characters, a
 * non-ASCII letter and a byte that is not UTF-8, parsed by Python's strict
 * JSON reader, which must give the path back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json_out.h"

static void expect_json_string(const char *in, const char *want)
{
    strbuf sb;
    sb_init(&sb);
    json_string(&sb, in);
    assert_string_equal(sb_cstr(&sb), want);
    sb_free(&sb);
}

static void strings_are_escaped(void **state)
{
    expect_json_string("plain/path.attn", "\"plain/path.attn\"");
    expect_json_string("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_json_string("t\tn\nr\r\x01\x1f", "\"t\\tn\\nr\\r\\u0001\\u001f\"");
    expect_json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect_json_string("bad\xff\xfe", "\"bad\\ufffd\\ufffd\"");
    expect_json_string("cut\xe2\x82", "\"cut\\ufffd\\ufffd\"");       /* truncated sequence */
    expect_json_string("over\xc0\xaf", "\"over\\ufffd\\ufffd\"");       /* overlong '/' */
    expect_json_string("surr\xed\xa0\x80", "\"surr\\ufffd\\ufffd\\ufffd\""); /* U+D800 */
    expect_json_string("big\xf4\x90\x80\x80", "\"big\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    expect_json_string("\x7f", "\"\x7f\"");
    expect_json_string(NULL, "null");
}

static void objects_and_numbers(void **state)
{
    strbuf sb;
    sb_init(&sb);
    json_obj j;
    json_begin(&j, &sb);
    json_str(&j, "file", "x\"y");
    json_num(&j, "ms", 1.23456, 3);
    json_num(&j, "nan", NAN, 3);
    json_num(&j, "inf", -INFINITY, 3);
    json_int(&j, "n", -42);
    json_bool(&j, "ok", true);
    json_end(&j);
    assert_string_equal(sb_cstr(&sb),
                        "{\"file\": \"x\\\"y\", \"ms\": 1.235, \"nan\": null, \"inf\": null, \"n\": -42, \"ok\": true}");
    sb_free(&sb);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    assert_int_equal(fclose(b), 0);
}

/* Runs bin/attnc with argv (no shell), stdout to out_path; returns the status. */
static int exec_attnc(char *const argv[], const char *out_path)
{
    char exe[1024];
    snprintf(exe, sizeof exe, "%s/bin/attnc", ATTNC_BINARY_DIR);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void bench_json_is_valid_with_a_hostile_path(void **state)
{
    char dir[] = "/tmp/attnc_json_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], out[600], want[600], src[512];
    snprintf(path, sizeof path, "%s/we\"ird\\ na\tme\x01 caf\xc3\xa9 \xff.attn", dir);
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(want, sizeof want, "%s/want.bin", dir);
    snprintf(src, sizeof src, "%s/recipes/causal.attn", ATTNC_SOURCE_DIR);
    copy_file(src, path);
    FILE *w = fopen(want, "wb");
    assert_non_null(w);
    fputs(path, w);
    fclose(w);
    char *argv[] = {"attnc", "bench", path, "--compile-timings", "--backend=cpu", "--repeats=1", "--json", NULL};
    assert_int_equal(exec_attnc(argv, out), 0);
    /* strict: control characters in strings and NaN/Infinity are rejected */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "def bad(c): raise ValueError(c)\n"
             "d = json.loads(open(sys.argv[1], encoding=\"utf-8\", errors=\"strict\").read(), parse_constant=bad)\n"
             "want = open(sys.argv[2], \"rb\").read().decode(\"utf-8\", \"replace\")\n"
             "assert d[\"file\"] == want, (d[\"file\"], want)\n"
             "assert d[\"recipe\"] == \"causal\" and d[\"backend\"] == \"cpu\" and d[\"repeats\"] == 1\n"
             "assert d[\"cold_ms\"] > 0\n"
             "' '%s' '%s'",
             out, want);
    int st = system(cmd);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        char text[4096] = "";
        FILE *f = fopen(out, "rb");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[n] = 0;
        if (f)
            fclose(f);
        print_error("attnc bench --json printed: %s\n", text);
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    unlink(path);
    unlink(out);
    unlink(want);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_are_escaped),
        cmocka_unit_test(objects_and_numbers),
        cmocka_unit_test(bench_json_is_valid_with_a_hostile_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
