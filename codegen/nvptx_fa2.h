/*
 * nvptx_fa2.h — internal state of the FA2 strategy (sm_80 class: mma.sync
 * m16n8k16, ldmatrix, cp.async multi-stage pipeline), shared by its files:
 *   nvptx_fa2.c          kernel skeleton: params, program ids, key loop
 *   nvptx_fa2_coords.c   token coordinates, key-tile ranges, expression env
 *   nvptx_fa2_span.c     the document span cut of the key range
 *   nvptx_fa2_load.c     global -> shared tile copies (cp.async, zero fill)
 *   nvptx_fa2_mma.c      fragments: Q in registers, S = Q K^T, O += P V
 *   nvptx_fa2_softmax.c  score/mask on the fragment, online softmax, stores
 *   nvptx_fa2_frames.c   the mask's key-frame subtrees hoisted per tile (unless ATTNC_MASK_FRAMES=0)
 *   nvptx_fa2_wgmma.c    the sm_90a products (wgmma; emitters in nvptx_wgmma.c)
 *   nvptx_fa2_ws.c       producer warpgroup + mbarrier pipeline (sm_90a)
 *   nvptx_fa2_overlap.c  the overlapped key loop of the ws kernel (plan->overlap)
 *   nvptx_fa2_narrow.c   a union range's first tile on its first 16 keys (opt-in)
 *   nvptx_fa2_persist.c  persistent blocks: the item loop, dynamic items
 *   nvptx_fa2_doc_table.c the document cut shared across heads
 *   nvptx_fa2_ostage.c   O written through shared memory, stored in whole rows
 *
 * Register fragments follow the PTX m16n8k16 layouts: lane = 4*g + t4; an
 * accumulator block (16 x 8) holds rows g and g+8, columns 2*t4 and 2*t4+1.
 * Each warp owns MR blocks of 16 query rows. Shared tiles are row major with
 * a 16-byte pad per row (ldmatrix reads 8 rows of 16 bytes: the pad puts
 * them in distinct banks).
 */
#ifndef ATTNC_CODEGEN_NVPTX_FA2_H
#define ATTNC_CODEGEN_NVPTX_FA2_H

#include "emit_expr.h"
#include "nvptx/tile.h"
#include "nvptx_intrin.h"
#include "nvptx_wgmma.h"
#include "nvptx_plan.h"

enum { FA_MAXMR = 4, FA_MAXN = 32, FA_MAXK = 16 };
enum { FA_NARROW = 16 }; /* keys of a narrow first tile (nvptx_fa2_narrow.c) */
enum { T_Q, T_K, T_V, T_O, T_LSE };

typedef enum { EXM_ELEM, EXM_BOX } fa_expr_mode;

enum { FA_FR_MAX = 16 };

/* The partial-tile mask with its key-frame subtrees hoisted
 * (nvptx_fa2_frames.c): per hoisted node its value per row slot and key
 * frame (kf0, kf0 + 1) of the current tile, and the current element. */
typedef struct fa2_frames {
    int n;
    const expr *node[FA_FR_MAX];
    LLVMValueRef val[FA_FR_MAX][FA_MAXMR][2][2]; /* [node][mi][h][frame] */
    LLVMTypeRef ty;      /* the mask's int type (every value of one emission has it) */
    bool one;            /* the tile's keys all lie in frame kf0: no selects */
    bool pre;            /* computing val: `k.t div F` is kf[c] */
    int c, mi, h;        /* frame (pre) or row slot (per element) */
    LLVMValueRef kf[2];  /* kf0, kf0 + 1 (ty) */
    LLVMValueRef first;  /* per element: the key lies in frame kf0 (i1) */
    LLVMValueRef sj;     /* per element: k.t mod F (ty) */
    /* mask_key_atom (or NULL): the mask is atom ? kval[..][1] : kval[..][0],
     * the cofactors per row slot and frame; atom_val: the constant the atom
     * takes while they are emitted (else NULL) */
    const expr *atom;
    LLVMValueRef atom_val;
    LLVMValueRef kval[FA_MAXMR][2][2][2]; /* [mi][h][frame][atom] */
} fa2_frames;

