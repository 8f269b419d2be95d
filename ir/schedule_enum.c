/* schedule_enum.c — the autotuner's search space: every legal schedule for
 * a recipe shape and target; see schedule_enumerate in schedule.h.
 *
 * The space is small on purpose (tens to a few hundred points): each point
 * costs a compile and several timed launches. Illegal points are pruned here
 * with schedule_check; the tuner prunes further with what only the compiled
 * kernel knows (registers, spills). */
#include "schedule.h"

#include <string.h>

enum { MAX_BOXES = 128 };

typedef struct box {
    int ext[SCHED_MAX_DIMS];
} box;

static int box_tokens(const box *b, int ndims)
{
    int n = 1;
    for (int i = 0; i < ndims; i++)
        n *= b->ext[i];
    return n;
}

/* Tile boxes with 16..256 tokens; per-dim extents 1-D: 16..256, else 2..32
 * with max/min extent at most 4 (long thin boxes waste the halo). */
static int enumerate_boxes(int ndims, box *out)
{
    static const int ext1[] = {16, 32, 64, 128, 256}, extn[] = {2, 4, 8, 16, 32};
    const int *ext = ndims == 1 ? ext1 : extn;
    int nb = 0, idx[SCHED_MAX_DIMS] = {0};
    for (;;) {
        box b;
        memset(&b, 0, sizeof b);
        int lo = 1 << 30, hi = 0;
        for (int i = 0; i < ndims; i++) {
            b.ext[i] = ext[idx[i]];
            lo = b.ext[i] < lo ? b.ext[i] : lo;
            hi = b.ext[i] > hi ? b.ext[i] : hi;
        }
        int t = box_tokens(&b, ndims);
        if (t >= 16 && t <= 256 && hi <= 4 * lo && nb < MAX_BOXES)
            out[nb++] = b;
        int d = 0; /* odometer step */
        while (d < ndims && ++idx[d] == 5)
            idx[d++] = 0;
        if (d == ndims)
            return nb;
    }
}

/* Keeps the space small: 1-D key tiles up to 128 tokens; on 2-D/3-D grids
 * the key box fits inside the query box with at least a quarter of its
 * tokens, or is a 128-token box of another shape than a 128-token query
 * box (16x8 keys for 8x16 queries, 2x8x8 for 4x4x8: full tiles as large as
 * dense ones); linear attention uses one tile for both (its block size
 * varies). */
static bool worth_pairing(const box *q, const box *kv, int nd, bool linear)
{
    if (linear)
        return q == kv;
    if (nd == 1)
        return kv->ext[0] <= 128;
    if (box_tokens(q, nd) == 128 && box_tokens(kv, nd) == 128)
        return true;
    for (int i = 0; i < nd; i++)
        if (kv->ext[i] > q->ext[i])
            return false;
    return 4 * box_tokens(kv, nd) >= box_tokens(q, nd);
}

typedef struct enum_ctx {
    target_arch arch;
    int head_dim, elem_size, count, max;
    schedule *out;
} enum_ctx;

static void offer(enum_ctx *c, const schedule *s)
{
    strbuf why;
    sb_init(&why);
    bool ok = schedule_check(s, c->arch, c->head_dim, c->elem_size, &why);
    sb_free(&why);
    if (!ok)
        return;
    if (c->out && c->count < c->max)
        c->out[c->count] = *s;
    c->count++;
}

/* On sm_90a token sequences, the producer kernel's variants too: its overlapped key loop
 * (overlap=1, and 2 with two computing warpgroups), even registers and
 * persistent blocks where it fits
 * (schedule_overlap_fits; the value head dim taken as head_dim).
 * It won on unmasked recipes and lost on masked ones (bench/RESULTS.md,
 * 2026-12-04): the tuner decides per recipe and shape. */
static void offer_producer_variants(enum_ctx *c, schedule s)
{
    if (s.ndims != 1 || !schedule_overlap_fits(&s, c->arch, c->head_dim, c->head_dim))
        return;
    for (int o = 1; o <= (s.warps == 8 ? 2 : 1); o++) {
        s.overlap = o;
        offer(c, &s);
    }
    /* and the plain loop with even registers (regs=even, no setmaxnreg):
     * only at 8 computing warps, where the 384 threads' share (168) is
     * below what setmaxnreg gives them (240). It won on causal and lost
     * elsewhere (bench/RESULTS.md, 2026-12-04 run16). */
    if (s.warps == 8) {
        s.overlap = 0;
        s.even_regs = true;
        offer(c, &s);
        /* and persistent blocks (persist=1) on the plain loop: they won on
         * short uniform loops (sinks + window +2%) and lost on causal and
         * dense (bench/RESULTS.md, 2026-12-04 run25) */
        s.even_regs = false;
        s.persistent = true;
        offer(c, &s);
    }
}

/* Varies what the target and recipe kind make meaningful around one tiling. */
static void offer_variants(enum_ctx *c, schedule s, bool linear)
{
    static const int warps[] = {2, 4, 8}, blocks[] = {32, 64, 128};
    bool gpu = c->arch != TARGET_HOST;
    for (int st = 1; st <= (gpu ? 3 : 1); st++)
        for (int w = 0; w < (gpu ? 3 : 1); w++)
            for (int b = 0; b < (linear ? 3 : 1); b++)
                for (int m = 0; m < (linear ? (gpu ? 3 : 2) : 1); m++) {
                    /* inter=chain (GPU) has one shape: 64-token blocks, 8 warps */
                    if (m == 2 && (blocks[b] != 64 || warps[w] != 8))
                        continue;
                    s.stages = st;
                    s.warps = gpu ? warps[w] : 4;
                    s.linear_block = linear ? blocks[b] : 64;
                    s.inter = m == 0 ? INTER_STATE : m == 1 ? INTER_CHUNKED : INTER_CHAIN;
                    offer(c, &s);
                    if (gpu && !linear)
                        offer_producer_variants(c, s);
                }
}

int schedule_enumerate(int ndims, target_arch arch, int head_dim, int elem_size, bool linear, schedule *out,
                       int max)
{
    int nd = ndims < 1 ? 1 : ndims > SCHED_MAX_DIMS ? SCHED_MAX_DIMS : ndims;
    box boxes[MAX_BOXES];
    int nb = enumerate_boxes(nd, boxes);
    enum_ctx c = {arch, head_dim, elem_size, 0, max < 0 ? 0 : max, out};
    for (int qi = 0; qi < nb; qi++)
        for (int ki = 0; ki < nb; ki++) {
            if (!worth_pairing(&boxes[qi], &boxes[ki], nd, linear))
                continue;
            schedule s = schedule_default(nd, arch, linear);
            s.is_auto = false;
            memcpy(s.q_tile, boxes[qi].ext, sizeof s.q_tile);
            memcpy(s.kv_tile, boxes[ki].ext, sizeof s.kv_tile);
            offer_variants(&c, s, linear);
        }
    return c.count;
}
