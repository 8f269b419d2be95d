/* tune_db_shape.c — what keys a tuning record besides the arch: the recipe
 * hash and the launch shape given as text (`--shape`); see tune_db.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ir/expr.h"
#include "support/checked.h"
#include "runtime/tune/tune_db.h"

void tune_recipe_hash(const char *text, size_t len, char out[33])
{
    XXH128_hash_t h = XXH3_128bits(text, len);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

static bool name_is(const char *name, const char *key, size_t klen)
{
    return name && strlen(name) == klen && !strncmp(key, name, klen);
}

static bool set_field(tune_shape *s, const char *key, size_t klen, int64_t v, const char *const *grid_names,
                      const char *const *size_names, int grid_ndim)
{
    static const char *names[] = {"batch", "heads", "tokens", "kv_tokens", "kv_heads"};
    int64_t *slots[] = {&s->batch, &s->heads, &s->tokens, &s->kv_tokens, &s->kv_heads};
    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == klen && !strncmp(key, names[i], klen)) {
            *slots[i] = v;
            return true;
        }
    for (int i = 0; i < grid_ndim; i++)
        if (name_is(grid_names ? grid_names[i] : NULL, key, klen) ||
            name_is(size_names ? size_names[i] : NULL, key, klen)) {
            s->grid[i] = v;
            return true;
        }
    return false;
}

bool tune_shape_parse(const char *text, const char *const *grid_names, const char *const *size_names, int grid_ndim,
                      tune_shape *s, strbuf *err)
{
    memset(s, 0, sizeof *s);
    s->batch = s->heads = 1;
    for (const char *p = text; *p;) {
        const char *eq = strchr(p, '=');
        char *end;
        long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
        if (!eq || end == eq + 1 || v < 1 || v > (1LL << 40) || (*end && *end != ',') ||
            !set_field(s, p, (size_t)(eq - p), v, grid_names, size_names, grid_ndim)) {
            sb_printf(err, "bad --shape near '%s': write NAME=N,... with names batch, heads, tokens, kv_tokens, "
                           "kv_heads%s",
                      p, grid_ndim ? " and the recipe's grid dims" : "");
            return false;
        }
        p = *end ? end + 1 : end;
    }
    if (grid_ndim > 0) {
        int64_t t = 1;
        for (int i = 0; i < grid_ndim; i++) {
            if (s->grid[i] < 1) {
                const char *n = size_names && size_names[i] ? size_names[i] : grid_names ? grid_names[i] : NULL;
                sb_printf(err, "--shape needs %s= (a grid dim of the recipe)", n ? n : "?");
                return false;
            }
            if (!ck_mul(t, s->grid[i], &t) || t > SIZE_LIMIT_TOKENS) {
                sb_printf(err, "--shape: the token grid holds more than %lld tokens (ATTNC_MAX_TOKENS)",
                          (long long)SIZE_LIMIT_TOKENS);
                return false;
            }
        }
        s->tokens = t;
    }
    if (s->tokens < 1) {
        sb_puts(err, "--shape needs tokens=N");
        return false;
    }
    if (s->kv_tokens < 1)
        s->kv_tokens = s->tokens;
    if (s->kv_heads < 1)
        s->kv_heads = s->heads;
    static const char *const names[] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens"};
    const int64_t vals[] = {s->batch, s->heads, s->kv_heads, s->tokens, s->kv_tokens};
    for (int i = 0; i < 5; i++)
        if (vals[i] > size_limit((size_id)i)) {
            sb_printf(err, "--shape: %s = %lld is over the limit %lld", names[i], (long long)vals[i],
                      (long long)size_limit((size_id)i));
            return false;
        }
    return true;
}