typedef struct fa2 {
    nv_ctx nv;
    nt t; /* the tile builder over this kernel (nvptx/tile.h): fragments, tiles, loop state */
    const fa_plan *p;
    int slot_rows;       /* key rows of a ring slot's tiles (the kernel's Tk, also while p is narrow) */
    LLVMValueRef fn;
    bool failed; /* an expression leaf could not be produced */

    LLVMValueRef tens[5];      /* global pointers */
    LLVMValueRef stride[5][4]; /* i64, elements */
    LLVMValueRef size[SZ_MAX]; /* i32 */
    LLVMValueRef param[NVPTX_MAX_PARAMS];
    LLVMValueRef tmap[KABI_NMAPS]; /* plan->tma: the q, k, v tensor-map params; plan->o_tma: o's after them */
    LLVMValueRef smem;   /* base of the kernel's shared memory (1024-aligned under wgmma) */
    LLVMValueRef smem32; /* wgmma: its shared-window byte address (i32) */

    int threads;      /* block size */
    int load_threads; /* threads that issue the tile copies (all, or the producer warpgroup) */
    int off_bar;      /* ws: mbarriers full[stages], empty[stages], q */
    int pitch_q, pitch_k, pitch_v; /* bytes per shared row */
    int off_q, off_k, off_v;       /* region offsets */
    int off_o;                     /* O's staging bytes (nvptx_fa2_ostage.c): Q's, or their own in persistent blocks */
    int slot_k, slot_v;            /* bytes per pipeline stage */
    bool q_in_regs;

    LLVMValueRef tid, lane, warp, g, t4;
    LLVMValueRef load_tid; /* this thread's index among load_threads */
    LLVMValueRef head, kv_head, batch;
    /* persist: the item's query tile index (NULL: ctaid.x), its first
     * tile's index in the pipeline rings (NULL: 0; the rings' phases run
     * on across items) and the item's count in this block (i32) */
    LLVMValueRef cta_x, ring_base, item_k;
    LLVMValueRef qext[3], kext[3]; /* token extents per tile dim */
    LLVMValueRef q_org[3], q_lo[3], q_hi[3];
    LLVMValueRef dgrp[3], glen[3]; /* dilation-group tiling: the CTA's group and its length per dim */
    LLVMValueRef nkt[3];
    LLVMValueRef r_lo[3], r_cnt[3], r_total;
    /* document span (p->span_full): key tiles starting after run_lo and
     * ending before run_hi (tokens) hold only the query tile's one id;
     * NULL without a span */
    LLVMValueRef run_lo, run_hi;
    /* a tile across a document boundary (fa2_doc_bits): bit 2 nb + e of
     * [mi][h] says column 8 nb + 2 t4 + e has that row's id; fa2_mask ANDs
     * it in while doc_bits_on */
    LLVMValueRef doc_bits[FA_MAXMR][2];
    bool doc_bits_on;
    bool k_inside; /* emitting the mask of a key tile inside the sequence: no key-bound test ($ATTNC_MASK_INSIDE) */
    bool run_on_q; /* the run is of queries, tested on the query tile (the backward's dK/dV kernel) */
    bool span_fence; /* the span scan fences its shared words for the async proxy (wgmma backward) */
    /* the forward kernel (fa2_build): the document cut may go through the
     * module-global table (nvptx_fa2_doc_table.c); doc_tag: variable, this
     * launch's tag as thread 0 read it */
    bool doc_table_ok;
    LLVMValueRef doc_tag;
    bool all_full; /* emitting the key loop over a run of full tiles (fa2_key_loops) */
    int part_only; /* 1 + the part of a union range a loop is emitted for (fa2_key_loops); 0: any (zeroed
                    * fa2 structs, the backward's too, mean no restriction) */
    /* a union range (p->nparts): per part its first tile, tile counts per
     * dim and the loop index of its first tile (parts disjoint, in order) */
    LLVMValueRef part_lo[TIR_MAX_PARTS][3], part_cnt[TIR_MAX_PARTS][3], part_base[TIR_MAX_PARTS];

    /* Coordinates of the rows this thread owns: [mi][half]. */
    LLVMValueRef row_c[FA_MAXMR][2][3], row_t[FA_MAXMR][2];
    /* The key tile being processed. */
    LLVMValueRef k_org[3], k_lo[3], k_hi[3], slot;

    /* Expression evaluation context. */
    fa_expr_mode mode;
    LLVMValueRef ex_qc[3], ex_qt, ex_kc[3], ex_kt, ex_s;

    nt_frag q; /* q_in_regs: Q as this warp's A operand (16 MR x D) */
    /* p->q_regs in the plain loop: Q's fragments carried from tile to tile
     * (fa2_wgmma_qk: ptxas 13 loses them across the loop otherwise) */
    nt_fvar q_carry;
    bool q_carried;

    /* > 0: the partial-tile mask reads the key only as k.t div F and
     * k.t mod F, F this many tokens >= the key tile, and is emitted with
     * its key-frame subtrees hoisted (nvptx_fa2_frames.c) */
    int64_t fr_period;
    bool fr_on; /* while such a mask is emitted (the expression env asks fr) */
    fa2_frames fr;
} fa2;

