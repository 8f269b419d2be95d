/* aot_files.c — writes a complete AOT folder: NAME.ptx, NAME.cubin (when
 * ptxas is installed; then embedded too), NAME.h and NAME.c. */
#include <stdio.h>
#include <stdlib.h>

#include "aot_recipe.h"
#include "cache_disk.h"

static bool write_bytes(const char *path, const void *p, size_t n, strbuf *err)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    ok = f && fclose(f) == 0 && ok;
    if (!ok)
        sb_printf(err, "cannot write '%s'", path);
    return ok;
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n > 0 && n < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

bool aot_write_with_cubin(aot_spec *spec, const char *dir, strbuf *note, strbuf *err)
{
    char ptx_path[4200], cubin_path[4200];
    snprintf(ptx_path, sizeof ptx_path, "%s/%s.ptx", dir, spec->name);
    snprintf(cubin_path, sizeof cubin_path, "%s/%s.cubin", dir, spec->name);
    if (!aot_check_spec(spec, err) || !disk_make_dirs(dir, err) ||
        !write_bytes(ptx_path, spec->ptx, spec->ptx_len, err))
        return false;
    strbuf log;
    sb_init(&log);
    int r = aot_run_ptxas(ptx_path, spec->arch, cubin_path, &log);
    if (r < 0)
        sb_printf(err, "ptxas failed:\n%s", sb_cstr(&log));
    sb_free(&log);
    if (r < 0)
        return false;
    unsigned char *cubin = r == 1 ? read_bytes(cubin_path, &spec->cubin_len) : NULL;
    spec->cubin = cubin;
    bool ok = aot_generate(spec, dir, err);
    spec->cubin = NULL;
    free(cubin);
    if (ok)
        sb_printf(note, "wrote %s/%s.h, %s/%s.c, %s%s", dir, spec->name, dir, spec->name, ptx_path,
                  cubin ? " and the cubin (embedded)" : " (no ptxas: PTX only, JIT-compiled by the driver)");
    return ok;
}
