/* aot_files.c — writes a complete AOT folder: NAME.ptx, NAME.cubin (when
 * ptxas is installed; then embedded too), NAME.h and NAME.c, and with the
 * backward program NAME.bwd.ptx (and NAME.bwd.cubin).
 *
 * Every file is first written in full under a temporary name in DIR
 * (".NAME.EXT.tmp-PID-N", fsync'ed); only when all of them are complete are
 * they renamed into place. A failure (a full disk, a read-only folder)
 * thus leaves no truncated file and no mix of old and new files, only the
 * files of the previous run if there was one; when ptxas rejects the PTX,
 * NAME.ptx alone is put in place, for the repro the message gives. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/aot/aot_gen_impl.h"
#include "runtime/aot/aot_recipe.h"
#include "runtime/compile/ptxas.h"

enum { F_PTX, F_CUBIN, F_H, F_C, F_BPTX, F_BCUBIN, F_N }; /* F_B*: the backward program's (--backward) */
static const char *const exts[F_N] = {"ptx", "cubin", "h", "c", "bwd.ptx", "bwd.cubin"};

typedef struct out_file {
    strbuf tmp, dst;
    bool live; /* the temp file may exist */
} out_file;

typedef struct outset {
    out_file f[F_N];
} outset;

/* A path the user named badly (user error) rather than a failing disk or
 * missing permission (I/O error). */
static aot_result classify(int e)
{
    return e == ENOTDIR || e == EEXIST || e == EISDIR || e == ENAMETOOLONG || e == ELOOP ? AOT_USER : AOT_IO;
}

static aot_result fail_errno(strbuf *err, int e, const char *what, const char *path)
{
    sb_printf(err, "cannot %s '%s': %s", what, path, strerror(e));
    return classify(e);
}

/* mkdir -p DIR; DIR (or a folder on the way) being a file is a user error. */
static aot_result make_dir(const char *dir, strbuf *err)
{
    strbuf b;
    sb_init(&b);
    sb_puts(&b, dir);
    if (b.failed || !*dir) {
        sb_free(&b);
        sb_puts(err, *dir ? "out of memory" : "the output folder (-o) is empty");
        return *dir ? AOT_INTERNAL : AOT_USER;
    }
    aot_result r = AOT_OK;
    for (size_t i = 1; i <= b.len && r == AOT_OK; i++) {
        if (b.data[i] != '/' && b.data[i] != 0)
            continue;
        char c = b.data[i];
        b.data[i] = 0;
        if (mkdir(b.data, 0777) != 0 && errno != EEXIST)
            r = fail_errno(err, errno, "create the folder", b.data);
        b.data[i] = c;
    }
    struct stat st;
    if (r == AOT_OK && stat(dir, &st) != 0)
        r = fail_errno(err, errno, "use the output folder", dir);
    else if (r == AOT_OK && !S_ISDIR(st.st_mode)) {
        sb_printf(err, "the output folder '%s' exists and is not a folder (-o names a folder)", dir);
        r = AOT_USER;
    }
    sb_free(&b);
    return r;
}

static void out_init(outset *o, const char *dir, const char *name)
{
    static atomic_ulong counter;
    for (int i = 0; i < F_N; i++) {
        out_file *f = &o->f[i];
        sb_init(&f->tmp);
        sb_init(&f->dst);
        f->live = false;
        sb_printf(&f->dst, "%s/%s.%s", dir, name, exts[i]);
        sb_printf(&f->tmp, "%s/.%s.%s.tmp-%ld-%lu", dir, name, exts[i], (long)getpid(),
                  (unsigned long)atomic_fetch_add(&counter, 1));
    }
}

