/*
 * json_out.h — one-line JSON objects for `--json` output:
 *
 *   {"recipe": "causal", "file": "a \"b\".attn", "time_ms": 0.1234}
 *
 * Strings are escaped (quote, backslash, control characters) and kept valid
 * UTF-8 (a byte that is not part of a valid UTF-8 sequence becomes U+FFFD);
 * a number that is not finite is written as null.
 */
#ifndef ATTNC_CLI_JSON_OUT_H
#define ATTNC_CLI_JSON_OUT_H

#include <stdbool.h>

#include "support/strbuf.h"

typedef struct json_obj {
    strbuf *sb;
    int n; /* members written */
} json_obj;

/* Appends s to sb as a quoted JSON string (NULL as null). */
void json_string(strbuf *sb, const char *s);

void json_begin(json_obj *j, strbuf *sb);
void json_str(json_obj *j, const char *key, const char *v);
void json_num(json_obj *j, const char *key, double v, int decimals);
void json_int(json_obj *j, const char *key, long long v);
void json_bool(json_obj *j, const char *key, bool v);
void json_end(json_obj *j); /* "}" */

#endif
