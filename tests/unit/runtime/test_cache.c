/* test_cache.c — kernel cache: keys, memory map, disk entries, fault
 * injection (truncated, empty, bit-flipped, renamed files), build-once. */
#include "tmpdir.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "runtime/cache/cache.h"

static cache_key key_of(const char *ir)
{
    cache_key_parts p = {ir, "q=64 kv=64 stages=2 warps=4", "sm_80", NULL};
    return cache_key_make(&p);
}

static kcache *open_in(const char *dir)
{
    cache_options o = {.dir = dir};
    strbuf err;
    sb_init(&err);
    kcache *c = cache_open(&o, &err);
    assert_non_null(c);
    sb_free(&err);
    return c;
}

static void test_keys(void **state)
{
    (void)state;
    cache_key a = key_of("ir A"), a2 = key_of("ir A"), b = key_of("ir B");
    assert_true(a.hi == a2.hi && a.lo == a2.lo);
    assert_false(a.hi == b.hi && a.lo == b.lo);
    /* Field boundaries matter: ("ab","c") differs from ("a","bc"). */
    cache_key_parts p1 = {"ab", "c", "sm_80", NULL}, p2 = {"a", "bc", "sm_80", NULL};
    cache_key k1 = cache_key_make(&p1), k2 = cache_key_make(&p2);
    assert_false(k1.hi == k2.hi && k1.lo == k2.lo);
    char hex[33];
    cache_key_hex(a, hex);
    assert_int_equal(strlen(hex), 32);
    cache_key back;
    assert_true(cache_key_parse(hex, &back));
    assert_true(back.hi == a.hi && back.lo == a.lo);
    assert_false(cache_key_parse("zz", &back));
    assert_non_null(strstr(cache_stamp(), "codegen "));
}

static void test_default_dir(void **state)
{
    (void)state;
    strbuf s, err;
    sb_init(&s);
    sb_init(&err);
    setenv("ATTNC_CACHE_DIR", "/x/y", 1);
    assert_true(cache_default_dir(&s, false, &err));
    assert_string_equal(sb_cstr(&s), "/x/y");
    unsetenv("ATTNC_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    sb_clear(&s);
    assert_true(cache_default_dir(&s, true, &err));
    assert_true(!strncmp(sb_cstr(&s), "/xdg/attnc/kernels-f1-attnc", 27));
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    sb_clear(&s);
    assert_true(cache_default_dir(&s, false, &err));
    assert_string_equal(sb_cstr(&s), "/home/u/.cache/attnc");
    sb_free(&s);
    sb_free(&err);
}

static void expect_payload(kcache *c, cache_key k, cache_kind kind, const char *want, cache_result how)
{
    void *d;
    size_t n;
    strbuf msg;
    sb_init(&msg);
    assert_int_equal(cache_lookup(c, k, kind, &d, &n, &msg), how);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(d, want, n);
    assert_int_equal(((char *)d)[n], 0);
    free(d);
    sb_free(&msg);
}

static void test_store_and_reload(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    kcache *c = open_in(dir);
    cache_key k = key_of("kernel 1");
    void *d;
    size_t n;
    assert_int_equal(cache_lookup(c, k, CACHE_PTX, &d, &n, NULL), CACHE_MISS);
    assert_null(d);
    assert_true(cache_store(c, k, CACHE_PTX, ".entry k1 {}", 12, NULL));
    assert_true(cache_store(c, k, CACHE_CUBIN, "\x7f" "ELF\0\1", 6, NULL));
    expect_payload(c, k, CACHE_PTX, ".entry k1 {}", CACHE_HIT_MEMORY);
    cache_close(c);
    c = open_in(dir); /* a new process sees the disk entry */
    expect_payload(c, k, CACHE_PTX, ".entry k1 {}", CACHE_HIT_DISK);
    expect_payload(c, k, CACHE_PTX, ".entry k1 {}", CACHE_HIT_MEMORY);
    assert_int_equal(cache_lookup(c, k, CACHE_CUBIN, &d, &n, NULL), CACHE_HIT_DISK);
    assert_int_equal(n, 6);
    assert_memory_equal(d, "\x7f" "ELF\0\1", 6);
    free(d);
    cache_stats s = cache_get_stats(c);
    assert_int_equal(s.disk_hits, 2);
    assert_int_equal(s.mem_hits, 1);
    cache_close(c);
    tmpdir_remove(dir);
}

static void test_memory_only_and_eviction(void **state)
{
    (void)state;
    cache_options o = {.dir = "", .mem_bytes = 100, .mem_entries = 3};
    kcache *c = cache_open(&o, NULL);
    assert_string_equal(cache_dir(c), "");
    char ir[16];
    for (int i = 0; i < 5; i++) {
        snprintf(ir, sizeof ir, "k%d", i);
        assert_true(cache_store(c, key_of(ir), CACHE_PTX, "0123456789", 10, NULL));
    }
    cache_stats s = cache_get_stats(c);
    assert_int_equal(s.mem_entries, 3);
    assert_int_equal(s.evictions, 2);
    void *d;
    size_t n;
    assert_int_equal(cache_lookup(c, key_of("k0"), CACHE_PTX, &d, &n, NULL), CACHE_MISS);
    assert_int_equal(cache_lookup(c, key_of("k4"), CACHE_PTX, &d, &n, NULL), CACHE_HIT_MEMORY);
    free(d);
    /* A payload over the byte budget is not kept in memory. */
    char big[200];
    memset(big, 'x', sizeof big);
    cache_store(c, key_of("big"), CACHE_PTX, big, sizeof big, NULL);
    assert_true(cache_get_stats(c).mem_bytes <= 100);
    cache_close(c);
    cache_close(NULL);
}

/* Writes one entry with a fresh handle, then damages the file with `damage`
 * and checks a fresh handle reports it corrupt, removes it and rebuilds. */
typedef void (*damage_fn)(const char *path);

static void truncate_half(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
}

static void truncate_short_payload(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size - 1), 0);
}

