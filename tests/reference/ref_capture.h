/*
 * ref_capture.h — host "device" memory for ref_check_kernel that keeps a copy
 * of the outputs it downloads (o, then lse), so two launches of the same
 * kernel on the same inputs can be compared byte for byte (e.g. with
 * different thread counts).
 */
#ifndef ATTNC_REF_CAPTURE_H
#define ATTNC_REF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "ref_check.h"

typedef struct ref_capture {
    void *out[2];
    size_t bytes[2];
    int n; /* outputs captured so far (at most 2) */
} ref_capture;

/* Memory operations whose downloads are captured into c. */
ref_mem_ops ref_capture_ops(ref_capture *c);
/* Every captured output identical in size and bytes. */
bool ref_capture_same(const ref_capture *a, const ref_capture *b);
/* Frees the copies and empties c. */
void ref_capture_clear(ref_capture *c);

#endif
