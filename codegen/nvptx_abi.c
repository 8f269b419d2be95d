/* nvptx_abi.c — declare a kernel with the shared launch ABI, by the role
 * table of kernel_abi.h; see nvptx_abi.h. */
#include "nvptx_abi.h"

kabi_type nvptx_abi_param_kind(const tir_param *rp)
{
    return kabi_param_type(rp->ndim == 0, rp->dtype == DT_F32 || rp->dtype == DT_BF16 || rp->dtype == DT_F16);
}

void nvptx_abi_describe_params(const tir_kernel *k, nvptx_kernel_info *info)
{
    info->nparams = k ? k->nparams : 0;
    for (int i = 0; i < info->nparams && i < NVPTX_MAX_PARAMS; i++) {
        kabi_type t = nvptx_abi_param_kind(&k->params[i]);
        info->param_scalar[i] = t != KABI_PTR;
        info->param_float[i] = t == KABI_F32;
    }
}

static LLVMTypeRef llvm_type(nv_ctx *nv, kabi_type t)
{
    switch (t) {
    case KABI_PTR: return nv->pg;
    case KABI_I64: return nv->i64;
    case KABI_I32: return nv->i32;
    case KABI_F32: return nv->f32;
    case KABI_MAP: break;
    }
    return LLVMPointerTypeInContext(nv->c, 0); /* a map's generic pointer, byval */
}

LLVMTypeRef nvptx_abi_param_type(nv_ctx *nv, const tir_param *rp)
{
    return llvm_type(nv, nvptx_abi_param_kind(rp));
}

/* A tensor map param: byval [16 x i64], 64-byte aligned; its 1-based
 * attribute index goes into the grid_constant annotation. */
static LLVMMetadataRef mark_map(nv_ctx *nv, LLVMValueRef fn, unsigned at)
{
    LLVMTypeRef map = LLVMArrayType(nv->i64, 16);
    LLVMAddAttributeAtIndex(fn, at, LLVMCreateTypeAttribute(nv->c, LLVMGetEnumAttributeKindForName("byval", 5), map));
    LLVMAddAttributeAtIndex(fn, at, LLVMCreateEnumAttribute(nv->c, LLVMGetEnumAttributeKindForName("align", 5), 64));
    return LLVMValueAsMetadata(nv_i32(nv, (long long)at));
}

/* Binds the entry's params to out's fields; k: the next param's index. */
static void bind(nv_ctx *nv, const kabi_entry *e, unsigned *k, nvptx_abi_args *out, LLVMMetadataRef *maps, int *nmaps)
{
    for (int i = 0; i < e->count; i++, (*k)++) {
        LLVMValueRef v = LLVMGetParam(out->fn, *k);
        switch (e->role) {
        case KABI_TENSOR: out->tens[e->which] = v; break;
        case KABI_STRIDES: out->stride[e->which][i] = v; break;
        case KABI_SIZES: out->size[i] = v; break;
        case KABI_PARAM: out->param[e->which] = v; break;
        case KABI_TMAP:
            out->tmap[*nmaps] = v; /* the maps in table order */
            maps[(*nmaps)++] = mark_map(nv, out->fn, *k + 1);
            break;
        case KABI_WS: out->ws[e->which] = v; break;
        case KABI_DPARAM: out->dparam[e->which] = v; break;
        case KABI_DSLICES: out->dslices[e->which] = v; break;
        case KABI_DMODE: out->dmode[e->which] = v; break;
        }
    }
}

void nvptx_abi_declare_table(nv_ctx *nv, const kernel_abi *abi, const char *name, nvptx_abi_args *out)
{
    LLVMTypeRef tys[KABI_MAX_ARGS];
    unsigned n = 0;
    for (int i = 0; i < abi->n; i++)
        for (int j = 0; j < abi->e[i].count; j++)
            tys[n++] = llvm_type(nv, abi->e[i].type);
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(nv->c), tys, n, false);
    out->fn = LLVMAddFunction(nv->m, name, fty);
    LLVMMetadataRef maps[KABI_NMAPS];
    int nmaps = 0;
    unsigned k = 0;
    for (int i = 0; i < abi->n; i++)
        bind(nv, &abi->e[i], &k, out, maps, &nmaps);
    if (!nmaps)
        return;
    LLVMMetadataRef md[3] = {LLVMValueAsMetadata(out->fn), LLVMMDStringInContext2(nv->c, "grid_constant", 13),
                             LLVMMDNodeInContext2(nv->c, maps, (size_t)nmaps)};
    LLVMAddNamedMetadataOperand(nv->m, "nvvm.annotations",
                                LLVMMetadataAsValue(nv->c, LLVMMDNodeInContext2(nv->c, md, 3)));
}

static void declare(nv_ctx *nv, const tir_kernel *kn, const char *name, bool tma, bool o_tma, nvptx_abi_args *out)
{
    kabi_type kinds[NVPTX_MAX_PARAMS];
    int nparams = kn ? kn->nparams : 0;
    for (int i = 0; i < nparams && i < NVPTX_MAX_PARAMS; i++)
        kinds[i] = nvptx_abi_param_kind(&kn->params[i]);
    kernel_abi abi;
    kernel_abi_forward(&abi, nparams, kinds, tma, o_tma);
    nvptx_abi_declare_table(nv, &abi, name, out);
}

void nvptx_abi_declare(nv_ctx *nv, const tir_kernel *k, const char *name, nvptx_abi_args *out)
{
    declare(nv, k, name, false, false, out);
}

void nvptx_abi_declare_tma(nv_ctx *nv, const tir_kernel *k, const char *name, bool o_tma, nvptx_abi_args *out)
{
    declare(nv, k, name, true, o_tma, out);
}