static void zero_length(const char *p)
{
    assert_int_equal(truncate(p, 0), 0);
}

static void flip_at(const char *p, long off)
{
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void flip_payload(const char *p)
{
    flip_at(p, 64 + 7);
}

static void flip_header(const char *p)
{
    flip_at(p, 33); /* inside the payload length */
}

static void append_byte(const char *p)
{
    FILE *f = fopen(p, "ab");
    fputc('x', f);
    fclose(f);
}

static int builds;
static bool build_ptx(void *user, void **data, size_t *len, strbuf *err)
{
    (void)err;
    builds++;
    *data = strdup((const char *)user);
    *len = strlen(*data);
    return true;
}

static void check_damage(damage_fn damage)
{
    char *dir = tmpdir_make();
    kcache *c = open_in(dir);
    cache_key k = key_of("damaged kernel");
    const char *ptx = "//\n.version 8.0\n.entry damaged() { ret; }\n";
    assert_true(cache_store(c, k, CACHE_PTX, ptx, strlen(ptx), NULL));
    strbuf path, msg;
    sb_init(&path);
    sb_init(&msg);
    char hex[33];
    cache_key_hex(k, hex);
    sb_printf(&path, "%s/%s.ptx", cache_dir(c), hex);
    cache_close(c);
    damage(sb_cstr(&path));
    assert_false(cache_verify_file(sb_cstr(&path), NULL, &msg));
    c = open_in(dir);
    builds = 0;
    void *d;
    size_t n;
    sb_clear(&msg);
    assert_int_equal(cache_get_or_build(c, k, CACHE_PTX, build_ptx, (void *)ptx, &d, &n, &msg), CACHE_CORRUPT);
    assert_non_null(strstr(sb_cstr(&msg), "corrupt"));
    assert_int_equal(builds, 1);
    assert_int_equal(n, strlen(ptx));
    assert_memory_equal(d, ptx, n);
    free(d);
    assert_int_equal(cache_get_stats(c).corrupt, 1);
    cache_close(c);
    /* The rebuilt entry is whole again. */
    assert_true(cache_verify_file(sb_cstr(&path), NULL, &msg));
    sb_free(&path);
    sb_free(&msg);
    tmpdir_remove(dir);
}

static void test_truncated(void **state)
{
    (void)state;
    check_damage(truncate_half);
    check_damage(truncate_short_payload);
}

static void test_zero_length(void **state)
{
    (void)state;
    check_damage(zero_length);
}

static void test_bit_flips(void **state)
{
    (void)state;
    check_damage(flip_payload);
    check_damage(flip_header);
    check_damage(append_byte);
}

/* An intact entry copied under another key's name is refused too. */
static void test_wrong_key(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    kcache *c = open_in(dir);
    cache_key a = key_of("A"), b = key_of("B");
    assert_true(cache_store(c, a, CACHE_PTX, "AAAA", 4, NULL));
    char ha[33], hb[33];
    cache_key_hex(a, ha);
    cache_key_hex(b, hb);
    strbuf pa, pb;
    sb_init(&pa);
    sb_init(&pb);
    sb_printf(&pa, "%s/%s.ptx", cache_dir(c), ha);
    sb_printf(&pb, "%s/%s.ptx", cache_dir(c), hb);
    assert_int_equal(link(sb_cstr(&pa), sb_cstr(&pb)), 0);
    cache_close(c);
    c = open_in(dir);
    void *d;
    size_t n;
    assert_int_equal(cache_lookup(c, b, CACHE_PTX, &d, &n, NULL), CACHE_CORRUPT);
    assert_null(d);
    expect_payload(c, a, CACHE_PTX, "AAAA", CACHE_HIT_DISK);
    cache_close(c);
    sb_free(&pa);
    sb_free(&pb);
    tmpdir_remove(dir);
}

static void count_entry(void *user, const cache_entry_info *e)
{
    int *n = user;
    n[0]++;
    n[1] += e->valid;
}

static void test_list_and_clear(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    kcache *c = open_in(dir);
    int n[2] = {0, 0};
    assert_int_equal(cache_list(c, count_entry, n, NULL), 0); /* folder not made yet */
    builds = 0;
    void *d;
    size_t len;
    for (int i = 0; i < 3; i++) {
        char ir[8];
        snprintf(ir, sizeof ir, "L%d", i);
        cache_get_or_build(c, key_of(ir), CACHE_PTX, build_ptx, "ptx", &d, &len, NULL);
        free(d);
    }
    assert_int_equal(builds, 3);
    assert_int_equal(cache_list(c, count_entry, n, NULL), 3);
    assert_int_equal(n[0], 3);
    assert_int_equal(n[1], 3);
    assert_true(cache_clear(c, NULL) >= 3); /* entries + lock files */
    n[0] = n[1] = 0;
    assert_int_equal(cache_list(c, count_entry, n, NULL), 0);
    assert_int_equal(cache_lookup(c, key_of("L0"), CACHE_PTX, &d, &len, NULL), CACHE_MISS);
    cache_close(c);
    tmpdir_remove(dir);
}

static void test_build_once(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    kcache *c = open_in(dir);
    builds = 0;
    void *d;
    size_t n;
    for (int i = 0; i < 4; i++) {
        cache_result r = cache_get_or_build(c, key_of("once"), CACHE_PTX, build_ptx, "P", &d, &n, NULL);
        assert_int_equal(r, i == 0 ? CACHE_MISS : CACHE_HIT_MEMORY);
        assert_int_equal(n, 1);
        free(d);
    }
    assert_int_equal(builds, 1);
    cache_close(c);
    tmpdir_remove(dir);
}

static bool build_fails(void *user, void **data, size_t *len, strbuf *err)
{
    (void)user;
    (void)data;
    (void)len;
    sb_puts(err, "ptxas said no");
    return false;
}

static void test_build_failure(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    kcache *c = open_in(dir);
    void *d = (void *)1;
    size_t n = 1;
    strbuf msg;
    sb_init(&msg);
    assert_int_equal(cache_get_or_build(c, key_of("bad"), CACHE_PTX, build_fails, NULL, &d, &n, &msg), CACHE_ERROR);
    assert_null(d);
    assert_int_equal(n, 0);
    assert_string_equal(sb_cstr(&msg), "ptxas said no");
    sb_free(&msg);
    cache_close(c);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),           cmocka_unit_test(test_default_dir),
        cmocka_unit_test(test_store_and_reload), cmocka_unit_test(test_memory_only_and_eviction),
        cmocka_unit_test(test_truncated),      cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_bit_flips),      cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_list_and_clear), cmocka_unit_test(test_build_once),
        cmocka_unit_test(test_build_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
