/* cache_list.c — listing and clearing the kernel cache folder; see cache.h. */
#include "runtime/cache/cache.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cache/cache_disk.h"

/* KEYHEX.ptx / KEYHEX.cubin (32 hex digits). */
static bool is_entry_name(const char *name)
{
    cache_key k;
    if (strlen(name) < 33 || !cache_key_parse(name, &k) || name[32] != '.')
        return false;
    return !strcmp(name + 33, "ptx") || !strcmp(name + 33, "cubin");
}

/* Files the cache owns: entries, temp files of interrupted writes, locks. */
static bool is_cache_file(const char *name)
{
    size_t n = strlen(name);
    return is_entry_name(name) || !strncmp(name, ".tmp-", 5) || (n == 37 && !strcmp(name + 32, ".lock"));
}

static DIR *open_dir(kcache *c, strbuf *err, bool *missing)
{
    *missing = false;
    if (!*cache_dir(c)) {
        *missing = true;
        return NULL;
    }
    DIR *d = opendir(cache_dir(c));
    if (!d && errno == ENOENT)
        *missing = true;
    else if (!d)
        sb_printf(err, "cannot read cache folder '%s': %s", cache_dir(c), strerror(errno));
    return d;
}

long cache_list(kcache *c, cache_list_fn fn, void *user, strbuf *err)
{
    bool missing;
    strbuf scratch;
    sb_init(&scratch);
    DIR *d = open_dir(c, err ? err : &scratch, &missing);
    sb_free(&scratch);
    if (!d)
        return missing ? 0 : -1;
    long n = 0;
    strbuf path, why;
    sb_init(&path);
    sb_init(&why);
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_entry_name(e->d_name))
            continue;
        sb_clear(&path);
        sb_printf(&path, "%s/%s", cache_dir(c), e->d_name);
        cache_entry_info info;
        sb_clear(&why);
        cache_verify_file(sb_cstr(&path), &info, &why);
        memcpy(info.key_hex, e->d_name, 32); /* the name, even when the header is garbled */
        info.key_hex[32] = 0;
        info.kind = strcmp(e->d_name + 33, "cubin") ? CACHE_PTX : CACHE_CUBIN;
        struct stat st;
        if (stat(sb_cstr(&path), &st) == 0) {
            info.mtime = (int64_t)st.st_mtime;
            info.file_len = (uint64_t)st.st_size;
        }
        fn(user, &info);
        n++;
    }
    closedir(d);
    sb_free(&path);
    sb_free(&why);
    return n;
}

long cache_clear_disk(kcache *c, strbuf *err)
{
    bool missing;
    DIR *d = open_dir(c, err, &missing);
    if (!d)
        return missing ? 0 : -1;
    long n = 0, failed = 0;
    int first_errno = 0;
    strbuf path;
    sb_init(&path);
    for (struct dirent *e; (errno = 0, e = readdir(d));) {
        if (!is_cache_file(e->d_name))
            continue;
        sb_clear(&path);
        sb_printf(&path, "%s/%s", cache_dir(c), e->d_name);
        if (unlink(sb_cstr(&path)) == 0) {
            n++;
        } else if (errno != ENOENT) { /* ENOENT: another process removed it first */
            first_errno = first_errno ? first_errno : errno;
            failed++;
        }
    }
    int read_errno = errno;
    closedir(d);
    sb_free(&path);
    if (failed)
        sb_printf(err, "cannot remove %ld file%s from cache folder '%s' (%ld removed): %s", failed,
                  failed == 1 ? "" : "s", cache_dir(c), n, strerror(first_errno));
    else if (read_errno)
        sb_printf(err, "cannot read cache folder '%s' (%ld files removed): %s", cache_dir(c), n, strerror(read_errno));
    return failed || read_errno ? -1 : n;
}