/* coords */
/* The tile builder over the kernel (f->t: fn, smem and threads set) and
 * its thread coordinates tid, lane, warp, g = lane / 4, t4 = lane % 4
 * (forward and backward kernels). */
void fa2_thread_ids(fa2 *f);
/* qext, kext: token extents per tile dim (a sequence's tokens, or the grid dims) */
void fa2_extents(fa2 *f);
void fa2_coords_init(fa2 *f);
/* Query tiles per (head, batch): the one-item launch's grid.x. */
LLVMValueRef fa2_q_tiles(fa2 *f);
/* head and the K/V head it reads (GQA: heads / kv_heads query heads per K/V head). */
void fa2_set_head(fa2 *f, LLVMValueRef head);
void fa2_tile_coords(fa2 *f, const int *ext, const LLVMValueRef *org, LLVMValueRef idx, LLVMValueRef c[3]);
LLVMValueRef fa2_flat_token(fa2 *f, LLVMValueRef c[3]);
LLVMValueRef fa2_in_bounds(fa2 *f, LLVMValueRef c[3], const LLVMValueRef *ext);
void fa2_kv_tile_origin(fa2 *f, LLVMValueRef j, LLVMValueRef org[3]);
/* nvptx_fa2_dil.c: dilation-group tiling (p->dil; tile_ir.h dil) */
int fa2_dil(const fa2 *f, int d);                                    /* δ of dim d (1: none) */
LLVMValueRef fa2_dil_qtiles(fa2 *f, int d);                          /* query tiles along d, all groups */
void fa2_dil_q_origin(fa2 *f, int d, LLVMValueRef idx);              /* q_org/lo/hi, dgrp, glen of tile idx */
LLVMValueRef fa2_dil_nkt(fa2 *f, int d);                             /* key tiles of the group */
LLVMValueRef fa2_dil_k_origin(fa2 *f, int d, LLVMValueRef tile);     /* a group-local key tile's origin */
LLVMValueRef fa2_dil_box_hi(fa2 *f, int d, LLVMValueRef org, int ext);   /* last row's coordinate */
LLVMValueRef fa2_dil_past_end(fa2 *f, int d, LLVMValueRef org, int ext); /* box clipped by the group's end */
void fa2_range(fa2 *f);
/* Element of recipe param `param` at int indices idx (clamped into its shape). */
LLVMValueRef fa2_param_elem(fa2 *f, int param, LLVMValueRef *idx, int n);
/* The extent of param dim i (a constant dim or the launch size it names). */
LLVMValueRef fa2_param_extent(fa2 *f, const tir_param *rp, int i);
/* Token t's id in document-id param p (i64; batch row f->batch for a [batch, tokens] param; clamped reads). */
LLVMValueRef fa2_doc_id(fa2 *f, int p, LLVMValueRef t);
/* The document span cut of the range (nvptx_fa2_span.c); every thread of the CTA calls it. */
void fa2_doc_span(fa2 *f);
/* The scan under it, for any tile of tokens [t_lo, t_hi] (one side) and
 * range of tiles (the other side: tokens [lo T, min((lo + cnt) T, ext)))
 * of the int document-id
 * param `param`, by every thread of the CTA (tid >= threads allowed: they
 * rescan tokens), through four i32 shared words at `words` (free again
 * on return, after a barrier). runs: also olo / ohi (point 3 there). */