/* Removes temp files left by a failure; frees the paths. */
static void out_done(outset *o)
{
    for (int i = 0; i < F_N; i++) {
        if (o->f[i].live)
            unlink(sb_cstr(&o->f[i].tmp));
        sb_free(&o->f[i].tmp);
        sb_free(&o->f[i].dst);
    }
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* The whole of file `which` under its temp name, synced to disk. */
static aot_result put_file(outset *o, int which, const void *p, size_t n, strbuf *err)
{
    out_file *f = &o->f[which];
    if (f->tmp.failed || f->dst.failed) {
        sb_puts(err, "out of memory");
        return AOT_INTERNAL;
    }
    int fd = open(sb_cstr(&f->tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return fail_errno(err, errno, "write", sb_cstr(&f->dst));
    f->live = true;
    bool ok = write_all(fd, p, n) && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    return ok ? AOT_OK : fail_errno(err, e, "write", sb_cstr(&f->dst));
}

/* Renames every written temp file into place. */
static aot_result commit(outset *o, strbuf *err)
{
    for (int i = 0; i < F_N; i++) {
        out_file *f = &o->f[i];
        if (!f->live)
            continue;
        if (rename(sb_cstr(&f->tmp), sb_cstr(&f->dst)) != 0)
            return fail_errno(err, errno, "write", sb_cstr(&f->dst));
        f->live = false;
    }
    return AOT_OK;
}

static aot_result put_sources(outset *o, const aot_spec *s, strbuf *err)
{
    strbuf h, c;
    sb_init(&h);
    sb_init(&c);
    aot_result r = aot_render(s, &h, &c, err) ? AOT_OK : h.failed || c.failed ? AOT_INTERNAL : AOT_USER;
    if (r == AOT_OK)
        r = put_file(o, F_H, h.data, h.len, err);
    if (r == AOT_OK)
        r = put_file(o, F_C, c.data, c.len, err);
    sb_free(&h);
    sb_free(&c);
    return r;
}

aot_result aot_generate(const aot_spec *s, const char *dir, strbuf *err)
{
    if (!aot_check_spec(s, err))
        return AOT_USER;
    outset o;
    out_init(&o, dir, s->name);
    aot_result r = make_dir(dir, err);
    if (r == AOT_OK)
        r = put_sources(&o, s, err);
    if (r == AOT_OK)
        r = commit(&o, err);
    out_done(&o);
    return r;
}

static aot_result read_bytes(const char *path, unsigned char **out, size_t *len, strbuf *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail_errno(err, errno, "read the cubin", path);
    strbuf b;
    sb_init(&b);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&b, buf, k);
    int e = ferror(f) ? EIO : 0;
    fclose(f);
    if (e || b.failed || b.len == 0) {
        sb_free(&b);
        sb_printf(err, "cannot read the cubin ptxas wrote ('%s'): %s", path, e ? strerror(e) : "empty or no memory");
        return AOT_IO;
    }
    *len = b.len;
    *out = (unsigned char *)sb_take(&b);
    return AOT_OK;
}

/* ptxas's log names the temp files: show the final names instead. */
static void put_log(strbuf *err, const char *log, const outset *o, int fp)
{
    const char *tmp = o->f[fp].tmp.data, *dst = o->f[fp].dst.data;
    size_t n = strlen(tmp);
    for (const char *p = log, *hit; *p; p = hit + n) {
        hit = strstr(p, tmp);
        if (!hit) {
            sb_puts(err, p);
            return;
        }
        sb_append(err, p, (size_t)(hit - p));
        sb_puts(err, dst);
    }
}

/* ptxas on the temp PTX (file fp) into the temp cubin (fc); *cubin NULL
 * when there is no ptxas. */
static aot_result run_ptxas(outset *o, int fp, int fc, const char *arch, unsigned char **cubin, size_t *len,
                            strbuf *err)
{
    strbuf log;
    sb_init(&log);
    o->f[fc].live = true; /* ptxas may leave a partial file */
    int r = ptxas_run(sb_cstr(&o->f[fp].tmp), arch, sb_cstr(&o->f[fc].tmp), &log);
    aot_result res = AOT_OK;
    if (r < 0) {
        unlink(sb_cstr(&o->f[fc].tmp));
        o->f[fc].live = false;
        aot_result kept = commit(o, err); /* keep the (complete) PTX for the repro */
        sb_printf(err, "%sptxas rejected %s (repro: ptxas -arch=%s %s -o %s):\n", kept == AOT_OK ? "" : "; ",
                  sb_cstr(&o->f[fp].dst), arch, sb_cstr(&o->f[fp].dst), sb_cstr(&o->f[fc].dst));
        put_log(err, sb_cstr(&log), o, fp);
        res = AOT_PTXAS;
    } else if (r == 1) {
        res = read_bytes(sb_cstr(&o->f[fc].tmp), cubin, len, err);
    } else {
        o->f[fc].live = false;
    }
    sb_free(&log);
    return res;
}

aot_result aot_write_with_cubin(aot_spec *spec, const char *dir, strbuf *note, strbuf *err)
{
    if (!aot_check_spec(spec, err))
        return AOT_USER;
    outset o;
    out_init(&o, dir, spec->name);
    unsigned char *cubin = NULL, *bcubin = NULL;
    size_t cubin_len = 0, bcubin_len = 0;
    bool bwd = spec->bwd.enabled;
    aot_result r = make_dir(dir, err);
    if (r == AOT_OK)
        r = put_file(&o, F_PTX, spec->ptx, spec->ptx_len, err);
    if (r == AOT_OK)
        r = run_ptxas(&o, F_PTX, F_CUBIN, spec->arch, &cubin, &cubin_len, err);
    if (r == AOT_OK && bwd)
        r = put_file(&o, F_BPTX, spec->bwd.ptx, spec->bwd.ptx_len, err);
    if (r == AOT_OK && bwd && cubin) /* no ptxas for the one: none for the other */
        r = run_ptxas(&o, F_BPTX, F_BCUBIN, spec->arch, &bcubin, &bcubin_len, err);
    if (r == AOT_OK) {
        spec->cubin = cubin;
        spec->cubin_len = cubin_len;
        spec->bwd.cubin = bcubin;
        spec->bwd.cubin_len = bcubin_len;
        r = put_sources(&o, spec, err);
        spec->cubin = spec->bwd.cubin = NULL;
        spec->cubin_len = spec->bwd.cubin_len = 0;
    }
    if (r == AOT_OK)
        r = commit(&o, err);
    if (r == AOT_OK && !cubin) /* an older run's cubin would not match this PTX */
        unlink(sb_cstr(&o.f[F_CUBIN].dst));
    if (r == AOT_OK && !bcubin)
        unlink(sb_cstr(&o.f[F_BCUBIN].dst));
    if (r == AOT_OK && !bwd)
        unlink(sb_cstr(&o.f[F_BPTX].dst));
    if (r == AOT_OK)
        sb_printf(note, "wrote %s, %s, %s%s%s%s", sb_cstr(&o.f[F_H].dst), sb_cstr(&o.f[F_C].dst),
                  sb_cstr(&o.f[F_PTX].dst), bwd ? ", " : "", bwd ? sb_cstr(&o.f[F_BPTX].dst) : "",
                  cubin ? " and the cubin (embedded)" : " (no ptxas: PTX only, JIT-compiled by the driver)");
    free(cubin);
    free(bcubin);
    out_done(&o);
    return r;
}
