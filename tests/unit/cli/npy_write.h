/* npy_write.h — writes .npy files byte for byte as numpy.save does (format
 * 1.0: magic, version, little-endian header length, a dict literal padded
 * with spaces to a multiple of 64 bytes and ended by '\n', then the data),
 * so the tests need no NumPy. */
#ifndef ATTNC_TEST_NPY_WRITE_H
#define ATTNC_TEST_NPY_WRITE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* shape is the Python tuple text: "(1, 200)", "(2,)", "()". */
static bool npy_write(const char *path, const char *descr, bool fortran, const char *shape, const void *data,
                      size_t bytes)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                     fortran ? "True" : "False", shape);
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc((int)(hlen & 0xff), f);
    fputc((int)(hlen >> 8), f);
    fputs(dict, f);
    for (size_t i = 10 + (size_t)n; i < padded - 1; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    return fclose(f) == 0;
}

#endif