typedef struct fa2_span {
    LLVMValueRef other;    /* i1: a token of the tile has an id other than its first's and last's: no cut */
    LLVMValueRef one;      /* i1: every token of the tile has one id */
    LLVMValueRef lo, hi;   /* i32: first / last token of the range with one of those ids (hi < 0: none) */
    LLVMValueRef olo, ohi; /* i32, runs: last token before t_lo / first after t_hi with another id */
} fa2_span;
typedef struct fa2_span_range {
    LLVMValueRef lo, cnt; /* i32: first tile, tiles */
    int T;                /* tokens a tile */
    LLVMValueRef ext;     /* i32: tokens of that side */
    bool vectors;         /* read the range's ids as 16-byte vectors first (nvptx_fa2_span.c scan_rows): the
                           * forward; the backward's kernels have no registers to spare (ptxas spills) */
} fa2_span_range;
void fa2_span_scan(fa2 *f, int param, LLVMValueRef t_lo, LLVMValueRef t_hi, const fa2_span_range *r,
                   LLVMValueRef words, bool runs, fa2_span *out);
/* Tiles [*r_lo, *r_lo + *r_cnt) of T tokens cut to those of s's tokens
 * lo .. hi (none when hi < 0), unless s->other. */
void fa2_span_cut(fa2 *f, const fa2_span *s, int T, LLVMValueRef *r_lo, LLVMValueRef *r_cnt);
LLVMValueRef fa2_emit(fa2 *f, const expr *e);
/* The int type fa2_emit uses for e, and fa2_emit with a given one. */
LLVMTypeRef fa2_int_ty(fa2 *f, const expr *e);
LLVMValueRef fa2_emit_ty(fa2 *f, const expr *e, LLVMTypeRef int_ty);
LLVMValueRef fa2_tile_partial(fa2 *f);
/* $ATTNC_FULL_RANGE=1 (experimental): whether the key loop runs runs of
 * full tiles in loops of their own, without mask code (a mask with a full
 * test, or no mask; unions on sequences only; documents by their run's
 * span_full test, only under =1 and not yet run on a GPU; not key frames or
 * dilation). fa2_key_loops emits the key loop from tile first through
 * tiles(f, user, lo, hi, full) calls: without the switch one over [first,
 * end) (end: r_total, less the narrow tile where it runs last); with it
 * (end is r_total then), per range (a union: per part, f->part_only set) the
 * general loop, the run of full tiles and the general loop. The run: the
 * class's full test on its hull (sound on any box pair), the hull inside
 * the keys; a sequence tries every tile, all but the last (causal's
 * diagonal), all but the first, all but both ends (a window); a grid its
 * whole box only. Under f->all_full (set by tiles for full), fa2_tile_partial
 * and fa2_tile_empty are false. */
bool fa2_full_range_on(const fa2 *f);
typedef void (*fa2_tiles_fn)(fa2 *f, void *user, LLVMValueRef lo, LLVMValueRef hi, bool full);
void fa2_key_loops(fa2 *f, fa2_tiles_fn tiles, void *user, LLVMValueRef first, LLVMValueRef end);
/* Whether the tile (the key tile; the query tile under run_on_q) lies
 * inside the run of f->run_lo / run_hi: every pair of it is of one
 * document. Needs the run (p->span_full) and the tile's origin. */
LLVMValueRef fa2_tile_in_doc(fa2 *f);
/* nvptx_fa2_doc_bits.c (under p->doc_bits): the document filter of the
 * current key tile as bits (f->doc_bits), for partial tiles across a
 * document boundary, which then take p->span_mask and the bits instead of
 * the whole mask; every thread of a computing warp calls fa2_doc_bits
 * (shuffles). */
void fa2_doc_bits(fa2 *f);
LLVMValueRef fa2_doc_bit(fa2 *f, int mi, int h, int nb, int e);
LLVMValueRef fa2_tile_empty(fa2 *f);

/* loads */
void fa2_load_tile(fa2 *f, int tensor, LLVMValueRef org[3], LLVMValueRef base_off, LLVMValueRef valid);

/* mma (nvptx_fa2_mma.c, on the tile builder): the [mi][nb][e] arrays of
 * the softmax code as a 16 MR x cols accumulator fragment and back */
