/* SOFTMAX, int8 in and out, as TFLite's reference kernel computes it (gemmlowp fixed point).
 *
 * exp() of the scaled difference max - x depends on that difference only (0..255), so the generator
 * evaluates it, bit-exactly, into exp_table (Q0.31; 0 where TFLite skips a difference below diff_min).
 * Here: the row's sum in Q12.19, its reciprocal by Newton-Raphson in Q2.29, and the rounding shifts. */
#include "benchd_kernels.h"

/* (a + b) / 2 rounded half away from zero, without overflow. */
static int32_t rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps from 48/17 - 32/17 d. */
static int32_t one_over_one_plus_x(int32_t a) {
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    int32_t x = (int32_t)((uint32_t)1515870810 + (uint32_t)bd_high_mul(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t one_minus = (int32_t)(((uint32_t)1 << 29) - (uint32_t)bd_high_mul(half_denominator, x));
        x = (int32_t)((uint32_t)x + (uint32_t)bd_shift_left_saturating(bd_high_mul(x, one_minus), 2));
    }
    return bd_shift_left_saturating(x, 1);
}

void bd_softmax(const bd_softmax_params *p, const int8_t *in, int8_t *out) {
    int32_t i, j;
    for (i = 0; i < p->rows; i++, in += p->depth, out += p->depth) {
        int32_t max = -128;
        int32_t sum = 0;
        int32_t headroom, exponent, scale;
        for (j = 0; j < p->depth; j++) {
            max = in[j] > max ? in[j] : max;
        }
        for (j = 0; j < p->depth; j++) {
            sum = (int32_t)((uint32_t)sum + (uint32_t)bd_div_pot(p->exp_table[max - in[j]], 12));
        }
        /* GetReciprocal(sum, 12 integer bits): sum = 2^(12 - headroom) * (1 + a) */
        headroom = bd_leading_zeros((uint32_t)sum);
        scale = one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        exponent = 12 - headroom + 31 - 8;
        for (j = 0; j < p->depth; j++) {
            const int32_t e = p->exp_table[max - in[j]];
            out[j] = bd_clamp8(bd_div_pot(bd_high_mul(scale, e), exponent) - 128, -128, 127);
        }
    }
}
