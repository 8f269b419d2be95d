/* cache.c — the kernel cache handle: memory map + disk folder + lock files;
 * see cache.h for the contract. */
#include "runtime/cache/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "runtime/cache/cache_disk.h"
#include "runtime/cache/cache_mem.h"

struct kcache {
    pthread_mutex_t lock; /* guards mem and stats */
    mem_map mem;
    cache_stats stats;
    char *dir; /* versioned folder, "" when the disk is off */
};

kcache *cache_open(const cache_options *opts, strbuf *err)
{
    cache_options o = opts ? *opts : (cache_options){0};
    strbuf dir, scratch;
    sb_init(&scratch);
    if (!err)
        err = &scratch;
    sb_init(&dir);
    if (o.dir && !*o.dir)
        ; /* memory only */
    else if (o.dir)
        sb_printf(&dir, "%s/%s", o.dir, cache_version_dir());
    else if (!cache_default_dir(&dir, true, err)) {
        sb_free(&dir);
        sb_free(&scratch);
        return NULL;
    }
    kcache *c = calloc(1, sizeof *c);
    char *d = dir.failed ? NULL : strdup(sb_cstr(&dir));
    sb_free(&dir);
    if (!c || !d) {
        free(c);
        free(d);
        sb_puts(err, "out of memory opening the kernel cache");
        sb_free(&scratch);
        return NULL;
    }
    sb_free(&scratch);
    c->dir = d;
    pthread_mutex_init(&c->lock, NULL);
    mem_init(&c->mem, o.mem_bytes ? o.mem_bytes : (size_t)64 << 20, o.mem_entries ? o.mem_entries : 1024);
    return c;
}

void cache_close(kcache *c)
{
    if (!c)
        return;
    mem_free_all(&c->mem);
    pthread_mutex_destroy(&c->lock);
    free(c->dir);
    free(c);
}

const char *cache_dir(const kcache *c)
{
    return c->dir;
}

cache_stats cache_get_stats(kcache *c)
{
    pthread_mutex_lock(&c->lock);
    cache_stats s = c->stats;
    s.mem_bytes = c->mem.bytes;
    s.mem_entries = c->mem.entries;
    s.evictions = c->mem.evictions;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void count(kcache *c, uint64_t *field)
{
    pthread_mutex_lock(&c->lock);
    (*field)++;
    pthread_mutex_unlock(&c->lock);
}

static bool mem_lookup(kcache *c, cache_key key, cache_kind kind, void **data, size_t *len)
{
    pthread_mutex_lock(&c->lock);
    bool hit = mem_get(&c->mem, key, kind, data, len);
    if (hit)
        c->stats.mem_hits++;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void mem_insert(kcache *c, cache_key key, cache_kind kind, const void *data, size_t len)
{
    pthread_mutex_lock(&c->lock);
    mem_put(&c->mem, key, kind, data, len); /* best effort: the disk has it */
    pthread_mutex_unlock(&c->lock);
}

/* Opens and flocks DIR/KEYHEX.lock; -1 when locking is impossible (the
 * caller then goes on without it: duplicate work, never wrong results).
 * Every open makes its own open file description, so the lock also
 * excludes other threads of this process. */
static int lock_key(kcache *c, cache_key key)
{
    strbuf p;
    sb_init(&p);
    char hex[33];
    cache_key_hex(key, hex);
    sb_printf(&p, "%s/%s.lock", c->dir, hex);
    int fd = open(sb_cstr(&p), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && disk_make_dirs(c->dir, NULL))
        fd = open(sb_cstr(&p), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    sb_free(&p);
    while (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            fd = -1;
        }
    }
    return fd;
}

static void unlock_key(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd); /* the lock file stays: removing it would race other lockers */
    }
}

/* Reads a disk entry without the lock: a damaged-looking entry may be one
 * being replaced right now, so it is only reported once confirmed under the
 * lock (confirm_locked). */
static disk_result peek_disk(kcache *c, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *msg)
{
    strbuf scratch;
    sb_init(&scratch);
    disk_result d = disk_read(c->dir, key, kind, data, len, &scratch);
    if (d == DISK_ERROR)
        sb_puts(msg, sb_cstr(&scratch));
    sb_free(&scratch);
    if (d == DISK_OK) {
        count(c, &c->stats.disk_hits);
        mem_insert(c, key, kind, *data, *len);
    }
    return d;
}

/* The second read, holding the key's lock: the verdict that counts. */
static disk_result confirm_locked(kcache *c, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *msg)
{
    disk_result d = disk_read(c->dir, key, kind, data, len, msg);
    if (d == DISK_OK) {
        count(c, &c->stats.disk_hits);
        mem_insert(c, key, kind, *data, *len);
    } else if (d == DISK_CORRUPT) {
        count(c, &c->stats.corrupt);
    }
    return d;
}

