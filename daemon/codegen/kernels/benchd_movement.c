/* Data movement as box copies (see bd_move_params): the generator folds every shape, axis, mask, permutation
 * and padding into strides and offsets, so one kernel serves CONCATENATION to TRANSPOSE. Pure copies: TFLite's
 * reference kernels move the int8 values unchanged too. */
#include <string.h>

#include "benchd_kernels.h"

static void copy_box(const int32_t *b, const int8_t *src, int8_t *dst) {
    const int32_t *n = b + 4, *si = b + 9, *so = b + 14;
    int32_t i0, i1, i2, i3, i4;
    src += b[2];
    dst += b[3];
    for (i0 = 0; i0 < n[0]; i0++) {
        for (i1 = 0; i1 < n[1]; i1++) {
            for (i2 = 0; i2 < n[2]; i2++) {
                for (i3 = 0; i3 < n[3]; i3++) {
                    const int8_t *s = src + i0 * si[0] + i1 * si[1] + i2 * si[2] + i3 * si[3];
                    int8_t *d = dst + i0 * so[0] + i1 * so[1] + i2 * so[2] + i3 * so[3];
                    if (si[4] == 1 && so[4] == 1) {
                        memcpy(d, s, (size_t)n[4]);
                    } else {
                        for (i4 = 0; i4 < n[4]; i4++) {
                            d[i4 * so[4]] = s[i4 * si[4]];
                        }
                    }
                }
            }
        }
    }
}

void bd_move(const bd_move_params *p, const int8_t *const *in, int8_t *const *out) {
    int32_t k;
    if (p->fill_size > 0) {
        memset(out[0], p->fill_value, (size_t)p->fill_size);
    }
    for (k = 0; k < p->boxes; k++) {
        const int32_t *b = p->plan + k * BD_BOX_INTS;
        copy_box(b, b[0] < 0 ? p->data : in[b[0]], out[b[1]]);
    }
}

void bd_resize_nearest(const bd_resize_params *p, const int8_t *in, int8_t *out) {
    const size_t c = (size_t)p->channels;
    int32_t b, y, x;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c;
        for (y = 0; y < p->out_h; y++) {
            const int8_t *row = image + (size_t)p->rows[y] * p->in_w * c;
            for (x = 0; x < p->out_w; x++) {
                memcpy(out, row + (size_t)p->cols[x] * c, c);
                out += c;
            }
        }
    }
}
