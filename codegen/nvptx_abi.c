/* nvptx_abi.c — declare a kernel with the shared launch ABI; see nvptx_abi.h. */
#include "nvptx_abi.h"

enum { ABI_TENSORS = 5, ABI_STRIDES = 19 }; /* 4 strides for q, k, v, o; 3 for lse */

LLVMTypeRef nvptx_abi_param_type(nv_ctx *nv, const recipe_param *rp)
{
    bool flt = rp->dtype == DT_F32 || rp->dtype == DT_BF16 || rp->dtype == DT_F16;
    return rp->ndim > 0 ? nv->pg : flt ? nv->f32 : nv->i64;
}

static void declare(nv_ctx *nv, const recipe *r, const char *name, int ntmaps, nvptx_abi_args *out)
{
    LLVMTypeRef tys[ABI_TENSORS + ABI_STRIDES + SZ_MAX + NVPTX_MAX_PARAMS + 3];
    int n = 0;
    for (int i = 0; i < ABI_TENSORS; i++)
        tys[n++] = nv->pg;
    for (int i = 0; i < ABI_STRIDES; i++)
        tys[n++] = nv->i64;
    for (int i = 0; i < SZ_MAX; i++)
        tys[n++] = nv->i32;
    for (int i = 0; r && i < r->nparams; i++) {
        tys[n++] = nvptx_abi_param_type(nv, &r->params[i]);
    }
    int first_tmap = n;
    for (int i = 0; i < ntmaps; i++)
        tys[n++] = LLVMPointerTypeInContext(nv->c, 0);
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(nv->c), tys, (unsigned)n, false);
    out->fn = LLVMAddFunction(nv->m, name, fty);
    unsigned k = 0;
    for (int i = 0; i < ABI_TENSORS; i++)
        out->tens[i] = LLVMGetParam(out->fn, k++);
    for (int t = 0; t < ABI_TENSORS; t++)
        for (int i = 0; i < (t == ABI_TENSORS - 1 ? 3 : 4); i++)
            out->stride[t][i] = LLVMGetParam(out->fn, k++);
    for (int i = 0; i < SZ_MAX; i++)
        out->size[i] = LLVMGetParam(out->fn, k++);
    for (int i = 0; r && i < r->nparams; i++)
        out->param[i] = LLVMGetParam(out->fn, k++);
    if (!ntmaps)
        return;
    LLVMTypeRef map = LLVMArrayType(nv->i64, 16);
    LLVMMetadataRef idx[3];
    for (int i = 0; i < ntmaps; i++) {
        unsigned at = (unsigned)(first_tmap + i + 1); /* attribute index: 1-based */
        LLVMAddAttributeAtIndex(out->fn, at,
                                LLVMCreateTypeAttribute(nv->c, LLVMGetEnumAttributeKindForName("byval", 5), map));
        LLVMAddAttributeAtIndex(out->fn, at, LLVMCreateEnumAttribute(nv->c, LLVMGetEnumAttributeKindForName("align", 5), 64));
        out->tmap[i] = LLVMGetParam(out->fn, (unsigned)(first_tmap + i));
        idx[i] = LLVMValueAsMetadata(nv_i32(nv, (long long)at));
    }
    LLVMMetadataRef md[3] = {LLVMValueAsMetadata(out->fn), LLVMMDStringInContext2(nv->c, "grid_constant", 13),
                             LLVMMDNodeInContext2(nv->c, idx, (size_t)ntmaps)};
    LLVMAddNamedMetadataOperand(nv->m, "nvvm.annotations",
                                LLVMMetadataAsValue(nv->c, LLVMMDNodeInContext2(nv->c, md, 3)));
}

void nvptx_abi_declare(nv_ctx *nv, const recipe *r, const char *name, nvptx_abi_args *out)
{
    declare(nv, r, name, 0, out);
}

void nvptx_abi_declare_tma(nv_ctx *nv, const recipe *r, const char *name, nvptx_abi_args *out)
{
    declare(nv, r, name, 3, out);
}
