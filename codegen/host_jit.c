/* host_jit.c — module setup, optimisation and LLJIT compilation for the CPU
 * backend; see host_jit.h. Every LLVMErrorRef is consumed and every LLVM
 * message disposed on all paths. */
#include "host_jit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdlib.h>
#include <string.h>

#include "llvm_init.h"

/* Appends the error's text to err and consumes the error. */
static bool take_error(LLVMErrorRef e, const char *what, strbuf *err)
{
    if (!e)
        return true;
    char *msg = LLVMGetErrorMessage(e);
    sb_printf(err, "%s: %s", what, msg ? msg : "unknown LLVM error");
    LLVMDisposeErrorMessage(msg);
    return false;
}

bool host_module_create(host_module *hm, const char *name, strbuf *err)
{
    llvm_init_targets();
    memset(hm, 0, sizeof *hm);
    hm->tsc = LLVMOrcCreateNewThreadSafeContext();
    if (!hm->tsc) {
        sb_puts(err, "LLVM: cannot create a thread-safe context");
        return false;
    }
    hm->ctx = LLVMOrcThreadSafeContextGetContext(hm->tsc);
    hm->module = LLVMModuleCreateWithNameInContext(name, hm->ctx);
    return true;
}

void host_module_dispose(host_module *hm)
{
    if (hm->module)
        LLVMDisposeModule(hm->module);
    if (hm->tsc)
        LLVMOrcDisposeThreadSafeContext(hm->tsc);
    memset(hm, 0, sizeof *hm);
}

/* A target machine for the host CPU with its features (AVX ...), the same
 * one LLJIT's detectHost picks. */
static LLVMTargetMachineRef host_target_machine(int opt_level, strbuf *err)
{
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    LLVMTargetRef target = NULL;
    char *msg = NULL;
    LLVMTargetMachineRef tm = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
        sb_printf(err, "LLVM: no host target for %s: %s", triple, msg ? msg : "");
    } else {
        LLVMCodeGenOptLevel lvl = opt_level >= 3   ? LLVMCodeGenLevelAggressive
                                  : opt_level == 0 ? LLVMCodeGenLevelNone
                                                   : LLVMCodeGenLevelDefault;
        tm = LLVMCreateTargetMachine(target, triple, cpu, features, lvl, LLVMRelocDefault,
                                     LLVMCodeModelJITDefault);
        if (!tm)
            sb_puts(err, "LLVM: cannot create the host target machine");
    }
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return tm;
}

static bool verify_module(LLVMModuleRef m, strbuf *err)
{
    char *msg = NULL;
    bool bad = LLVMVerifyModule(m, LLVMReturnStatusAction, &msg);
    if (bad)
        sb_printf(err, "internal error: generated host IR is invalid: %s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return !bad;
}

bool host_module_finish(host_module *hm, int opt_level, strbuf *err)
{
    if (!verify_module(hm->module, err))
        return false;
    LLVMTargetMachineRef tm = host_target_machine(opt_level, err);
    if (!tm)
        return false;
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(hm->module, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(hm->module, td);
    LLVMDisposeTargetData(td);
    bool ok = true;
    if (opt_level > 0) {
        static const char *pipelines[] = {"default<O0>", "default<O1>", "default<O2>", "default<O3>"};
        LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
        LLVMErrorRef e = LLVMRunPasses(hm->module, pipelines[opt_level > 3 ? 3 : opt_level], tm, opts);
        ok = take_error(e, "LLVM optimisation", err);
        LLVMDisposePassBuilderOptions(opts);
    }
    LLVMDisposeTargetMachine(tm);
    return ok;
}

char *host_module_print(const host_module *hm)
{
    char *text = LLVMPrintModuleToString(hm->module);
    char *copy = text ? strdup(text) : NULL;
    LLVMDisposeMessage(text);
    return copy;
}

/* Lets JIT'd code call libm/libc functions of this process. */
static bool add_process_symbols(LLVMOrcLLJITRef jit, strbuf *err)
{
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    char prefix = LLVMOrcLLJITGetGlobalPrefix(jit);
    LLVMErrorRef e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, prefix, NULL, NULL);
    if (!take_error(e, "LLVM ORC: process symbols", err))
        return false;
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen);
    return true;
}

bool host_jit_create(LLVMOrcLLJITRef *jit, host_module *hm, const char *symbol, void **addr, strbuf *err)
{
    *jit = NULL;
    *addr = NULL;
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(hm->module, hm->tsc);
    LLVMOrcDisposeThreadSafeContext(hm->tsc); /* the module keeps its context alive */
    memset(hm, 0, sizeof *hm);
    LLVMOrcLLJITRef j = NULL;
    if (!take_error(LLVMOrcCreateLLJIT(&j, NULL), "LLVM ORC: cannot create LLJIT", err)) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        return false;
    }
    if (!add_process_symbols(j, err)) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        host_jit_destroy(j);
        return false;
    }
    LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j, LLVMOrcLLJITGetMainJITDylib(j), tsm);
    if (!take_error(e, "LLVM ORC: adding the module", err)) {
        host_jit_destroy(j); /* the module was consumed either way */
        return false;
    }
    LLVMOrcExecutorAddress a = 0;
    if (!take_error(LLVMOrcLLJITLookup(j, &a, symbol), "LLVM ORC: compiling the kernel", err) || !a) {
        host_jit_destroy(j);
        return false;
    }
    *jit = j;
    *addr = (void *)(uintptr_t)a;
    return true;
}

void host_jit_destroy(LLVMOrcLLJITRef jit)
{
    if (!jit)
        return;
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(jit);
    if (e)
        LLVMConsumeError(e);
}
