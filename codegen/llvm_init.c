/* llvm_init.c — register LLVM targets exactly once (call_once), so any
 * number of threads may compile concurrently afterwards. */
#include "llvm_init.h"

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <stdio.h>
#include <threads.h>

static once_flag targets_once = ONCE_FLAG_INIT;

static void init_targets(void)
{
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
}

void llvm_init_targets(void)
{
    call_once(&targets_once, init_targets);
}

static char version_text[32];
static once_flag version_once = ONCE_FLAG_INIT;

static void fill_version(void)
{
    unsigned major, minor, patch;
    LLVMGetVersion(&major, &minor, &patch);
    snprintf(version_text, sizeof version_text, "%u.%u.%u", major, minor, patch);
}

const char *llvm_version_string(void)
{
    call_once(&version_once, fill_version);
    return version_text;
}
