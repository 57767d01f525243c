/* ADD and MUL (int8, TFLite's general rescaling paths) with numpy broadcasting, and a plain copy. */
#include <string.h>

#include "benchd_kernels.h"

static int8_t add_one(const bd_binary_params *p, int32_t a, int32_t b) {
    const int32_t sa = (int32_t)((uint32_t)(a + p->in1_offset) << p->left_shift);
    const int32_t sb = (int32_t)((uint32_t)(b + p->in2_offset) << p->left_shift);
    const int32_t ra = bd_requant(sa, p->in1_mult, p->in1_shift);
    const int32_t rb = bd_requant(sb, p->in2_mult, p->in2_shift);
    return bd_clamp8(bd_requant(ra + rb, p->out_mult, p->out_shift) + p->out_zp, p->act_min, p->act_max);
}

static int8_t mul_one(const bd_binary_params *p, int32_t a, int32_t b) {
    const int32_t product = (a + p->in1_offset) * (b + p->in2_offset);
    return bd_clamp8(bd_requant(product, p->out_mult, p->out_shift) + p->out_zp, p->act_min, p->act_max);
}

typedef int8_t (*binary_fn)(const bd_binary_params *, int32_t, int32_t);

static void binary(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, binary_fn fn) {
    int32_t i0, i1, i2, i3;
    if (p->flat) {
        const int32_t n = p->dims[0] * p->dims[1] * p->dims[2] * p->dims[3];
        for (i0 = 0; i0 < n; i0++) {
            out[i0] = fn(p, a[i0], b[i0]);
        }
        return;
    }
    for (i0 = 0; i0 < p->dims[0]; i0++) {
        for (i1 = 0; i1 < p->dims[1]; i1++) {
            for (i2 = 0; i2 < p->dims[2]; i2++) {
                const int8_t *pa = a + i0 * p->stride1[0] + i1 * p->stride1[1] + i2 * p->stride1[2];
                const int8_t *pb = b + i0 * p->stride2[0] + i1 * p->stride2[1] + i2 * p->stride2[2];
                for (i3 = 0; i3 < p->dims[3]; i3++) {
                    *out++ = fn(p, pa[i3 * p->stride1[3]], pb[i3 * p->stride2[3]]);
                }
            }
        }
    }
}

void bd_add(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) {
    binary(p, a, b, out, add_one);
}

void bd_mul(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) {
    binary(p, a, b, out, mul_one);
}

void bd_copy(const int8_t *in, int8_t *out, int32_t size) {
    memmove(out, in, (size_t)size);
}