void fa2_frag(fa2 *f, nt_frag *c, LLVMValueRef a[FA_MAXMR][FA_MAXN][4], int cols);
void fa2_unfrag(const nt_frag *c, LLVMValueRef a[FA_MAXMR][FA_MAXN][4]);
void fa2_load_q_frags(fa2 *f);
/* Q's A fragments into f->q (wgmma, computing warps 0..; p->q_regs, fa_plan_q_regs). */
void fa2_wgmma_load_q(fa2 *f);
void fa2_qk(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4]);
void fa2_pv(fa2 *f, LLVMValueRef p[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4]);

/* wgmma (sm_90a, nvptx_fa2_wgmma.c, on the tile builder's nt_mma):
 * S = Q K^T and O += P V on the current slot; O += P V from P already
 * packed (an A fragment) on a ring slot (waited for); and, for the
 * overlapped loop, S_j (into s, over the slot's first s_keys keys: p->Tk,
 * or FA_NARROW for the narrow tile) with O += P_{j-1} V_{j-1} (over
 * pa->cols keys) issued without a wait (nt_mma_async: s and o in flight
 * until nt_mma_wait). */
void fa2_wgmma_qk(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4]);
void fa2_wgmma_pv(fa2 *f, LLVMValueRef p[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4]);
void fa2_wgmma_pv_packed(fa2 *f, const nt_frag *pa, LLVMValueRef slot, nt_frag *o);
void fa2_wgmma_issue(fa2 *f, LLVMValueRef slot_k, int s_keys, nt_frag *s, const nt_frag *pa, LLVMValueRef slot_v,
                     nt_frag *o);
/* S = Q K^T of ring slot slot_k alone, issued without a wait (one commit
 * group; the deferred store runs under it, nvptx_fa2_overlap.c). */
void fa2_wgmma_issue_qk(fa2 *f, LLVMValueRef slot_k, nt_frag *s);

/* warp specialisation (plan->ws, nvptx_fa2_ws.c): mbarrier pipeline
 * between a producer warpgroup (tile copies) and the computing warps. */
void fa2_ws_init_barriers(fa2 *f);
/* Documents under TMA (p->span_param, one item a block): the key range's
 * scan (fa2_doc_span) runs on the whole block before the roles split, and
 * Q does not depend on it, so the barriers are initialised and the
 * producer's thread issues Q's copy before the scan: it lands while the
 * scan reads ids instead of after. fa2_ws_early_q says when (the block
 * builder, split_roles and the producer ask it alike);
 * fa2_ws_issue_q_early does it. */
bool fa2_ws_early_q(const fa2 *f);
void fa2_ws_issue_q_early(fa2 *f);
/* This computing warp's warpgroup (warp / 4). */
LLVMValueRef fa2_warpgroup(fa2 *f);
/* Shared bytes of the barriers (after f->off_bar). */
int fa2_ws_bar_bytes(const fa2 *f);
void fa2_ws_producer(fa2 *f);
/* The computing warps' start: their register share; then (one item per
 * block) Q resident. */
void fa2_ws_consumer_start(fa2 *f);
/* persist: Q of item f->item_k resident; after the key loop, this warp
 * is done with Q (the producer may load the next item's). */
void fa2_ws_q_wait(fa2 *f);
void fa2_ws_q_done(fa2 *f);
/* Tile j of the current item's range as an index into the rings. */
LLVMValueRef fa2_ws_ring_index(fa2 *f, LLVMValueRef j);
void fa2_ws_acquire(fa2 *f, LLVMValueRef j);
void fa2_ws_release(fa2 *f);
/* Lane 0 of each warp arrives on slot's empty barrier (when cond, if non-NULL);
 * under overlap that releases the slot's K only. */
void fa2_ws_release_slot(fa2 *f, LLVMValueRef slot, LLVMValueRef cond);
/* overlap: the V ring: wait until V of tile j is resident, release it (when cond). */
void fa2_ws_wait_v(fa2 *f, LLVMValueRef j);
void fa2_ws_release_v(fa2 *f, LLVMValueRef j, LLVMValueRef cond);
/* Ping-pong of the two computing warpgroups (overlap=2) on named barriers:
 * init once (warpgroup 0 goes first), wait for this warpgroup's turn
 * before issuing its products, pass the turn after, end after the loop
 * (takes the last pass, so every barrier use is matched). */
void fa2_ws_turn_init(fa2 *f);
void fa2_ws_turn_wait(fa2 *f);
void fa2_ws_turn_pass(fa2 *f);
void fa2_ws_turn_end(fa2 *f);

