/* cache_key.c — kernel cache keys (XXH3-128), the version stamp and the
 * default folder; see cache.h. */
#include "runtime/cache/cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "cache_stamp.h"
#include "runtime/include/attnc.h"

static pthread_once_t names_once = PTHREAD_ONCE_INIT;
static char stamp[128], version_dir[96];

static void make_names(void)
{
    snprintf(stamp, sizeof stamp, "attnc %s llvm %s codegen %s", attnc_version(), ATTNC_LLVM_VERSION_STRING,
             ATTNC_CODEGEN_HASH);
    /* The folder name carries everything that changes the entry layout. */
    snprintf(version_dir, sizeof version_dir, "kernels-f1-attnc%s-llvm%s", attnc_version(),
             ATTNC_LLVM_VERSION_STRING);
}

const char *cache_stamp(void)
{
    pthread_once(&names_once, make_names);
    return stamp;
}

const char *cache_version_dir(void)
{
    pthread_once(&names_once, make_names);
    return version_dir;
}

/* Length-prefixed, so ("ab","c") and ("a","bc") hash differently. */
static void put_field(XXH3_state_t *st, const char *s)
{
    uint64_t n = s ? strlen(s) : UINT64_MAX;
    XXH3_128bits_update(st, &n, sizeof n);
    if (s)
        XXH3_128bits_update(st, s, strlen(s));
}

cache_key cache_key_make(const cache_key_parts *p)
{
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    put_field(&st, "attnc-kernel-cache-key-v2"); /* v1 kernel keys also hashed the recipe text */
    put_field(&st, p->ir_text);
    put_field(&st, p->schedule_text);
    put_field(&st, p->arch);
    put_field(&st, p->extra);
    put_field(&st, attnc_version());
    put_field(&st, ATTNC_LLVM_VERSION_STRING);
    put_field(&st, ATTNC_CODEGEN_HASH);
    XXH128_hash_t h = XXH3_128bits_digest(&st);
    return (cache_key){h.high64, h.low64};
}

void cache_key_hex(cache_key key, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)key.hi, (unsigned long long)key.lo);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool cache_key_parse(const char *hex, cache_key *out)
{
    uint64_t w[2] = {0, 0};
    for (int i = 0; i < 32; i++) {
        int v = hexval(hex[i]);
        if (v < 0)
            return false;
        w[i / 16] = w[i / 16] << 4 | (uint64_t)v;
    }
    out->hi = w[0];
    out->lo = w[1];
    return true;
}

const char *cache_result_name(cache_result r)
{
    switch (r) {
    case CACHE_HIT_MEMORY: return "memory hit";
    case CACHE_HIT_DISK: return "disk hit";
    case CACHE_MISS: return "miss";
    case CACHE_CORRUPT: return "corrupt entry";
    case CACHE_ERROR: return "error";
    }
    return "?";
}

bool cache_default_dir(strbuf *out, bool versioned, strbuf *err)
{
    const char *env = getenv("ATTNC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env)
        sb_puts(out, env);
    else if (xdg && *xdg)
        sb_printf(out, "%s/attnc", xdg);
    else if (home && *home)
        sb_printf(out, "%s/.cache/attnc", home);
    else {
        sb_puts(err, "no cache folder: set ATTNC_CACHE_DIR (neither XDG_CACHE_HOME nor HOME is set)");
        return false;
    }
    if (versioned)
        sb_printf(out, "/%s", cache_version_dir());
    return !out->failed;
}

