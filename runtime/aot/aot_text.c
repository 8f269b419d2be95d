/* aot_text.c — what user text may reach the generated C, and how: names
 * checked as identifiers that compile as C and C++ struct fields, arch
 * names from a table, and free text (file paths, schedules, messages)
 * escaped for comments and string literals. See aot.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "runtime/aot/aot.h"

bool aot_is_ident(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* C17/C23 and C++23 keywords (alternative tokens included), and the
 * lower-case macros of the C headers a program may include next to the
 * generated one, or that compilers predefine in GNU modes. */
static const char *const reserved[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "assert", "auto", "bitand", "bitor", "bool", "break", "case",
    "catch", "char", "char16_t", "char32_t", "char8_t", "class", "co_await", "co_return", "co_yield", "compl",
    "complex", "concept", "const", "const_cast", "consteval", "constexpr", "constinit", "continue", "decltype",
    "default", "delete", "do", "double", "dynamic_cast", "else", "enum", "errno", "explicit", "export", "extern",
    "false", "float", "for", "friend", "goto", "i386", "if", "imaginary", "inline", "int", "linux", "long",
    "math_errhandling", "mutable", "namespace", "new", "noexcept", "noreturn", "not", "not_eq", "nullptr",
    "offsetof", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "restrict", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast",
    "stderr", "stdin", "stdout", "struct", "switch", "template", "this", "thread_local", "throw", "true", "try",
    "typedef", "typeid", "typename", "typeof", "typeof_unqual", "union", "unix", "unreachable", "unsigned", "using",
    "va_arg", "va_copy", "va_end", "va_start", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
};

bool aot_field_name_ok(const char *s, strbuf *why)
{
    if (!aot_is_ident(s) || !islower((unsigned char)s[0])) {
        sb_printf(why, "'%s' is not usable as a C field name: start with a lower-case letter, then letters, digits "
                       "and '_' (names starting with an upper-case letter are taken to be macros, like NULL or EOF)",
                  s ? s : "(null)");
        return false;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(s, reserved[i])) {
            sb_printf(why, "'%s' is a C or C++ keyword or a standard macro; choose another name", s);
            return false;
        }
    return true;
}

/* The GPU targets ptxas knows, for --from-ptx (recipes use attnc's own). */
static const char *const arches[] = {
    "sm_50",  "sm_52",   "sm_53",  "sm_60",   "sm_61",  "sm_62",   "sm_70",  "sm_72",   "sm_75",
    "sm_80",  "sm_86",   "sm_87",  "sm_89",   "sm_90",  "sm_90a",  "sm_100", "sm_100a", "sm_101",
    "sm_101a", "sm_103", "sm_103a", "sm_120", "sm_120a", "sm_121", "sm_121a",
};

bool aot_arch_known(const char *arch)
{
    for (size_t i = 0; arch && i < sizeof arches / sizeof arches[0]; i++)
        if (!strcmp(arch, arches[i]))
            return true;
    return false;
}

void aot_arch_list(strbuf *out)
{
    for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
        sb_printf(out, "%s%s", i ? ", " : "", arches[i]);
}

/* Comment text: printable ASCII kept, except that no "*" "/" pair (which
 * would end the comment) or "/" "*" pair (-Wcomment), no backslash (line
 * splicing) and no "??" (trigraphs) can form; everything else as \xNN. */
void aot_put_comment(strbuf *out, const char *text)
{
    char prev = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        char c = (char)*p;
        bool pair = (prev == '*' && c == '/') || (prev == '/' && c == '*') || (prev == '?' && c == '?');
        if (*p < 0x20 || *p > 0x7e || c == '\\' || pair) {
            sb_printf(out, "\\x%02x", *p);
            prev = 0;
        } else {
            sb_putc(out, c);
            prev = c;
        }
    }
}

/* String literal contents: letters, digits and plain punctuation as they
 * are; quotes, backslashes, '?' (trigraphs) and anything else as 3-digit
 * octal escapes (which never swallow a following digit). With `format` the
 * text is a printf format: '%' is doubled. */
void aot_put_string(strbuf *out, const char *text, bool format)
{
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if (*p == '%' && format)
            sb_puts(out, "%%");
        else if (*p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\' && *p != '?')
            sb_putc(out, (char)*p);
        else
            sb_printf(out, "\\%03o", *p);
    }
}
