/* cache_disk.c — kernel cache entry files: atomic writes and validated
 * reads; see cache_disk.h for the layout. */
#include "runtime/cache/cache_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static const char magic[8] = "ATNCKRN";
enum { MAX_PAYLOAD = 1 << 30 };

static const char *kind_ext(cache_kind k)
{
    return k == CACHE_CUBIN ? "cubin" : "ptx";
}

void disk_entry_path(strbuf *out, const char *dir, cache_key key, cache_kind kind)
{
    char hex[33];
    cache_key_hex(key, hex);
    sb_printf(out, "%s/%s.%s", dir, hex, kind_ext(kind));
}

bool disk_make_dirs(const char *path, strbuf *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        if (err)
            sb_printf(err, "bad cache folder path '%s'", path);
        return false;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            if (err) /* NULL: the caller only wants the yes/no */
                sb_printf(err, "cannot create cache folder '%s': %s", buf, strerror(errno));
            return false;
        }
        buf[i] = c;
    }
    return true;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void make_header(unsigned char h[CACHE_HEADER_SIZE], cache_key key, cache_kind kind, const void *data,
                        size_t len)
{
    XXH128_hash_t sum = XXH3_128bits(data, len);
    memcpy(h, magic, 8);
    put_u32(h + 8, CACHE_FORMAT_VERSION);
    put_u32(h + 12, (uint32_t)kind);
    put_u64(h + 16, key.hi);
    put_u64(h + 24, key.lo);
    put_u64(h + 32, len);
    put_u64(h + 40, sum.high64);
    put_u64(h + 48, sum.low64);
    put_u64(h + 56, XXH3_64bits(h, 56));
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* A temp name no other thread or process uses: pid + a per-process counter. */
static void temp_path(strbuf *out, const char *dir, cache_key key, cache_kind kind)
{
    static atomic_ulong counter;
    char hex[33];
    cache_key_hex(key, hex);
    sb_printf(out, "%s/.tmp-%s.%s.%ld.%lu", dir, hex, kind_ext(kind), (long)getpid(),
              (unsigned long)atomic_fetch_add(&counter, 1));
}

bool disk_write(const char *dir, cache_key key, cache_kind kind, const void *data, size_t len, strbuf *err)
{
    unsigned char h[CACHE_HEADER_SIZE];
    strbuf tmp, dst;
    sb_init(&tmp);
    sb_init(&dst);
    make_header(h, key, kind, data, len);
    temp_path(&tmp, dir, key, kind);
    disk_entry_path(&dst, dir, key, kind);
    bool ok = false;
    int fd = tmp.failed ? -1 : open(sb_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && disk_make_dirs(dir, err))
        fd = open(sb_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        sb_printf(err, "cannot write cache entry in '%s': %s", dir, strerror(errno));
        goto done;
    }
    ok = write_all(fd, h, sizeof h) && write_all(fd, data, len) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    /* rename() is atomic: readers see the old entry, the new one, or none. */
    if (ok)
        ok = rename(sb_cstr(&tmp), sb_cstr(&dst)) == 0;
    if (!ok) {
        sb_printf(err, "cannot write cache entry '%s': %s", sb_cstr(&dst), strerror(errno));
        unlink(sb_cstr(&tmp));
    }
done:
    sb_free(&tmp);
    sb_free(&dst);
    return ok;
}

/* Reads a whole file into a malloc'ed buffer with one spare byte. */
static disk_result read_file(const char *path, unsigned char **out, size_t *n, strbuf *why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return DISK_MISSING;
        sb_printf(why, "cannot open cache entry '%s': %s", path, strerror(errno));
        return DISK_ERROR;
    }
    struct stat st;
    disk_result r = DISK_ERROR;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0 || st.st_size > (off_t)MAX_PAYLOAD + CACHE_HEADER_SIZE) {
        sb_printf(why, "cache entry '%s' cannot be read or is too large", path);
        goto done;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size + 1);
    if (!buf) {
        sb_puts(why, "out of memory reading a cache entry");
        goto done;
    }
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    *out = buf;
    *n = got; /* a short read shows up as a length mismatch below */
    buf = NULL;
    r = DISK_OK;
