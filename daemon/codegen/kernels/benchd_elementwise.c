/* The binary operators (int8, TFLite's reference arithmetic) with numpy broadcasting, and a plain copy.
 * ADD, SUB and SQUARED_DIFFERENCE bring both inputs onto a common scale after a left shift (TFLite's
 * general rescaling path; the generator tabulates that per input value); MUL and PRELU requantize the
 * product; MAXIMUM/MINIMUM compare raw values. */
#include <string.h>

#include "benchd_kernels.h"

static int8_t out8(const bd_binary_params *p, int32_t raw) {
    return bd_clamp8(bd_requant(raw, p->out_mult, p->out_shift) + p->out_zp, p->act_min, p->act_max);
}

static int8_t add_one(const bd_binary_params *p, int32_t a, int32_t b) {
    return out8(p, p->rescale1[a + 128] + p->rescale2[b + 128]);
}

static int8_t sub_one(const bd_binary_params *p, int32_t a, int32_t b) {
    return out8(p, p->rescale1[a + 128] - p->rescale2[b + 128]);
}

static int8_t squared_difference_one(const bd_binary_params *p, int32_t a, int32_t b) {
    const int32_t d = p->rescale1[a + 128] - p->rescale2[b + 128];  /* |d| <= 255 << 7: d * d fits */
    return out8(p, d * d);
}

static int8_t mul_one(const bd_binary_params *p, int32_t a, int32_t b) {
    return out8(p, (a + p->in1_offset) * (b + p->in2_offset));
}

static int8_t maximum_one(const bd_binary_params *p, int32_t a, int32_t b) {
    (void)p;
    return (int8_t)(a > b ? a : b);
}

static int8_t minimum_one(const bd_binary_params *p, int32_t a, int32_t b) {
    (void)p;
    return (int8_t)(a < b ? a : b);
}

/* PRELU: b is alpha; inputs >= 0 pass through rescaled, the others are multiplied by alpha. */
static int8_t prelu_one(const bd_binary_params *p, int32_t a, int32_t b) {
    const int32_t x = a + p->in1_offset;
    const int32_t v = x >= 0 ? bd_requant(x, p->out_mult, p->out_shift)
                             : bd_requant(x * (b + p->in2_offset), p->out_mult2, p->out_shift2);
    return bd_clamp8(v + p->out_zp, p->act_min, p->act_max);
}

typedef int8_t (*binary_fn)(const bd_binary_params *, int32_t, int32_t);

/* Inlined into each operator, so that `fn` is a direct call the compiler inlines in turn (an indirect
 * call per value costs more than MAXIMUM's arithmetic). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void binary(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out,
                          binary_fn fn) {
    const int32_t s1 = p->stride1[3], s2 = p->stride2[3], n3 = p->dims[3];
    int32_t i0, i1, i2, i3;
    if (p->flat) {
        const int32_t n = p->dims[0] * p->dims[1] * p->dims[2] * n3;
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
                for (i3 = 0; i3 < n3; i3++, pa += s1, pb += s2) {
                    *out++ = fn(p, *pa, *pb);
                }
            }
        }
    }
}

/* Each operator: two activations, or one activation and the constant operand (same loop). */
#define BD_DEFINE_BINARY(name, fn)                                                                     \
    void name(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out) {             \
        binary(p, a, b, out, fn);                                                                     \
    }                                                                                                 \
    void name##_c(const bd_binary_params *p, const int8_t *x, int8_t *out) {                           \
        name(p, p->const_first ? p->constant : x, p->const_first ? x : p->constant, out);             \
    }

BD_DEFINE_BINARY(bd_add, add_one)
BD_DEFINE_BINARY(bd_sub, sub_one)
BD_DEFINE_BINARY(bd_mul, mul_one)
BD_DEFINE_BINARY(bd_squared_difference, squared_difference_one)
BD_DEFINE_BINARY(bd_maximum, maximum_one)
BD_DEFINE_BINARY(bd_minimum, minimum_one)
BD_DEFINE_BINARY(bd_prelu, prelu_one)

void bd_copy(const int8_t *in, int8_t *out, int32_t size) {
    memmove(out, in, (size_t)size);
}
