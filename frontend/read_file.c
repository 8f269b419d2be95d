/* read_file.c — load a recipe file into the compile arena. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frontend.h"

enum { RECIPE_MAX_BYTES = 16 << 20 }; /* a recipe is text; refuse anything huge */

char *frontend_read_file(arena *a, const char *path, size_t *len, const char **err_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err_out = strerror(errno);
        return NULL;
    }
    strbuf sb;
    sb_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && sb.len <= RECIPE_MAX_BYTES)
        sb_append(&sb, buf, n);
    bool read_error = ferror(f);
    fclose(f);
    char *text = NULL;
    if (read_error)
        *err_out = "read error";
    else if (sb.len > RECIPE_MAX_BYTES)
        *err_out = "file larger than 16 MiB; a recipe is a small text file";
    else if (sb.failed || !(text = arena_alloc(a, sb.len + 1)))
        *err_out = "out of memory";
    else {
        if (sb.len)
            memcpy(text, sb.data, sb.len);
        *len = sb.len;
    }
    sb_free(&sb);
    return text;
}
