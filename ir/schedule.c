/* schedule.c — schedule defaults, text form and legality; see schedule.h. */
#include "schedule.h"
#include "target_info.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int schedule_q_tokens(const schedule *s)
{
    int n = 1;
    for (int i = 0; i < s->ndims; i++)
        n *= s->q_tile[i];
    return n;
}

int schedule_kv_tokens(const schedule *s)
{
    int n = 1;
    for (int i = 0; i < s->ndims; i++)
        n *= s->kv_tile[i];
    return n;
}

schedule schedule_default(int ndims, target_arch arch, bool linear)
{
    static const int q2[] = {8, 16}, kv2[] = {8, 8};
    static const int q3[] = {4, 4, 8}, kv3[] = {4, 4, 4};
    schedule s = {0};
    s.ndims = ndims < 1 ? 1 : ndims;
    for (int i = 0; i < s.ndims; i++) {
        if (s.ndims == 1) {
            s.q_tile[0] = arch == TARGET_HOST ? 64 : 128;
            s.kv_tile[0] = 64;
        } else if (s.ndims == 2) {
            s.q_tile[i] = q2[i];
            s.kv_tile[i] = kv2[i];
        } else {
            s.q_tile[i] = q3[i];
            s.kv_tile[i] = kv3[i];
        }
    }
    s.stages = 2;
    s.warps = 4;
    s.linear_block = 64;
    s.inter = INTER_STATE;
    (void)linear;
    return s;
}

/* "8x16" -> {8, 16}; returns the count or -1. */
static int parse_extents(const char *p, int *out, int max)
{
    int n = 0;
    for (;;) {
        if (!isdigit((unsigned char)*p) || n == max)
            return -1;
        char *end;
        long v = strtol(p, &end, 10);
        if (v <= 0 || v > 4096)
            return -1;
        out[n++] = (int)v;
        p = end;
        if (*p == 0)
            return n;
        if (*p != 'x')
            return -1;
        p++;
    }
}

static bool parse_field(schedule *s, const char *key, const char *val, int ndims, strbuf *err)
{
    int ext[SCHED_MAX_DIMS];
    if (!strcmp(key, "q") || !strcmp(key, "kv")) {
        int n = parse_extents(val, ext, SCHED_MAX_DIMS);
        if (n != ndims) {
            sb_printf(err, "'%s=%s' needs %d extent%s (one per token-grid dimension, e.g. %s)", key, val,
                      ndims, ndims == 1 ? "" : "s", ndims == 1 ? "64" : ndims == 2 ? "8x16" : "4x4x8");
            return false;
        }
        memcpy(!strcmp(key, "q") ? s->q_tile : s->kv_tile, ext, sizeof(int) * (size_t)n);
        return true;
    }
    if (!strcmp(key, "mma")) {
        static const char *const names[] = {"auto", "sync", "wgmma", "wgmma_ws"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(val, names[i])) {
                s->mma = (mma_kind)i;
                return true;
            }
        sb_printf(err, "'mma=%s': write mma=auto, mma=sync, mma=wgmma or mma=wgmma_ws", val);
        return false;
    }
    if (!strcmp(key, "overlap")) {
        if (!strcmp(val, "0") || !strcmp(val, "1") || !strcmp(val, "2")) {
            s->overlap = val[0] - '0';
            return true;
        }
        sb_printf(err, "'overlap=%s': write overlap=0, overlap=1 or overlap=2", val);
        return false;
    }
    if (!strcmp(key, "regs")) {
        if (!strcmp(val, "even") || !strcmp(val, "shift")) {
            s->even_regs = !strcmp(val, "even");
            return true;
        }
        sb_printf(err, "'regs=%s': write regs=shift or regs=even", val);
        return false;
    }
    if (!strcmp(key, "persist")) {
        if (!strcmp(val, "0") || !strcmp(val, "1")) {
            s->persistent = val[0] == '1';
            return true;
        }
        sb_printf(err, "'persist=%s': write persist=0 or persist=1", val);
        return false;
    }
    if (!strcmp(key, "inter")) {
        if (!strcmp(val, "state") || !strcmp(val, "chunked") || !strcmp(val, "chain")) {
            s->inter = !strcmp(val, "state") ? INTER_STATE : !strcmp(val, "chunked") ? INTER_CHUNKED : INTER_CHAIN;
            return true;
        }
        sb_printf(err, "'inter=%s': write inter=state, inter=chunked or inter=chain", val);
        return false;
    }
    int *dst = !strcmp(key, "stages") ? &s->stages
             : !strcmp(key, "warps")  ? &s->warps
             : !strcmp(key, "block")  ? &s->linear_block
             : !strcmp(key, "qgroup") ? &s->q_group
             : !strcmp(key, "qchunk") ? &s->q_chunk
                                      : NULL;
    if (!dst) {
        sb_printf(err, "unknown schedule field '%s' (fields: q, kv, stages, warps, block, inter, mma, overlap, regs, persist, qgroup, qchunk)", key);
        return false;
    }
    char *end;
    long v = strtol(val, &end, 10);
    if (*val == 0 || *end || v <= 0 || v > 4096) {
        sb_printf(err, "'%s=%s' needs a positive integer", key, val);
        return false;
    }
    *dst = (int)v;
    return true;
}