/* key loop (nvptx_fa2.c): the score + partial-tile mask of S (a branch, S
 * in a fragment variable) */
void fa2_score_and_mask(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4]);
/* nvptx_fa2_overlap.c: the whole key loop and the finalize */
void fa2_overlap_loop(fa2 *f);
/* $ATTNC_O_DEFER=1 (nvptx_fa2_overlap.c): whether the computing warps of
 * persistent blocks store each item's staged O and LSE while the next
 * item's first S = Q K^T runs (the overlapped loop, staged O, static
 * items); and the computing warps' item loop that does so. */
bool fa2_defer_on(const fa2 *f);
void fa2_overlap_items(fa2 *f);

/* The narrow first tile (nvptx_fa2_narrow.c, $ATTNC_NARROW_FIRST): whether
 * the kernel takes it; and, where it does and the query tile's range starts
 * with a tile that keeps nothing past its first FA_NARROW keys, tile 0
 * acquired (fa2_ws_acquire) and body(f, user) emitted under a plan whose key
 * tile is those keys (body releases the tile). Returns the tile the key
 * loop starts at (i32: 1 after a narrow tile, else 0). */
bool fa2_narrow_first_on(const fa2 *f);
LLVMValueRef fa2_narrow_first(fa2 *f, void (*body)(fa2 *f, void *user), void *user);

/* persistent blocks (plan->persist, nvptx_fa2_persist.c): the loop over
 * this block's items. fa2_items_begin opens it and sets up the item in f
 * (head, batch, query box, key range, ring_base, item_k);
 * fa2_items_end advances the rings past its tiles and closes it. */
typedef struct fa2_items {
    bool producer; /* set by the caller: the producer's thread (it fetches dynamic items) */
    nt_loop loop;
    LLVMBasicBlockRef join; /* after the item (rounds past the last item skip it) */
    LLVMValueRef base;      /* variable: the ring index of the item's first tile */
    LLVMValueRef done;      /* variable: items this block finished */
} fa2_items;
void fa2_items_begin(fa2 *f, fa2_items *it);
/* Whether the items come from the counter ($ATTNC_PERSIST_DYNAMIC=1 under
 * persist=1): the producer's thread fetches each and hands it to the
 * computing warps through the handoff's two slots, round k in slot k mod 2.
 * item_full (a ring of two mbarriers): the slot's words written, one
 * arrival; the slot is free again by q_empty's order. A slot holds
 * FA2_ITEM_WORDS words: the item (>= the item count: no more). */
bool fa2_items_dynamic(const fa2 *f);
enum { FA2_ITEM_WORDS = 1 };
nt_ring fa2_ws_item_full(const fa2 *f);
LLVMValueRef fa2_ws_item_word(fa2 *f, LLVMValueRef slot, int i);
void fa2_items_end(fa2 *f, fa2_items *it);

/* The document cut shared across heads (nvptx_fa2_doc_table.c, on unless
 * $ATTNC_DOC_TABLE=0): whether this kernel uses it; one thread: this
 * launch's tag and, after it, the block counted in (every block exactly
 * once; the last one in advances the epoch); the entry of (batch, query tile x) (i32s;
 * *usable: inside the table) and, on a hit (i1: its four tags are this
 * launch's), its r_lo, r_cnt, run_lo, run_hi; writing them. */
enum { FA2_DOC_TABLE_ENTRIES = 32768 };
bool fa2_doc_table_on(const fa2 *f);
LLVMValueRef fa2_doc_table_epoch(fa2 *f);
void fa2_doc_table_count_in(fa2 *f);
LLVMValueRef fa2_doc_table_entry(fa2 *f, LLVMValueRef batch, LLVMValueRef x, LLVMValueRef *usable);
LLVMValueRef fa2_doc_table_find(fa2 *f, LLVMValueRef entry, LLVMValueRef usable, LLVMValueRef tag,
                                LLVMValueRef out[4]);
void fa2_doc_table_publish(fa2 *f, LLVMValueRef entry, LLVMValueRef usable, LLVMValueRef tag,
                           const LLVMValueRef vals[4]);

/* key frames (nvptx_fa2_frames.c) */
/* F > 0 when every key coordinate of mask is `k.t div F` or `k.t mod F`
 * (one constant F, at least kv_tile tokens) on a token sequence and the
 * mask has something to hoist; 0 otherwise. */
