/*
 * diag.h — diagnostics: one record per problem, rendered like a C compiler.
 *
 *   recipes/x.attn:4:12: error: unknown mask form 'neighbourhood'
 *       4 | mask   neighbourhood(window: (7, 7))
 *         |        ^~~~~~~~~~~~~
 *   hint: write 'neighborhood' (American spelling)
 *
 * Libraries never print or exit: phases append records to a diag_list and
 * the caller decides how to show them. Records and their strings live in the
 * list's arena.
 */
#ifndef ATTNC_SUPPORT_DIAG_H
#define ATTNC_SUPPORT_DIAG_H

#include "arena.h"
#include "strbuf.h"

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } diag_severity;

/* A place in a source file: 1-based line and column (in bytes), span length. */
typedef struct src_loc {
    int line, col, len;
} src_loc;

typedef struct diag {
    diag_severity severity;
    src_loc loc;
    const char *message;
    const char *hint; /* "write instead" advice, or NULL */
    struct diag *next;
} diag;

typedef struct diag_list {
    arena *arena;
    const char *file;   /* shown as the location prefix */
    const char *source; /* the text the locations point into (may hold NULs) */
    size_t source_len;
    diag *first, *last;
    int errors, warnings;
    int max_errors; /* stop recording errors after this many (0: 50) */
} diag_list;

void diag_list_init(diag_list *d, arena *a, const char *file, const char *source, size_t len);

/* Appends a record; hint may be NULL. Returns the record (NULL on OOM or cap). */
diag *diag_add(diag_list *d, diag_severity sev, src_loc loc, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define diag_error(d, loc, hint, ...) diag_add((d), DIAG_ERROR, (loc), (hint), __VA_ARGS__)

/* Renders every record (location line, source line, caret, hint). */
void diag_render(const diag_list *d, strbuf *out);
/* Renders "line:col: error: message" lines only, without file or source: for tests. */
void diag_render_brief(const diag_list *d, strbuf *out);

#endif
