/* target_info.c — the per-arch table of target_info.h. */
#include "target_info.h"

static const target_info rows[] = {
    {TARGET_HOST, NULL, 0, 0, 0, 0, 0, 0, false},
    {TARGET_SM80, "sm_80", 166912, 48 * 1024, 65536, 255, 1024, TARGET_MMA_SYNC, false},
    {TARGET_SM90A, "sm_90a", 232448, 48 * 1024, 65536, 255, 1024, TARGET_MMA_SYNC | TARGET_MMA_WGMMA, true},
};

const target_info *target_info_of(target_arch arch)
{
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].arch == arch)
            return &rows[i];
    return &rows[0];
}

int target_smem_block_max(void)
{
    int m = 0;
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].smem_block_optin > m)
            m = rows[i].smem_block_optin;
    return m;
}

int target_block_threads_max(void)
{
    int m = 0;
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].max_threads > m)
            m = rows[i].max_threads;
    return m;
}
