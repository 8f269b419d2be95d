/*
 * cache_disk.h — the on-disk entry format of the kernel cache (internal).
 *
 * An entry file is a 64-byte header then the payload. Header, little endian:
 *   0  magic "ATNCKRN\0"     8 bytes
 *   8  format version (1)    u32
 *  12  kind (cache_kind)     u32
 *  16  key hi, key lo        2 x u64
 *  32  payload length        u64
 *  40  XXH3-128 of payload   2 x u64
 *  56  XXH3-64 of bytes 0-55 u64
 * Files are written to a temp file in the same folder, fsync'ed and renamed.
 */
#ifndef ATTNC_RUNTIME_CACHE_DISK_H
#define ATTNC_RUNTIME_CACHE_DISK_H

#include "runtime/cache/cache.h"

enum { CACHE_HEADER_SIZE = 64, CACHE_FORMAT_VERSION = 1 };

typedef enum { DISK_OK, DISK_MISSING, DISK_CORRUPT, DISK_ERROR } disk_result;

/* DIR/KEYHEX.ptx or .cubin */
void disk_entry_path(strbuf *out, const char *dir, cache_key key, cache_kind kind);
/* mkdir -p, the last component with `mode`. */
bool disk_make_dirs(const char *path, strbuf *err);
bool disk_write(const char *dir, cache_key key, cache_kind kind, const void *data, size_t len, strbuf *err);
/* Reads and validates; on DISK_CORRUPT `why` says what failed (the file is
 * left alone: the caller confirms under the key's lock, then replaces or
 * removes it). */
disk_result disk_read(const char *dir, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *why);
void disk_remove(const char *dir, cache_key key, cache_kind kind);

/* Removes entry, temp and lock files of the handle's folder (cache_list.c). */
long cache_clear_disk(kcache *c, strbuf *err);

#endif