bool schedule_parse(const char *spec, int ndims, schedule *out, strbuf *err)
{
    int nd = ndims < 1 ? 1 : ndims;
    *out = schedule_default(nd, TARGET_HOST, false);
    if (!spec || !strcmp(spec, "auto")) {
        out->is_auto = true;
        return true;
    }
    char buf[256];
    if (strlen(spec) >= sizeof buf) {
        sb_puts(err, "schedule text too long");
        return false;
    }
    strcpy(buf, spec);
    for (char *save = NULL, *tok = strtok_r(buf, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            sb_printf(err, "'%s' is not key=value (e.g. q=64 kv=64 stages=2 warps=4)", tok);
            return false;
        }
        *eq = 0;
        if (!parse_field(out, tok, eq + 1, nd, err))
            return false;
    }
    return true;
}

static void print_extents(strbuf *out, const int *e, int n)
{
    for (int i = 0; i < n; i++)
        sb_printf(out, i ? "x%d" : "%d", e[i]);
}

static void print_fields(strbuf *out, const schedule *s, bool linear_keys)
{
    if (s->is_auto) {
        sb_puts(out, "auto");
        return;
    }
    sb_puts(out, "q=");
    print_extents(out, s->q_tile, s->ndims);
    sb_puts(out, " kv=");
    print_extents(out, s->kv_tile, s->ndims);
    sb_printf(out, " stages=%d warps=%d", s->stages, s->warps);
    if (linear_keys)
        sb_printf(out, " block=%d inter=%s", s->linear_block,
                  s->inter == INTER_STATE ? "state" : s->inter == INTER_CHUNKED ? "chunked" : "chain");
    static const char *const mma_names[] = {"", " mma=sync", " mma=wgmma", " mma=wgmma_ws"};
    sb_puts(out, mma_names[s->mma]);
    if (s->overlap)
        sb_printf(out, " overlap=%d", s->overlap);
    if (s->even_regs)
        sb_puts(out, " regs=even");
    if (s->persistent)
        sb_puts(out, " persist=1");
    if (s->q_group > 1)
        sb_printf(out, " qgroup=%d", s->q_group);
    if (s->q_chunk > 1)
        sb_printf(out, " qchunk=%d", s->q_chunk);
}

void schedule_print(strbuf *out, const schedule *s)
{
    print_fields(out, s, true);
}

void schedule_print_for(strbuf *out, const schedule *s, bool linear)
{
    print_fields(out, s, linear);
}

static bool pow2(int v)
{
    return v > 0 && (v & (v - 1)) == 0;
}

