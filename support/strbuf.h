/*
 * strbuf.h — a growable, always NUL-terminated string for printers.
 *
 * Printers (IR text, diagnostics, generated C) append to a strbuf. On
 * allocation failure the buffer is marked failed and further appends are
 * ignored, so a printer checks `failed` once at the end.
 */
#ifndef ATTNC_SUPPORT_STRBUF_H
#define ATTNC_SUPPORT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *data; /* NUL-terminated when len > 0 or after sb_cstr */
    size_t len, cap;
    bool failed;
} strbuf;

void sb_init(strbuf *sb);
void sb_free(strbuf *sb);
void sb_clear(strbuf *sb);
void sb_append(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the text ("" when empty); never NULL. */
const char *sb_cstr(strbuf *sb);
/* Hands the heap buffer to the caller (free() it); the strbuf is reset. */
char *sb_take(strbuf *sb);

#endif
