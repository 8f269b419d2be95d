/*
 * nvptx_plan.h — what a GPU strategy needs from the tile IR, read off the
 * canonical softmax shape (ir/tile_ir.h) into one flat record: tiles,
 * score/mask/class expressions, the key-tile range, which outputs exist.
 * Anything that is not that shape is refused with a reason, so a strategy
 * never guesses.
 */
#ifndef ATTNC_CODEGEN_NVPTX_PLAN_H
#define ATTNC_CODEGEN_NVPTX_PLAN_H

#include "../ir/tile_ir.h"
#include "nvptx_kernel.h"

typedef struct fa_plan {
    const tir_kernel *k; /* the kernel read: params, sizes, cross */
    dtype dt;
    int D, Dv;
    int ndims;     /* tile dims, 1 for a sequence */
    int grid_ndim; /* recipe grid dims, 0 for a sequence */
    int q_ext[3], kv_ext[3];
    int dil[3]; /* dilation-group tiling per tile dim (tile_ir.h dil; 0/1: none; nvptx_fa2_dil.c) */
    int Tq, Tk, warps, stages;
    int MR; /* 16-row MMA blocks per warp */
    bool base2;
    const expr *score; /* of s and coordinates; in log2 units when base2 */
    /* > 0 (unless $ATTNC_SCALE_FMA=0): the score is s * score_k (in
     * log2 units when base2), and the kernel keeps raw s until the
     * exponent, one FFMA per element instead of a multiply and a subtract:
     * the forward's exp2(fma(s, score_k, -m)) (nvptx_fa2_softmax.c), the
     * backward's exp2(fma(s, score_k log2 e, -lse log2 e)) (gb_prob) */
    float score_k;
    /* $ATTNC_SKIP_RESCALE (unset: 2 on the overlapped loop, else 0): 1,
     * O is rescaled only where some row of the warp has a new max (alpha
     * != 1): bit-identical, fewer multiplies once the row maxima settle
     * (fa2_rescale); 2, also a row's max is kept
     * while the tile's stays within 8 (log2 units, a factor 256) above it
     * (FlashAttention-4's lazy rescale: exponentials up to 2^8, the same
     * O and LSE up to rounding); 0 neither */
    int skip_rescale;
    /* $ATTNC_UNIFORM_WARP=1: the warp index broadcast from lane 0
     * (nt_uniform_warp), so ptxas keeps warp-derived values uniform */
    bool uniform_warp;
    const expr *mask;  /* NULL: keep all */
    const expr *full;  /* NULL: a tile with a mask is always partial */
    const expr *empty; /* NULL: no tile in the range is known to be empty */
    /* the overlapped loop computes every tile of a union range (parts), an
     * empty one as a masked partial tile, instead of branching around it
     * ($ATTNC_UNION_UNTESTED); empty stays for the narrow tile's test */
    bool empty_untested;
    tir_range_mode range;
    const expr *lo[3], *hi[3];
    int span_param; /* RANGE_BOUNDS on a sequence: >= 0, the document ids cutting the range (nvptx_fa2_span.c) */
    /* with span_param: the full test of tiles inside the query tile's own
     * document (the kv_range op's span_full, from mask analysis), or NULL */
    const expr *span_full;
    /* with span_full: the element mask without that document filter, which
     * a partial tile inside the query tile's document takes (no id loads;
     * the kv_range op's span_mask), or NULL: such tiles keep the mask */
    const expr *span_mask;
    int nparts; /* RANGE_BOUNDS of a union: 0 or 2..TIR_MAX_PARTS parts inside lo/hi */
    const expr *plo[TIR_MAX_PARTS][3], *phi[TIR_MAX_PARTS][3];
    bool store_lse;
    bool wgmma; /* sm_90a: products by warpgroup MMA from swizzled tiles */
    bool ws;    /* with wgmma: a producer warpgroup loads, `warps` compute */
    bool tma;   /* ws on a token sequence or grid box: the producer copies with TMA */
    int overlap; /* ws: schedule overlap= (1 S_{j+1} before softmax_j, 2 and ping-pong; nvptx_fa2_overlap.c) */
    bool reg_shift; /* ws: setmaxnreg moves the producer's registers to the computing warps (schedule regs=) */
    bool persist;   /* tma: one block per SM loops over the items (schedule persist=1; nvptx_fa2_persist.c) */
    bool pairs;     /* persist on a sequence: items pair-major, heaviest first (nvptx_plan.c pairs_order) */
    bool o_stage;   /* O written through shared memory (fa_plan_o_stage, nvptx_fa2_ostage.c) */
    bool o_tma;     /* ... and stored from there by TMA ($ATTNC_O_TMA=1; token sequences; an o map in the ABI) */
    bool q_regs;    /* ws: Q's A fragments in registers for S = Q K^T (fa_plan_q_regs, $ATTNC_Q_REGS) */
    bool doc_bits;  /* partial tiles across a document boundary: span_mask and the filter as bits (fa_plan_doc_bits) */
    int q_group;    /* grids: query tiles numbered in slabs of this many along dim 0 (schedule qgroup=; 1: row-major) */
    int q_chunk;    /* 3-D grids: inside a slab, positions in chunks of this many tiles of the last dim (qchunk=; 1: none) */
} fa_plan;

/* A range op's mode over ndims tile dims and its bounds lo/hi per dim:
 * RANGE_ALL when the bounds are not one pair per tile dim (forward kv_range,
 * backward q_range and kv_range alike). */
tir_range_mode nvptx_read_range(const tir_op *op, int ndims, const expr *lo[3], const expr *hi[3]);
/* The document-id param cutting a kv_range op's key range (op->span,
 * nvptx_fa2_span.c) for p's kernel and tiles: >= 0 where the kernel can
 * cut (bounds on a token sequence, an int32/int64 param of 1 or 2 dims),
 * else -1 (the range without the cut). */
int nvptx_span_param(const tir_op *op, const fa_plan *p);
/* fa_plan.score_k of a kernel whose score is `score`: unless
 * $ATTNC_SCALE_FMA=0, c where the score is s * c or c * s with c a positive
 * finite constant; else 0. */
float nvptx_score_k(const expr *score);
nvptx_status fa_plan_from_tir(const tir_kernel *k, target_arch arch, fa_plan *p, strbuf *err);
/* Whether the kernel of plan p writes O through shared memory
 * (nvptx_fa2_ostage.c; fa_plan_from_tir sets p->o_stage by it, and for
 * persistent blocks also by whether O's own bytes fit). */
bool fa_plan_o_stage(const fa_plan *p);
/* Whether the kernel of plan p keeps Q's A fragments in registers
 * ($ATTNC_Q_REGS; fa_plan_from_tir sets p->q_regs by it). */
bool fa_plan_q_regs(const fa_plan *p);
/* Whether a document kernel's partial tiles across a boundary take
 * span_mask and the document filter as bits (nvptx_fa2_doc_bits.c,
 * $ATTNC_DOC_BITS): a span with span_mask, sequences, key tiles <= 128,
 * not the ping-pong loop (overlap=2). */
bool fa_plan_doc_bits(const fa_plan *p);

#endif
