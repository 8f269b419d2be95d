/* test_aot_names.c — user text reaching the generated AOT files (items 18
 * and 19 of issue #12): free text is escaped for comments and string
 * literals (every byte, comment terminators, trigraphs, backslash-newline),
 * a PTX path holding C code adds none, --arch comes from a table, --name and
 * signature names must be usable identifiers, and recipe params named after
 * C/C++ keywords and macros give C (strict, c11 and gnu11) and C++ that
 * compile. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "runtime/aot/aot.h"


static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    strbuf b;
    sb_init(&b);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&b, buf, k);
    fclose(f);
    return sb_take(&b);
}

/* Runs `attnc ARGS`, stderr captured in *out; returns the exit status. */
static int attnc(strbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int attnc(strbuf *out, const char *fmt, ...)
{
    char args[4096], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/bin/attnc %s 2>&1 >/dev/null", ATTNC_BINARY_DIR, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    sb_clear(out);
    char buf[512];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0)
        sb_append(out, buf, k);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Hostile texts, each put in a comment and in a string literal of a
 * program built with -std=c11 (trigraphs on) -Wall -Wextra -Werror
 * -pedantic; the program checks that every literal reads back as the
 * original bytes. */
static void test_escapes(void **state)
{
    (void)state;
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = 0;
    const char *texts[] = {
        all, "*/ int injected = 42; /*", "/* nested", "a ?\?/\nb", "trail ?\?", "back\\", "back\\\nslash", "%n%s%%",
        "\"quoted\" 'q'", "line\nbreak\r\tend", "*//*", "?\?= ?\?( ?\?) ?\?< ?\?> ?\?! ?\?' ?\?- ?\?/", "\xff\xfe utf-8 \xc3\xa9",
    };
    enum { N = sizeof texts / sizeof texts[0] };
    strbuf prog;
    sb_init(&prog);
    sb_puts(&prog, "#include <stdio.h>\n#include <string.h>\n");
    for (int i = 0; i < N; i++) {
        sb_printf(&prog, "/* %d: ", i);
        aot_put_comment(&prog, texts[i]);
        sb_printf(&prog, " */\nstatic const char s%d[] = \"", i);
        aot_put_string(&prog, texts[i], false);
        sb_printf(&prog, "\";\nstatic const char f%d[] = \"", i);
        aot_put_string(&prog, texts[i], true);
        sb_printf(&prog, "\";\nstatic const unsigned char want%d[] = {", i);
        for (const unsigned char *p = (const unsigned char *)texts[i]; *p; p++)
            sb_printf(&prog, "%u, ", *p);
        sb_puts(&prog, "0};\n");
    }
    sb_puts(&prog, "int main(void)\n{\n    char buf[1024];\n");
    for (int i = 0; i < N; i++) {
        sb_printf(&prog, "    if (memcmp(s%d, want%d, sizeof want%d) || sizeof s%d != sizeof want%d)\n", i, i, i, i, i);
        sb_printf(&prog, "        return printf(\"literal %d differs\\n\"), 1;\n", i);
        sb_printf(&prog, "    snprintf(buf, sizeof buf, f%d);\n", i);
        sb_printf(&prog, "    if (strcmp(buf, (const char *)want%d))\n", i);
        sb_printf(&prog, "        return printf(\"format %d differs\\n\"), 1;\n", i);
    }
    sb_puts(&prog, "    return 0;\n}\n");
    /* The comments hold no comment terminator, nested opener or splice. */
    char *dir = tmpdir_make(), path[512];
    snprintf(path, sizeof path, "%s/esc.c", dir);
    write_text(path, sb_cstr(&prog));
    assert_int_equal(test_sh_exit("cd %s && cc -std=c11 -Wall -Wextra -Werror -pedantic -Wno-format-security -Wtrigraphs -o esc "
                        "esc.c && ./esc",
                        dir),
                     0);
    sb_free(&prog);
    tmpdir_remove(dir);
}

static const char injected_main[] =
    "#include \"add_one.h\"\n"
    "int injected = 7; /* a second definition if the header defined one */\n"
    "int main(void)\n{\n    return add_one_self_check() == add_one_OK && injected == 7 ? 0 : 1;\n}\n";

/* --from-ptx with a path that is C code in disguise: the path shows in the
 * header comment, escaped; the program defining `injected` itself builds. */
static void test_ptx_path_injection(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[1024];
    snprintf(path, sizeof path, "%s/x*/ int injected = 42; ", dir);
    assert_int_equal(test_sh_exit("mkdir -p '%s' && cp %s/examples/add_one.ptx '%s/*.ptx'", path, ATTNC_SOURCE_DIR, path), 0);
    strbuf out;
    sb_init(&out);
    assert_int_equal(attnc(&out, "compile --from-ptx '%s/*.ptx' --entry add_one --signature 'x:ptr/4, n:i32>=1' "
                                 "--grid 'n/256,1,1' --block 256 -o %s/out",
                           path, dir),
                     0);
    snprintf(path, sizeof path, "%s/out/add_one.h", dir);
    char *h = read_text(path);
    assert_non_null(h);
    assert_null(strstr(h, "*/ int injected"));
    assert_non_null(strstr(h, "x*\\x2f int injected = 42; /\\x2a.ptx")); /* escaped, still readable */
    free(h);
    snprintf(path, sizeof path, "%s/out/main.c", dir);
    write_text(path, injected_main);
    assert_int_equal(test_sh_exit("cd %s/out && cc -std=c11 -Wall -Wextra -Werror -pedantic -pthread -o m main.c add_one.c && "
                        "./m",
                        dir),
                     0);
    sb_free(&out);
    tmpdir_remove(dir);
}

/* Arch, name and signature names: exit 1 with a message, nothing written. */
static void test_bad_strings(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    strbuf out;
    sb_init(&out);
    const char *common = "--entry add_one --grid 'n/256,1,1' --block 256";
    struct {
        const char *args, *want;
    } cases[] = {
        {"--arch 'sm_80 */ int x; /*' --signature 'x:ptr/4, n:i32>=1'", "sm_90a"}, /* lists the accepted arches */
        {"--arch sm_99 --signature 'x:ptr/4, n:i32>=1'", "unknown GPU arch"},
        {"--name '' --signature 'x:ptr/4, n:i32>=1'", "C identifiers"},
        {"--name 'a-b' --signature 'x:ptr/4, n:i32>=1'", "C identifiers"},
        {"--name '9lives' --signature 'x:ptr/4, n:i32>=1'", "C identifiers"},
        {"--signature 'int:ptr/4, n:i32>=1'", "keyword"},
        {"--signature 'x:ptr/4, n:i32>=1, NULL:i32'", "macros"},
        {"--signature 'x:ptr/4, n:i32>=1, stdin:i64'", "macro"},
        {"--signature 'x:ptr/4, n:i32>=1, class:f32'", "keyword"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = attnc(&out, "compile --from-ptx %s/examples/add_one.ptx %s %s -o %s/out%zu", ATTNC_SOURCE_DIR, common,
                       cases[i].args, dir, i);
        if (rc != 1 || !strstr(sb_cstr(&out), cases[i].want) || strstr(sb_cstr(&out), "internal error"))
            fail_msg("case %zu (%s): exit %d, message: %s", i, cases[i].args, rc, sb_cstr(&out));
        char path[600];
        snprintf(path, sizeof path, "%s/out%zu", dir, i);
        struct stat st;
        assert_int_not_equal(stat(path, &st), 0); /* checked before anything is written */
    }
    /* Recipe AOT: --name is checked the same way. */
    assert_int_equal(attnc(&out, "compile %s/recipes/causal.attn --aot --name '' -o %s/r", ATTNC_SOURCE_DIR, dir), 1);
    assert_non_null(strstr(sb_cstr(&out), "not a C identifier"));
    assert_null(strstr(sb_cstr(&out), "internal error"));
    assert_int_equal(attnc(&out, "compile %s/recipes/causal.attn --aot --name 'x y' -o %s/r", ATTNC_SOURCE_DIR, dir), 1);
    /* Accepted: another real arch for hand-written PTX, and plain names. */
    assert_int_equal(attnc(&out, "compile --from-ptx %s/examples/add_one.ptx %s --arch sm_86 --signature 'x:ptr/4, "
                                 "n_elems:i32>=1' --grid 'n_elems/256,1,1' --block 256 --name add_one -o %s/ok",
                           ATTNC_SOURCE_DIR, "--entry add_one", dir),
                     0);
    sb_free(&out);
    tmpdir_remove(dir);
}

static void test_field_names(void **state)
{
    (void)state;
    strbuf why;
    sb_init(&why);
    const char *ok[] = {"x", "n_elems", "p_int", "p_NULL", "a__b", "lse", "size"};
    const char *bad[] = {NULL, "", "9x", "x-y", "NULL", "EOF", "_x", "int", "default", "bool", "class", "this",
                         "errno", "stdin", "linux", "unix", "and", "new", "delete", "typename"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(aot_field_name_ok(ok[i], &why));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (aot_field_name_ok(bad[i], &why))
            fail_msg("'%s' accepted as a field name", bad[i] ? bad[i] : "(null)");
    assert_true(aot_arch_known("sm_80") && aot_arch_known("sm_90a") && aot_arch_known("sm_120a"));
    assert_false(aot_arch_known("sm_80 ") || aot_arch_known("") || aot_arch_known(NULL) || aot_arch_known("sm_8"));
    sb_free(&why);
}

/* Params named after keywords and macros of C and C++: the recipe is legal,
 * so the generated C must build strictly, in GNU mode too (where `linux`
 * and `unix` are macros), and the header must include into C++. */
static const char keyword_recipe[] =
    "recipe int\n"
    "input  q, k, v : bf16 [batch, heads, tokens, 64]\n"
    "param  int : i32 [batch, tokens]\n"
    "param  NULL : f32 [heads]\n"
    "param  EOF : f32\nparam  class : f32\nparam  bool : f32\nparam  this : f32\nparam  default : f32\n"
    "param  linux : f32\nparam  unix : f32\nparam  stdin : f32\nparam  errno : f32\nparam  and : f32\n"
    "param  _Bool : f32\nparam  __x : f32\n"
    "mask   causal && document(int)\n"
    "score  s * EOF + class + NULL[head] + bool + this + default + linux + unix + stdin + errno + and + _Bool + __x\n";

static const char keyword_cxx[] =
    "#include <cstdio>\n#include <cerrno>\n#include \"int_sm_80.h\"\n"
    "#include <cstring>\n"
    "int main()\n{\n    int_sm_80_args a{};\n    a.p_this = 1.0f; a.p_class = 2.0f; a.p_NULL = nullptr; a.p_EOF = 0;\n"
    "    a.p_linux = a.p_unix = a.p_stdin = a.p_errno = a.p_and = a.p_default = a.p__Bool = a.p___x = 0;\n"
    "    a.size[0] = a.size[1] = a.size[2] = a.size[3] = a.size[4] = 1; /* not empty; q is NULL */\n"
    "    return int_sm_80_validate(&a) == int_sm_80_ERR_INVALID_ARGUMENT && std::strstr(int_sm_80_errmsg(), \"'q'\") "
    "? 0 : 1;\n}\n";

static void test_keyword_params(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[512];
    snprintf(path, sizeof path, "%s/int.attn", dir);
    write_text(path, keyword_recipe);
    strbuf out;
    sb_init(&out);
    if (attnc(&out, "compile %s --aot -o %s", path, dir) != 0)
        fail_msg("attnc compile: %s", sb_cstr(&out));
    snprintf(path, sizeof path, "%s/t.cc", dir);
    write_text(path, keyword_cxx);
    assert_int_equal(test_sh_exit("cd %s && cc -std=c11 -Wall -Wextra -Werror -pedantic -c int_sm_80.c -o c11.o && "
                        "cc -std=gnu11 -Wall -Wextra -Werror -c int_sm_80.c -o gnu11.o",
                        dir),
                     0);
    assert_int_equal(test_sh_exit("cd %s && c++ -std=c++17 -Wall -Wextra -Werror -pthread -o t t.cc c11.o -ldl && ./t", dir), 0);
    sb_free(&out);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),     cmocka_unit_test(test_ptx_path_injection),
        cmocka_unit_test(test_bad_strings), cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_keyword_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