bool schedule_overlap_fits(const schedule *s, target_arch arch, int head_dim, int head_dim_v)
{
    int q = schedule_q_tokens(s), k = schedule_kv_tokens(s);
    return (target_info_of(arch)->mma & TARGET_MMA_WGMMA) && s->warps % 4 == 0 &&
           q == 16 * s->warps && head_dim % 64 == 0 && head_dim_v % 64 == 0 && head_dim <= 256 && k % 16 == 0 &&
           k * 3 / 4 + head_dim_v / 2 <= schedule_overlap_regs(s->warps);
}

/* Three computing warpgroups (warpgroup MMA, 64 query rows each): a
 * sequence's 192-row query tile at 12 warps, the one query tile that is
 * not a power of two (FA3's shape for head dim 64). */
static bool three_warpgroups(const schedule *s, target_arch arch)
{
    return arch != TARGET_HOST && (target_info_of(arch)->mma & TARGET_MMA_WGMMA) && s->ndims == 1 &&
           s->q_tile[0] == 192 && s->warps == 12;
}

/* A sequence's key tile of any multiple of 16 under warpgroup MMA (the N
 * of S = Q K^T is a multiple of 8, a TMA box and a swizzled tile whole
 * 8-row atoms): FA3 takes 176 keys at head dim 128 without a mask. */
static bool wide_keys(const schedule *s, target_arch arch)
{
    return arch != TARGET_HOST && (target_info_of(arch)->mma & TARGET_MMA_WGMMA) && s->ndims == 1 &&
           s->kv_tile[0] % 16 == 0 && s->mma != MMA_SYNC && s->warps % 4 == 0;
}

bool schedule_check(const schedule *s, target_arch arch, int head_dim, int elem_size, strbuf *err)
{
    if (s->is_auto)
        return true;
    bool wg3 = three_warpgroups(s, arch), wk = wide_keys(s, arch);
    for (int i = 0; i < s->ndims; i++) {
        if ((!pow2(s->q_tile[i]) && !wg3) || (!pow2(s->kv_tile[i]) && !wk)) {
            sb_printf(err, "tile extents must be powers of two (dim %d: q %d, kv %d%s)", i, s->q_tile[i],
                      s->kv_tile[i],
                      arch == TARGET_HOST ? ""
                                          : "; on a token sequence with warpgroup MMA, sm_90a: q=192 with "
                                            "warps=12, kv any multiple of 16");
            return false;
        }
    }
    int qt = schedule_q_tokens(s), kt = schedule_kv_tokens(s);
    if (qt > 256 || kt > 256) {
        sb_printf(err, "a tile holds at most 256 tokens (query tile %d, key tile %d)", qt, kt);
        return false;
    }
    if (s->stages < 1 || s->stages > 4) {
        sb_printf(err, "stages must be 1 to 4, not %d", s->stages);
        return false;
    }
    if (!pow2(s->linear_block) || s->linear_block < 16 || s->linear_block > 256) {
        sb_printf(err, "linear block must be a power of two from 16 to 256, not %d", s->linear_block);
        return false;
    }
    if (arch == TARGET_HOST)
        return true;
    if ((!pow2(s->warps) || s->warps > 8) && !wg3) {
        sb_printf(err, "warps must be 1, 2, 4 or 8 (or 12 with q=192 on a token sequence, sm_90a), not %d",
                  s->warps);
        return false;
    }
    if (qt % (16 * s->warps) || kt % 16) {
        sb_printf(err,
                  "on the GPU each warp owns 16 query rows and key tiles come in 16s: query tile %d "
                  "with %d warps, key tile %d",
                  qt, s->warps, kt);
        return false;
    }
    long smem = (long)elem_size * head_dim * (qt + 2L * kt * s->stages);
    long limit = target_info_of(arch)->smem_block_optin;
    if (smem > limit) {
        sb_printf(err, "needs %ld bytes of shared memory, over the %ld the GPU has; use smaller tiles or fewer stages",
                  smem, limit);
        return false;
    }
    return true;
}
