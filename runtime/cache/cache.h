/*
 * cache.h — the kernel cache: compiled images (PTX text, cubin bytes) by key,
 * in memory and on disk.
 *
 * Key: XXH3-128 over the canonical IR text, the schedule text, the arch, the
 * attnc version, the LLVM version and a content hash of the code generator
 * (computed by CMake from ir/, passes/ and codegen/), each field length-
 * prefixed so no two field lists hash the same bytes.
 *
 * Memory: a bounded hash map per cache handle (least recently used entries
 * go first once the byte or entry budget is exceeded).
 *
 * Disk: $ATTNC_CACHE_DIR (else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc),
 * in a sub-directory named after the entry format, attnc and LLVM versions,
 * so an upgrade never reads an older layout. One file per entry,
 * KEYHEX.ptx or KEYHEX.cubin, written to a temp file in the same directory,
 * fsync'ed and renamed into place: readers see a whole entry or none. Each
 * file starts with a 64-byte header (magic, format version, kind, key,
 * payload length, XXH3-128 of the payload, XXH3-64 of the header) that is
 * checked on every read; an entry that fails (truncated, empty, garbled) is
 * never returned: once confirmed under the key's lock it is reported as
 * CACHE_CORRUPT (once, by the caller that confirmed it) and removed or
 * rebuilt.
 *
 * Threads: every call may be made from any thread (one mutex per handle
 * guards the memory map and statistics; disk I/O runs outside it).
 * Processes: any number may share one folder. Every change to an entry
 * file (write, removal) happens under an advisory lock (flock) on
 * KEYHEX.lock; cache_get_or_build() holds it while it builds, so concurrent
 * callers wanting the same entry wait for the first build instead of
 * repeating it (each entry is built once unless it is damaged later). The
 * build callback must not call the cache for the same key (it would wait on
 * its own lock).
 *
 * Libraries never print: every call that can fail takes a strbuf for the
 * message (may be NULL).
 */
#ifndef ATTNC_RUNTIME_CACHE_H
#define ATTNC_RUNTIME_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/strbuf.h"

typedef struct kcache kcache;

typedef struct cache_key {
    uint64_t hi, lo;
} cache_key;

typedef enum { CACHE_PTX = 0, CACHE_CUBIN = 1 } cache_kind;

/* What a key is made of. Version fields are added by cache_key_make. */
typedef struct cache_key_parts {
    const char *ir_text;       /* canonical IR (tile IR text after lowering) */
    const char *schedule_text; /* schedule_print() output */
    const char *arch;          /* "sm_80", "sm_90a", "host" */
    const char *extra;         /* anything else that changes the image (may be NULL) */
} cache_key_parts;

cache_key cache_key_make(const cache_key_parts *parts);

/* The key of a lowered kernel: tir_print text (canonical numbering; it
 * holds everything the code generators read: ops, params and their shapes,
 * sizes, linear attributes), the printed schedule and arch, with the
 * version stamp cache_key_make adds (the code generator's source hash).
 * False only when printing ran out of memory (then compile without the
 * cache). */
struct tir_kernel;
struct schedule;
bool cache_key_for_kernel(struct tir_kernel *k, const struct schedule *s, const char *arch, cache_key *out);
/* 32 lowercase hex digits + NUL. */
void cache_key_hex(cache_key key, char out[33]);
bool cache_key_parse(const char *hex, cache_key *out);
/* The stamp mixed into every key: "attnc X llvm Y codegen Z". */
const char *cache_stamp(void);

typedef struct cache_options {
    const char *dir;    /* the cache folder (entries go in its cache_version_dir());
                           NULL: the default folder (see top of file); "": no disk */
    size_t mem_bytes;   /* memory budget; 0: 64 MiB */
    size_t mem_entries; /* entry budget; 0: 1024 */
} cache_options;

typedef struct cache_stats {
    uint64_t mem_hits, disk_hits, misses, corrupt, stores, builds, evictions;
    uint64_t mem_bytes, mem_entries; /* current memory use */
} cache_stats;

typedef enum {
    CACHE_HIT_MEMORY, /* found in memory */
    CACHE_HIT_DISK,   /* loaded from disk (now also in memory) */
    CACHE_MISS,       /* not present */
    CACHE_CORRUPT,    /* a disk entry failed validation: removed, the message says why */
    CACHE_ERROR,      /* I/O or allocation failure; the message says why */
} cache_result;

const char *cache_result_name(cache_result r);

/* Resolves the default folder into out (with the version sub-directory when
 * versioned is true). Returns false with a message when no home is known. */
bool cache_default_dir(strbuf *out, bool versioned, strbuf *err);

/* "kernels-f1-attncX-llvmY": the versioned sub-folder of a cache folder. */
const char *cache_version_dir(void);

/* Opens a cache; the versioned disk folder is created on demand (mode 0700
 * for the top folder). opts may be NULL. Returns NULL with a message. */
kcache *cache_open(const cache_options *opts, strbuf *err);
void cache_close(kcache *c);
/* The versioned folder entries live in ("" when the disk is off). */
const char *cache_dir(const kcache *c);

/* Looks a key up: memory first, then disk. On a hit *data is a malloc'ed
 * copy of the payload (free() it) and *len its length; PTX payloads are also
 * NUL-terminated one past len. */
cache_result cache_lookup(kcache *c, cache_key key, cache_kind kind, void **data, size_t *len, strbuf *msg);

/* Stores a payload in memory and on disk (atomically). Returns false with a
 * message on an I/O failure; the memory copy is kept either way. */
bool cache_store(kcache *c, cache_key key, cache_kind kind, const void *data, size_t len, strbuf *msg);

/* A build callback: produce the payload (malloc'ed) for a key that missed. */
typedef bool (*cache_build_fn)(void *user, void **data, size_t *len, strbuf *err);

/* Lookup; on a miss takes the key's lock, looks again, and only then builds
 * and stores. Returns CACHE_HIT_MEMORY/CACHE_HIT_DISK (also when another
 * caller built it while this one waited), CACHE_MISS (built here),
 * CACHE_CORRUPT (a damaged entry was found, reported through `note`, and
 * rebuilt here), or CACHE_ERROR when building failed (its message in note). */
cache_result cache_get_or_build(kcache *c, cache_key key, cache_kind kind, cache_build_fn build, void *user,
                                void **data, size_t *len, strbuf *note);

cache_stats cache_get_stats(kcache *c);

/* One disk entry, as listed. */
typedef struct cache_entry_info {
    char key_hex[33];
    cache_kind kind;
    uint64_t payload_len, file_len;
    int64_t mtime;
    bool valid; /* header and checksum verified */
} cache_entry_info;

typedef void (*cache_list_fn)(void *user, const cache_entry_info *e);
/* Calls fn for every entry file on disk (verifying each). Returns the count,
 * or -1 with a message when the folder cannot be read (a missing folder is 0). */
long cache_list(kcache *c, cache_list_fn fn, void *user, strbuf *err);

/* Drops every memory entry and removes every entry, temp and lock file of
 * this version's folder. Returns the number of files removed, or -1 with a
 * message (how many could not be removed, and why) when the folder cannot be
 * read or a file cannot be removed (a read-only folder). */
long cache_clear(kcache *c, strbuf *err);

/* Verifies one entry file on its own (for tools and tests). */
bool cache_verify_file(const char *path, cache_entry_info *info, strbuf *why);

#endif
