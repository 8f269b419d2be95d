/* nvptx_target.c — target machine setup and PTX emission (nvptx_target.h).
 * The pass pipeline is nvptx_pipeline.c's. */
#include "nvptx_target.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "llvm_init.h"

static const char triple[] = "nvptx64-nvidia-cuda";
/* PTX ISA 8.0: the lowest sm_90a allows; ptxas 13 and driver 580 accept it. */
static const char features[] = "+ptx80";

const char *nvptx_arch_name(target_arch arch)
{
    switch (arch) {
    case TARGET_SM80:
        return "sm_80";
    case TARGET_SM90A:
        return "sm_90a";
    default:
        return NULL;
    }
}

/* Every --arch name accepted, and the code each gets: sm_80 code runs on
 * every GPU from Ampere on (sm_86, sm_87, sm_89, and Blackwell's sm_100 and
 * sm_120 through the driver's JIT, as cuda_device_arch picks for them);
 * sm_90 takes sm_90a's, whose wgmma only Hopper has. */
static const struct {
    const char *name;
    target_arch arch;
} arch_names[] = {
    {"sm_80", TARGET_SM80},  {"sm_86", TARGET_SM80},   {"sm_87", TARGET_SM80},  {"sm_89", TARGET_SM80},
    {"sm_90", TARGET_SM90A}, {"sm_90a", TARGET_SM90A}, {"sm_100", TARGET_SM80}, {"sm_120", TARGET_SM80},
};
enum { NARCH_NAMES = sizeof arch_names / sizeof arch_names[0] };

bool nvptx_arch_parse(const char *name, target_arch *out)
{
    for (int i = 0; name && i < NARCH_NAMES; i++)
        if (!strcmp(name, arch_names[i].name)) {
            *out = arch_names[i].arch;
            return true;
        }
    return false;
}

int nvptx_arch_names(const char **names, int cap)
{
    int n = 0;
    for (int i = 0; i < NARCH_NAMES && n < cap; i++)
        names[n++] = arch_names[i].name;
    return n;
}

void nvptx_arch_list(strbuf *sb)
{
    for (int i = 0; i < NARCH_NAMES; i++)
        sb_printf(sb, "%s%s", i ? ", " : "", arch_names[i].name);
}

/* 32-bit shared-memory addresses: every ldmatrix/cp.async address is one
 * register instead of two. A process-wide LLVM option that only the NVPTX
 * back end reads; set once, before the first NVPTX target machine. */
static once_flag options_once = ONCE_FLAG_INIT;

static void set_options(void)
{
    const char *argv[] = {"attnc", "--nvptx-short-ptr"};
    LLVMParseCommandLineOptions(2, argv, NULL);
}

static LLVMTargetMachineRef make_tm(target_arch arch, strbuf *err)
{
    llvm_init_targets();
    call_once(&options_once, set_options);
    LLVMTargetRef t;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(triple, &t, &msg)) {
        sb_printf(err, "NVPTX target unavailable: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return NULL;
    }
    return LLVMCreateTargetMachine(t, triple, nvptx_arch_name(arch), features, LLVMCodeGenLevelAggressive,
                                   LLVMRelocDefault, LLVMCodeModelDefault);
}

LLVMModuleRef nvptx_module_create(LLVMContextRef c, const char *name, target_arch arch)
{
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext(name, c);
    LLVMSetTarget(m, triple);
    strbuf err;
    sb_init(&err);
    LLVMTargetMachineRef tm = make_tm(arch, &err);
    sb_free(&err);
    if (tm) {
        LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
        char *dl = LLVMCopyStringRepOfTargetData(td);
        LLVMSetDataLayout(m, dl);
        LLVMDisposeMessage(dl);
        LLVMDisposeTargetData(td);
        LLVMDisposeTargetMachine(tm);
    }
    return m;
}

static bool take_error(LLVMErrorRef e, const char *what, strbuf *err)
{
    if (!e)
        return true;
    char *msg = LLVMGetErrorMessage(e);
    sb_printf(err, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return false;
}

nvptx_status nvptx_module_finish(LLVMModuleRef m, LLVMBuilderRef b, target_arch arch, nvptx_status st, strbuf *ptx,
                                 strbuf *err)
{
    if (!st && !nvptx_module_to_ptx(m, arch, ptx, err))
        st = NVPTX_INTERNAL;
    LLVMContextRef c = LLVMGetModuleContext(m);
    if (b)
        LLVMDisposeBuilder(b);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
    return st;
}

bool nvptx_module_to_ptx(LLVMModuleRef m, target_arch arch, strbuf *ptx, strbuf *err)
{
    char *msg = NULL;
    if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
        sb_printf(err, "internal error: invalid LLVM IR for NVPTX: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return false;
    }
    LLVMDisposeMessage(msg);
    LLVMTargetMachineRef tm = make_tm(arch, err);
    if (!tm)
        return false;
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    /* ATTNC_NVPTX_PIPELINE: another pass pipeline, for experiments and for
     * the test that compares ours with default<O3>. */
    const char *pl = getenv("ATTNC_NVPTX_PIPELINE");
    bool ok =
        take_error(LLVMRunPasses(m, pl && *pl ? pl : nvptx_pipeline(), tm, opts), "LLVM optimisation failed", err);
    LLVMDisposePassBuilderOptions(opts);
    LLVMMemoryBufferRef buf = NULL;
    if (ok && LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMAssemblyFile, &msg, &buf)) {
        sb_printf(err, "PTX emission failed: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        ok = false;
    }
    if (ok) {
        sb_append(ptx, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
        LLVMDisposeMemoryBuffer(buf);
        ok = !ptx->failed;
        if (!ok)
            sb_puts(err, "out of memory");
    }
    LLVMDisposeTargetMachine(tm);
    return ok;
}
