/*
 * npy.h — reading NumPy .npy files (format versions 1.0, 2.0 and 3.0), for
 * `attnc run --param NAME=@FILE`: a little-endian (or one-byte) numeric
 * array in C order, e.g. from `np.save("doc.npy", ids.astype(np.int32))`.
 */
#ifndef ATTNC_CLI_NPY_H
#define ATTNC_CLI_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/strbuf.h"

enum { NPY_MAX_DIMS = 8 };

typedef struct npy_array {
    char kind; /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int elem_size; /* bytes: f 2/4/8, i/u 1/2/4/8, b 1 */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    size_t count;          /* elements: the product of shape (1 for shape ()) */
    const unsigned char *data; /* count * elem_size bytes inside the buffer */
} npy_array;

/* True when buf starts with the .npy magic ("\x93NUMPY"). */
bool npy_is_npy(const unsigned char *buf, size_t len);

/* Parses a whole .npy file held in buf. False with a one-line reason in err
 * (bad header, big-endian or Fortran order, a dtype other than a number,
 * data shorter or longer than the shape says). */
bool npy_parse(const unsigned char *buf, size_t len, npy_array *out, strbuf *err);

/* Element i as a double (kind 'f') or an exact integer (other kinds; for
 * 'u' values above INT64_MAX, *too_big is set). */
double npy_get_f(const npy_array *a, size_t i);
int64_t npy_get_i(const npy_array *a, size_t i, bool *too_big);

#endif
