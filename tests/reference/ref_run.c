/* ref_run.c — the reference's entry point: checks the problem and picks the
 * family. */
#include "ref_internal.h"

bool ref_run(const ref_problem *p, double *o, double *lse, const char **err)
{
    static const char *dummy;
    if (!err)
        err = &dummy;
    if (!p || !p->r || !o || !p->q.data || !p->k.data || !p->v.data) {
        *err = "reference: missing recipe, tensor or output";
        return false;
    }
    for (int i = SZ_BATCH; i <= SZ_KV_TOKENS; i++)
        if (p->sizes[i] < 0) {
            *err = "reference: negative size";
            return false;
        }
    if (p->r->family == FAMILY_LINEAR) {
        if (lse)
            for (int64_t i = 0; i < p->sizes[SZ_BATCH] * p->sizes[SZ_HEADS] * p->sizes[SZ_TOKENS]; i++)
                lse[i] = 0; /* linear attention has no LSE */
        return ref_linear(p, o, err);
    }
    return ref_softmax(p, o, lse, err);
}
