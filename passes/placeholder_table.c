/* placeholder_table.c — replaced by pipeline.c with the tile IR work. */
#include "pass_table.h"

const pass_info *pass_table_placeholder(void)
{
    return NULL;
}
