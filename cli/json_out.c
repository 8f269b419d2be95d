/* json_out.c — see json_out.h. */
#include "json_out.h"

#include <math.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0] starts none. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
        return 0; /* a stray continuation byte, an overlong 2-byte form, past U+10FFFF */
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, or a UTF-16 surrogate */
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0; /* overlong, or past U+10FFFF */
    return n;
}

void json_string(strbuf *sb, const char *s)
{
    if (!s) {
        sb_puts(sb, "null");
        return;
    }
    sb_putc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        int n = utf8_len(p);
        if (c == '"' || c == '\\')
            sb_printf(sb, "\\%c", c);
        else if (c == '\n')
            sb_puts(sb, "\\n");
        else if (c == '\t')
            sb_puts(sb, "\\t");
        else if (c == '\r')
            sb_puts(sb, "\\r");
        else if (c < 0x20)
            sb_printf(sb, "\\u%04x", c);
        else if (n == 0)
            sb_puts(sb, "\\ufffd");
        else
            sb_append(sb, (const char *)p, (size_t)n);
        p += n > 0 ? n : 1;
    }
    sb_putc(sb, '"');
}

static void key(json_obj *j, const char *k)
{
    sb_puts(j->sb, j->n++ ? ", " : "");
    json_string(j->sb, k);
    sb_puts(j->sb, ": ");
}

void json_begin(json_obj *j, strbuf *sb)
{
    j->sb = sb;
    j->n = 0;
    sb_putc(sb, '{');
}

void json_str(json_obj *j, const char *k, const char *v)
{
    key(j, k);
    json_string(j->sb, v);
}

void json_num(json_obj *j, const char *k, double v, int decimals)
{
    key(j, k);
    if (isfinite(v))
        sb_printf(j->sb, "%.*f", decimals, v);
    else
        sb_puts(j->sb, "null");
}

void json_int(json_obj *j, const char *k, long long v)
{
    key(j, k);
    sb_printf(j->sb, "%lld", v);
}

void json_bool(json_obj *j, const char *k, bool v)
{
    key(j, k);
    sb_puts(j->sb, v ? "true" : "false");
}

void json_end(json_obj *j)
{
    sb_putc(j->sb, '}');
}