static cache_result lookup(kcache *c, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *msg)
{
    *data = NULL;
    *len = 0;
    if (mem_lookup(c, key, kind, data, len))
        return CACHE_HIT_MEMORY;
    disk_result d = *c->dir ? peek_disk(c, key, kind, data, len, msg) : DISK_MISSING;
    if (d == DISK_CORRUPT) {
        int fd = lock_key(c, key);
        d = confirm_locked(c, key, kind, data, len, msg);
        if (d == DISK_CORRUPT) /* never served again; a store replaces it */
            disk_remove(c->dir, key, kind);
        unlock_key(fd);
    }
    if (d == DISK_OK)
        return CACHE_HIT_DISK;
    if (d != DISK_CORRUPT)
        count(c, &c->stats.misses);
    return d == DISK_MISSING ? CACHE_MISS : d == DISK_CORRUPT ? CACHE_CORRUPT : CACHE_ERROR;
}

static bool store(kcache *c, cache_key key, cache_kind kind, const void *data, size_t len, strbuf *msg, bool locked)
{
    mem_insert(c, key, kind, data, len);
    count(c, &c->stats.stores);
    if (!*c->dir)
        return true;
    int fd = locked ? -1 : lock_key(c, key);
    bool ok = disk_write(c->dir, key, kind, data, len, msg);
    unlock_key(fd);
    return ok;
}

static cache_result build_and_store(kcache *c, cache_key key, cache_kind kind, cache_build_fn build, void *user,
                                    void **data, size_t *len, strbuf *note)
{
    if (!build(user, data, len, note)) {
        *data = NULL;
        *len = 0;
        return CACHE_ERROR;
    }
    count(c, &c->stats.builds);
    store(c, key, kind, *data, *len, note, true); /* a failed disk write still returns the image */
    return CACHE_MISS;
}

/* Memory, then an unlocked disk read; on anything but a hit, the key's lock,
 * a confirming read, and only then a build. Callers that wanted the same
 * key meanwhile wait on the lock and then load what was built. */
static cache_result get_or_build(kcache *c, cache_key key, cache_kind kind, cache_build_fn build, void *user,
                                  void **data, size_t *len, strbuf *note)
{
    *data = NULL;
    *len = 0;
    if (mem_lookup(c, key, kind, data, len))
        return CACHE_HIT_MEMORY;
    if (!*c->dir) {
        count(c, &c->stats.misses);
        return build_and_store(c, key, kind, build, user, data, len, note);
    }
    if (peek_disk(c, key, kind, data, len, note) == DISK_OK)
        return CACHE_HIT_DISK;
    int fd = lock_key(c, key);
    disk_result d = confirm_locked(c, key, kind, data, len, note);
    cache_result r = CACHE_HIT_DISK;
    if (d != DISK_OK) {
        if (d != DISK_CORRUPT)
            count(c, &c->stats.misses);
        r = build_and_store(c, key, kind, build, user, data, len, note);
        if (r != CACHE_ERROR && d == DISK_CORRUPT)
            r = CACHE_CORRUPT;
    }
    unlock_key(fd);
    return r;
}

long cache_clear(kcache *c, strbuf *err)
{
    pthread_mutex_lock(&c->lock);
    mem_free_all(&c->mem);
    pthread_mutex_unlock(&c->lock);
    strbuf scratch;
    sb_init(&scratch);
    long n = cache_clear_disk(c, err ? err : &scratch);
    sb_free(&scratch);
    return n;
}

/* The public entry points accept a NULL message buffer: messages then go to
 * a scratch buffer that is dropped. */
cache_result cache_lookup(kcache *c, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *msg)
{
    strbuf scratch;
    sb_init(&scratch);
    cache_result r = lookup(c, key, kind, data, len, msg ? msg : &scratch);
    sb_free(&scratch);
    return r;
}

bool cache_store(kcache *c, cache_key key, cache_kind kind, const void *data, size_t len, strbuf *msg)
{
    strbuf scratch;
    sb_init(&scratch);
    bool ok = store(c, key, kind, data, len, msg ? msg : &scratch, false);
    sb_free(&scratch);
    return ok;
}

cache_result cache_get_or_build(kcache *c, cache_key key, cache_kind kind, cache_build_fn build, void *user,
                                void **data, size_t *len, strbuf *note)
{
    strbuf scratch;
    sb_init(&scratch);
    cache_result r = get_or_build(c, key, kind, build, user, data, len, note ? note : &scratch);
    sb_free(&scratch);
    return r;
}
