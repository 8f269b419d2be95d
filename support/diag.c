/* diag.c — diagnostic records and their rendering; see diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void diag_list_init(diag_list *d, arena *a, const char *file, const char *source, size_t len)
{
    memset(d, 0, sizeof *d);
    d->arena = a;
    d->file = file ? file : "<input>";
    d->source = source;
    d->source_len = len;
}

diag *diag_add(diag_list *d, diag_severity sev, src_loc loc, const char *hint, const char *fmt, ...)
{
    int cap = d->max_errors > 0 ? d->max_errors : 50;
    if (sev == DIAG_ERROR && d->errors >= cap)
        return NULL;
    diag *r = ARENA_NEW(d->arena, diag);
    if (!r)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->severity = sev;
    r->loc = loc;
    r->message = arena_strdup(d->arena, buf);
    r->hint = hint ? arena_strdup(d->arena, hint) : NULL;
    if (d->last)
        d->last->next = r;
    else
        d->first = r;
    d->last = r;
    if (sev == DIAG_ERROR)
        d->errors++;
    else if (sev == DIAG_WARNING)
        d->warnings++;
    return r;
}

static const char *severity_name(diag_severity s)
{
    return s == DIAG_ERROR ? "error" : s == DIAG_WARNING ? "warning" : "note";
}

/* Where the last rendered line started, so rendering N diagnostics of a
 * file (mostly in line order) scans it about once instead of N times. */
typedef struct line_cursor {
    int line;     /* 1-based */
    size_t start; /* offset of its first byte */
} line_cursor;

/* Finds the bounds of 1-based line `line` in the source. */
static bool find_line(const diag_list *d, line_cursor *cur, int line, size_t *start, size_t *end)
{
    if (!d->source || line < 1)
        return false;
    if (cur->line < 1 || cur->line > line)
        *cur = (line_cursor){1, 0};
    size_t i = cur->start;
    for (int l = cur->line; l < line; l++) {
        while (i < d->source_len && d->source[i] != '\n')
            i++;
        if (i >= d->source_len)
            return false;
        i++;
        *cur = (line_cursor){l + 1, i};
    }
    size_t j = i;
    while (j < d->source_len && d->source[j] != '\n' && d->source[j] != '\r')
        j++;
    *start = i;
    *end = j;
    return true;
}

/* Source bytes are shown as-is when printable ASCII or UTF-8, '?' otherwise,
 * so control bytes and NULs in a broken file cannot garble the terminal.
 * Runs of good bytes are appended whole (rendering is on the fuzzer's hot
 * path). */
static void put_source_line(strbuf *out, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t' || (c >= 32 && c != 127))
            continue;
        sb_append(out, s + run, i - run);
        sb_putc(out, '?');
        run = i + 1;
    }
    sb_append(out, s + run, n - run);
}

enum { EXCERPT_MAX = 200, UNDERLINE_MAX = 80 };

static void render_excerpt(const diag_list *d, line_cursor *cur, const diag *r, strbuf *out)
{
    size_t start, end;
    if (!find_line(d, cur, r->loc.line, &start, &end))
        return;
    size_t shown = end - start > EXCERPT_MAX ? EXCERPT_MAX : end - start;
    sb_printf(out, "%5d | ", r->loc.line);
    put_source_line(out, d->source + start, shown);
    sb_puts(out, "\n      | ");
    char marks[EXCERPT_MAX + UNDERLINE_MAX + 2]; /* padding (tabs kept), caret, tildes */
    size_t m = 0;
    int col = r->loc.col < 1 ? 1 : r->loc.col;
    for (int i = 1; i < col && (size_t)i <= shown; i++)
        marks[m++] = d->source[start + (size_t)i - 1] == '\t' ? '\t' : ' ';
    marks[m++] = '^';
    for (int i = 1; i < r->loc.len && i < UNDERLINE_MAX; i++)
        marks[m++] = '~';
    marks[m++] = '\n';
    sb_append(out, marks, m);
}

void diag_render(const diag_list *d, strbuf *out)
{
    line_cursor cur = {0, 0};
    for (const diag *r = d->first; r; r = r->next) {
        sb_printf(out, "%s:%d:%d: %s: %s\n", d->file, r->loc.line, r->loc.col,
                  severity_name(r->severity), r->message);
        render_excerpt(d, &cur, r, out);
        if (r->hint)
            sb_printf(out, "  hint: %s\n", r->hint);
    }
}

void diag_render_brief(const diag_list *d, strbuf *out)
{
    for (const diag *r = d->first; r; r = r->next)
        sb_printf(out, "%d:%d: %s: %s\n", r->loc.line, r->loc.col, severity_name(r->severity),
                  r->message);
}
