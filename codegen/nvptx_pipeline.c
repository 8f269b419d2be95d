/* nvptx_pipeline.c — the optimisation pipeline for NVPTX kernels
 * (nvptx_target.h).
 *
 * Why not default<O3>: a kernel is one function with no calls, no memcpy,
 * no vectorisable loops and no allocas, yet O3 runs the inliner's CGSCC
 * machinery, eight InstCombines, both vectorisers and some forty other
 * passes over it — most of the LLVM half of a cold compile. This is O3's
 * own pass list (LLVM 19, `opt -passes='default<O3>' -print-pipeline-passes`)
 * with every pass removed whose absence leaves the PTX of every recipe,
 * both architectures and the schedule variants byte-identical; a test
 * (tests/ptx/test_ptx_pipeline.c) checks that against default<O3>, so an
 * LLVM upgrade that makes a removed pass matter fails loudly instead of
 * slowing kernels down. Order and pass options are O3's. Kernels written
 * on the tile builder (nvptx/tile.h) keep loop state in allocas: O3's
 * early SROA turns them into registers and phis before anything else
 * runs (on kernels without allocas it does nothing). */
#include "nvptx_target.h"

#define INSTCOMBINE "instcombine<max-iterations=1;no-use-loop-info;no-verify-fixpoint>"
#define CFG_COMMON "bonus-inst-threshold=1;speculate-blocks;simplify-cond-branch;"
/* The five SimplifyCFG configurations O3 uses, in the order they appear. */
#define CFG_EARLY                                                                                                  \
    "simplifycfg<" CFG_COMMON "no-forward-switch-cond;no-switch-range-to-icmp;no-switch-to-lookup;keep-loops;"    \
    "no-hoist-common-insts;no-sink-common-insts;no-speculate-unpredictables>"
#define CFG_LOOPS                                                                                                  \
    "simplifycfg<" CFG_COMMON "no-forward-switch-cond;switch-range-to-icmp;no-switch-to-lookup;keep-loops;"       \
    "no-hoist-common-insts;no-sink-common-insts;no-speculate-unpredictables>"
#define CFG_HOIST                                                                                                  \
    "simplifycfg<" CFG_COMMON "no-forward-switch-cond;switch-range-to-icmp;no-switch-to-lookup;keep-loops;"       \
    "hoist-common-insts;sink-common-insts;no-speculate-unpredictables>"
#define CFG_LATE                                                                                                   \
    "simplifycfg<" CFG_COMMON "forward-switch-cond;switch-range-to-icmp;switch-to-lookup;no-keep-loops;"          \
    "hoist-common-insts;sink-common-insts;no-speculate-unpredictables>"
#define CFG_LAST                                                                                                   \
    "simplifycfg<" CFG_COMMON "no-forward-switch-cond;switch-range-to-icmp;no-switch-to-lookup;keep-loops;"       \
    "no-hoist-common-insts;no-sink-common-insts;speculate-unpredictables>"

static const char lean_o3[] =
    "function(nvvm-reflect,nvvm-intr-range," CFG_EARLY ",sroa<modify-cfg>,early-cse<>),"
    "ipsccp,"
    "function<eager-inv>("
    /* O3's simplification pipeline (what the inliner would run per function) */
    INSTCOMBINE "," CFG_LOOPS ",early-cse<memssa>,speculative-execution<only-if-divergent-target>,"
    "correlated-propagation," CFG_LOOPS "," INSTCOMBINE "," CFG_LOOPS ",reassociate,constraint-elimination,"
    "loop-mssa(licm<no-allowspeculation>,loop-rotate<header-duplication;no-prepare-for-lto>,licm<allowspeculation>),"
    CFG_LOOPS "," INSTCOMBINE ",loop(indvars,loop-unroll-full),gvn<>,sccp,bdce," INSTCOMBINE
    ",correlated-propagation,loop-mssa(licm<allowspeculation>)," CFG_HOIST ","
    /* O3's optimisation pipeline */
    "infer-alignment," CFG_LATE ",vector-combine,loop-unroll<O3>,sroa<preserve-cfg>," INSTCOMBINE
    ",loop-mssa(licm<allowspeculation>),div-rem-pairs," CFG_LAST ")";

const char *nvptx_pipeline(void)
{
    return lean_o3;
}