done:
    free(buf);
    close(fd);
    return r;
}

/* Checks a whole entry image (header, length, payload checksum) and fills info. */
static bool check_entry(const unsigned char *b, size_t n, cache_entry_info *info, strbuf *why)
{
    if (n == 0) {
        sb_puts(why, "empty file");
        return false;
    }
    if (n < CACHE_HEADER_SIZE) {
        sb_printf(why, "truncated: %zu bytes, the header alone is %d", n, CACHE_HEADER_SIZE);
        return false;
    }
    if (memcmp(b, magic, 8) != 0 || get_u64(b + 56) != XXH3_64bits(b, 56)) {
        sb_puts(why, "garbled header (bad magic or header checksum)");
        return false;
    }
    if (get_u32(b + 8) != CACHE_FORMAT_VERSION || get_u32(b + 12) > CACHE_CUBIN) {
        sb_printf(why, "unknown format version %u or kind %u", get_u32(b + 8), get_u32(b + 12));
        return false;
    }
    uint64_t plen = get_u64(b + 32);
    cache_key key = {get_u64(b + 16), get_u64(b + 24)};
    cache_key_hex(key, info->key_hex);
    info->kind = (cache_kind)get_u32(b + 12);
    info->payload_len = plen;
    info->file_len = n;
    if (plen != n - CACHE_HEADER_SIZE) {
        sb_printf(why, "%s: header says %llu payload bytes, the file holds %zu",
                  plen > n - CACHE_HEADER_SIZE ? "truncated" : "trailing bytes", (unsigned long long)plen,
                  n - CACHE_HEADER_SIZE);
        return false;
    }
    XXH128_hash_t sum = XXH3_128bits(b + CACHE_HEADER_SIZE, plen);
    if (sum.high64 != get_u64(b + 40) || sum.low64 != get_u64(b + 48)) {
        sb_puts(why, "payload checksum mismatch (bit flip or partial overwrite)");
        return false;
    }
    return true;
}

bool cache_verify_file(const char *path, cache_entry_info *info, strbuf *why)
{
    unsigned char *b = NULL;
    size_t n = 0;
    cache_entry_info tmp;
    memset(&tmp, 0, sizeof tmp);
    strbuf local; /* why may be NULL */
    sb_init(&local);
    if (!why)
        why = &local;
    disk_result r = read_file(path, &b, &n, why);
    if (r == DISK_MISSING)
        sb_printf(why, "'%s' does not exist", path);
    bool ok = r == DISK_OK && check_entry(b, n, &tmp, why);
    tmp.valid = ok;
    if (info)
        *info = tmp;
    free(b);
    sb_free(&local);
    return ok;
}

disk_result disk_read(const char *dir, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *why)
{
    strbuf path;
    sb_init(&path);
    disk_entry_path(&path, dir, key, kind);
    unsigned char *b = NULL;
    size_t n = 0;
    disk_result r = read_file(sb_cstr(&path), &b, &n, why);
    if (r == DISK_OK) {
        cache_entry_info info;
        char want[33];
        cache_key_hex(key, want);
        strbuf bad;
        sb_init(&bad);
        bool ok = check_entry(b, n, &info, &bad);
        if (ok && (strcmp(info.key_hex, want) != 0 || info.kind != kind)) {
            sb_puts(&bad, "the header names another key or kind");
            ok = false;
        }
        if (ok) {
            memmove(b, b + CACHE_HEADER_SIZE, n - CACHE_HEADER_SIZE);
            b[n - CACHE_HEADER_SIZE] = 0; /* PTX readers get a C string */
            *data = b;
            *len = n - CACHE_HEADER_SIZE;
            b = NULL;
        } else {
            sb_printf(why, "cache entry '%s' is corrupt (%s); it is not used and will be rebuilt", sb_cstr(&path),
                      sb_cstr(&bad));
            r = DISK_CORRUPT;
        }
        sb_free(&bad);
    }
    free(b);
    sb_free(&path);
    return r;
}

void disk_remove(const char *dir, cache_key key, cache_kind kind)
{
    strbuf path;
    sb_init(&path);
    disk_entry_path(&path, dir, key, kind);
    unlink(sb_cstr(&path));
    sb_free(&path);
}