int64_t fa2_frames_period(const expr *mask, int grid_ndim, int kv_tile);
/* Whether the current key tile lies in one frame (i1; k_lo set). */
LLVMValueRef fa2_frames_one(fa2 *f);
/* Per tile, before the element loop of the mask (f->fr_period > 0): the
 * hoisted values of every row slot, for kf0 only when `one` (the code on
 * the fa2_frames_one branch); turns the env's node hook on. */
void fa2_frames_begin(fa2 *f, bool one);
/* Per key column kt (i32) and per row slot, before emitting the mask. */
void fa2_frames_column(fa2 *f, LLVMValueRef kt);
void fa2_frames_row(fa2 *f, int mi, int h);
/* The mask's value on the current element (i1) from its atom and the
 * row's cofactors; NULL when the mask has no atom (emit it whole). */
LLVMValueRef fa2_frames_keep(fa2 *f);
void fa2_frames_end(fa2 *f);
/* hull (a tile class test on the current box pair, i1) or, when it fails
 * and the query or key box spans a frame boundary, whether test holds on
 * every pair of their parts cut there (mask_classify_frames; a branch,
 * taken by few tiles). */
LLVMValueRef fa2_frames_split(fa2 *f, const expr *test, LLVMValueRef hull);
/* The env's node hook: a hoisted value for e, or NULL. */
LLVMValueRef fa2_frames_node(fa2 *f, const expr *e);

/* softmax */
void fa2_score(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4]);
/* mask (p->mask, or p->span_mask on a tile inside one document) on a
 * partial tile's scores: -inf where it or the key bounds fail. */
void fa2_mask(fa2 *f, const expr *mask, LLVMValueRef s[FA_MAXMR][FA_MAXN][4]);
void fa2_softmax(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], LLVMValueRef m[FA_MAXMR][2],
                 LLVMValueRef l[FA_MAXMR][2], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4]);
/* fa2_softmax without touching O: alpha[mi][h] rescales it (fa2_rescale). */
void fa2_softmax_alpha(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], LLVMValueRef m[FA_MAXMR][2],
                       LLVMValueRef l[FA_MAXMR][2], LLVMValueRef alpha[FA_MAXMR][2]);
void fa2_rescale(fa2 *f, LLVMValueRef alpha[FA_MAXMR][2], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4]);
void fa2_finalize(fa2 *f, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2],
                  LLVMValueRef acc[FA_MAXMR][FA_MAXN][4]);
/* The finalize in two halves, for staged O (fa2_ostage_on, MR = 1): each
 * row's O normalised into the staging bytes and its LSE (lse[h]); then,
 * later (the item's coordinates in f again), the LSE and the staged rows
 * stored (nvptx_fa2_overlap.c defers this half into the next item). */
void fa2_finalize_stage(fa2 *f, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2],
                        LLVMValueRef acc[FA_MAXMR][FA_MAXN][4], LLVMValueRef lse[2]);
void fa2_finalize_store(fa2 *f, LLVMValueRef lse[2]);
/* Address of element (batch, head, tok, col) of `tensor`, esize bytes each. */
LLVMValueRef fa2_elem_ptr(fa2 *f, int tensor, LLVMValueRef tok, LLVMValueRef col, int esize);
/* O through shared memory (nvptx_fa2_ostage.c, $ATTNC_O_STAGE): whether
 * this kernel takes it; one of this thread's rows (half h of its 16-row
 * block) scaled by inv into its warpgroup's staging rows (f->off_o); then, every row
 * written, the warpgroup's rows stored to O in 16-byte chunks. */
bool fa2_ostage_on(const fa2 *f);
void fa2_ostage_write(fa2 *f, int h, LLVMValueRef inv, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4]);
void fa2_ostage_flush(fa2 *f);
/* Persistent blocks: before an item's writes, the warpgroup's barrier (and
 * under TMA its first thread's wait for the stores' reads); after the last
 * item, that wait. Nothing in one-item blocks. */
void fa2_ostage_reuse(fa2 *f);
void fa2_ostage_exit(fa2 *f);

/* Emits one FA2 kernel into module m. */
nvptx_status fa2_build(LLVMModuleRef m, const fa_plan *p, nvptx_kernel_info *info, strbuf *err);

#endif
