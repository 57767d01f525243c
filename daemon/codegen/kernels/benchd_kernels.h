/* benchd reference C backend: int8 kernels, bit-exact with TFLite's reference kernels.
 *
 * Every quantization constant (requantization multipliers and shifts, the input zero point times the
 * weight sums folded into the bias, clamps, padding, shapes) is computed by the generator and handed in
 * as a const parameter struct, so a kernel only does integer arithmetic. C99, libc only, no malloc. */
#ifndef BENCHD_KERNELS_H_
#define BENCHD_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

/* -- fixed-point arithmetic (the gemmlowp/TFLite definitions, written for C99) ------------------ */

/* The rounding of SaturatingRoundingDoublingHighMul: gemmlowp adds 2^30 (1 - 2^30 below zero) and divides
 * by 2^31 truncating toward zero, which equals floor((a * b + 2^30) / 2^31) for every product; with the
 * multiplier doubled (b2 = 2b < 2^32, so b >= 0) that is the high word of a * b2 plus bit 31 of its low
 * word: mulhsu, mul, srli, add on RV32IM. */
static inline int32_t bd_high_mul_pos(int32_t a, uint32_t b2) {
    const int32_t high = (int32_t)(((int64_t)a * (int64_t)b2) >> 32);
    return (int32_t)((uint32_t)high + (((uint32_t)a * b2) >> 31));
}

/* round(a * b / 2^31), saturating the one overflowing case (INT32_MIN * INT32_MIN). */
static inline int32_t bd_high_mul(int32_t a, int32_t b) {
    if (b >= 0) {
        return bd_high_mul_pos(a, (uint32_t)b << 1);
    }
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    /* floor((a * b + 2^30) / 2^31) as an arithmetic shift of the 64-bit sum */
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
static inline int32_t bd_div_pot(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31), TFLite's MultiplyByQuantizedMultiplier (double rounding). Exact for
 * every int32 x and multiplier; the kernels' hot loops use bd_requant_fast instead. The common case
 * (a right shift r, a multiplier >= 0) rounds the high product h by floor((h - (h < 0) + 2^(r-1)) / 2^r)
 * in 32 bits; the sum can only wrap upward, which leaves it below h, and then the definition decides. */
static inline int32_t bd_requant(int32_t x, int32_t multiplier, int32_t shift) {
    int32_t left, right;
    if (shift < 0 && multiplier >= 0) {
        const int32_t h = bd_high_mul_pos(x, (uint32_t)multiplier << 1);
        const int32_t t = (int32_t)((uint32_t)h + (uint32_t)(h >> 31) + ((uint32_t)1 << (-shift - 1)));
        if (t >= h) {
            return t >> -shift;
        }
    }
    left = shift > 0 ? shift : 0;
    right = shift > 0 ? 0 : -shift;
    return bd_div_pot(bd_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

/* The same product with one rounding, round(x * multiplier / 2^(31 - shift)): TFLite's int8
 * FULLY_CONNECTED rounds this way (measured against the interpreter), CONV_2D the way above.
 * With shift <= -2 the rounding term 2^(30 - shift) is a multiple of 2^32, so only the product's high
 * word (mulh) takes part: the low word cannot carry into the result. */
static inline int32_t bd_requant_single(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t total = 31 - shift;
    if (total >= 33) {
        const int32_t high = (int32_t)(((int64_t)x * multiplier) >> 32);
        return (high + ((int32_t)1 << (total - 33))) >> (total - 32);
    }
    return (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << (total - 1))) >> total);
}

/* bd_requant(acc, multiplier, -r) + out_zp in 8 RV32 instructions, from constants the generator folds
 * per channel (daemon/codegen/requant.py): m2 = 2 * multiplier, r = -shift >= 1, k = 2^(r-1) + out_zp * 2^r.
 * RoundingDivideByPOT(h, r) is floor((h + 2^(r-1) - (h < 0)) / 2^r), and h < 0 exactly when acc < 0
 * matters (h = 0 rounds to 0 either way); the sum h - (acc < 0) + k must not overflow, which the
 * generator proves from the range the accumulator can take before it picks this form. */
static inline int32_t bd_requant_fast(int32_t acc, uint32_t m2, int32_t r, int32_t k) {
    const uint32_t sum = (uint32_t)bd_high_mul_pos(acc, m2) + (uint32_t)(acc >> 31) + (uint32_t)k;
    return (int32_t)sum >> r;
}

/* bd_requant_single(acc, multiplier, shift) + out_zp in 3 instructions (mulh, add, sra) for shift <= -2:
 * s = -shift - 1 >= 1 and k = 2^(s-1) + out_zp * 2^s, under the same no-overflow proof. */
static inline int32_t bd_requant_single_fast(int32_t acc, int32_t multiplier, int32_t s, int32_t k) {
    const int32_t high = (int32_t)(((int64_t)acc * multiplier) >> 32);
    return (int32_t)((uint32_t)high + (uint32_t)k) >> s;
}

/* SaturatingRoundingMultiplyByPOT for a positive exponent: a left shift that saturates. */
static inline int32_t bd_shift_left_saturating(int32_t x, int32_t exponent) {
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* Leading zero bits of x (32 for 0), for the fixed-point normalizations of SOFTMAX and LSTM. */
static inline int32_t bd_leading_zeros(uint32_t x) {
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

static inline int8_t bd_clamp8(int32_t v, int32_t lo, int32_t hi) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

/* -- matrix-vector product, shared by CONV_2D (per output pixel) and FULLY_CONNECTED (per row) ---- */
typedef struct {
    int32_t depth;          /* K: values in one input vector */
    int32_t units;          /* N: outputs */
    int32_t out_zp, act_min, act_max;
    int32_t single_round;   /* 1: bd_requant_single (FULLY_CONNECTED), 0: bd_requant (CONV_2D) */
    const int8_t *weights;  /* packed: blocks of 8 units ([K][8]), a block of 4 if N%8 >= 4, the rest [K] each */
    const int32_t *bias;    /* bias + (-input zero point) * sum of the unit's weights */
    const int32_t *mult;    /* per unit (a per-tensor scale is repeated); null when rq is set */
    const int8_t *shift;
    /* requantization in the fast forms (requant.py proved them exact for this layer), the output zero point
     * folded in: per unit {m2, k} and r for bd_requant_fast, or {multiplier, k} and s for
     * bd_requant_single_fast; null: mult and shift with the general forms */
    const int32_t *rq;
    const int8_t *rq_shift;
} bd_matvec_params;

/* -- CONV_2D --------------------------------------------------------------------------------------- */
typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t in_zp;          /* value of padded taps: with the folded bias they contribute exactly 0 */
    int32_t gather;         /* 0 for a 1x1 unpadded kernel: the input pixel is the patch */
    bd_matvec_params mv;    /* depth = k_h * k_w * in_c, units = output channels */
    /* The bias for patches cut by the image's edge, read in place without their padded taps: the folded bias
     * plus in_zp * (the weights of the taps cut off), [output row or column cut][units]; null: gathered. */
    const int32_t *vbias;   /* rows cut at the top or bottom (indexed top rows first, then bottom rows) */
    const int32_t *hbias;   /* columns cut at the left or right */
} bd_conv_params;

/* scratch: k_h * k_w * in_c bytes (unused when gather is 0) */
void bd_conv2d(const bd_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* -- CONV_2D followed by AVERAGE/MAX_POOL_2D over windows that do not overlap, fused: the convolution's
 * output is never stored, only the few pixels under one pooling window at a time (bit-exact: the pool
 * sees the same int8 values). ------------------------------------------------------------------------ */
typedef struct {
    bd_conv_params conv;
    int32_t average;        /* 1: AVERAGE_POOL_2D, 0: MAX_POOL_2D */
    int32_t max_first;      /* MAX_POOL_2D over the int32 accumulators, then one requantization (monotonic) */
    int32_t out_h, out_w, f_h, f_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} bd_conv_pool_params;

/* scratch: f_h * f_w * out_c bytes, then the convolution's gather buffer */
void bd_conv2d_pool(const bd_conv_pool_params *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* -- FULLY_CONNECTED --------------------------------------------------------------------------------- */
typedef struct {
    int32_t batches;
    bd_matvec_params mv;
} bd_fc_params;

void bd_fully_connected(const bd_fc_params *p, const int8_t *in, int8_t *out);

/* -- DEPTHWISE_CONV_2D (benchd_dwconv.c: any geometry; benchd_dwconv3x3.c: 3x3, stride 1 or 2 across;
 *    benchd_dwconv_mult.c: depth multiplier a multiple of 4) ------------------------------------------------
 * Output channel oc reads input channel oc / depth_mult. The general and 3x3 kernels run channel by
 * channel, so a channel's weights and requantization constants are loaded once and the image is walked
 * with a stride of in_c; the multiplier kernel runs pixel by pixel, four filters of a channel at a time. */
typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, depth_mult;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t in_zp, act_min, act_max;
    int32_t x_lo, x_hi;     /* output columns whose taps all lie inside the image across */
    int32_t fast;           /* 1: bd_requant_fast with m2 = q1, r = q2, k = q3 = bd_dw_k(r, out_zp);
                             * 0: bd_requant with multiplier q1 and shift q2, then + q3 = out_zp */
    int32_t out_zp;         /* bd_depthwise_conv3x3 (always fast): out_zp - act_min, its k counts from act_min */
    const int8_t *weights;  /* [out_c][k_h][k_w]; bd_depthwise_conv_mult4: [in_c][mult / 4][k_h][k_w][4] */
    const int32_t *chan;    /* per output channel: {bias (folded as for CONV_2D), q1 (m2 or the multiplier)};
                             * bd_depthwise_conv_mult4 (pixel by pixel): {bias, q1, q2, q3}, k stored */
    const int8_t *shift;    /* per output channel: q2 (r or TFLite's shift); null for bd_depthwise_conv_mult4 */
} bd_dwconv_params;

/* The fast form's k = 2^(r-1) + zp * 2^r (1 <= r <= 31), rebuilt per channel rather than stored (the
 * generator proved that it fits int32). */
static inline int32_t bd_dw_k(int32_t r, int32_t zp) {
    return (int32_t)(((uint32_t)1 << (r - 1)) + ((uint32_t)zp << r));
}

void bd_depthwise_conv2d(const bd_dwconv_params *p, const int8_t *in, int8_t *out);
void bd_depthwise_conv3x3(const bd_dwconv_params *p, const int8_t *in, int8_t *out);
void bd_depthwise_conv_mult4(const bd_dwconv_params *p, const int8_t *in, int8_t *out);  /* weights regrouped */

/* -- AVERAGE_POOL_2D / MAX_POOL_2D ------------------------------------------------------------------- */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t f_h, f_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} bd_pool_params;

void bd_average_pool(const bd_pool_params *p, const int8_t *in, int8_t *out);
void bd_max_pool(const bd_pool_params *p, const int8_t *in, int8_t *out);

/* -- SOFTMAX (TFLite's reference int8 kernel: gemmlowp fixed point, output scale 1/256, zp -128) -- */
typedef struct {
    int32_t rows, depth;
    const int32_t *exp_table;  /* [max - x]: exp of the scaled difference, Q0.31, 0 where skipped */
} bd_softmax_params;

void bd_softmax(const bd_softmax_params *p, const int8_t *in, int8_t *out);

/* -- binary operators with numpy broadcasting over up to 4 dimensions: ADD, SUB, MUL,
 * SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, PRELU (input, alpha). The `_c` variants take one activation:
 * the other operand is the constant array `constant` (input 1 when const_first is 1, else input 2). --- */
typedef struct {
    int32_t dims[4];        /* output shape, right-aligned to 4D */
    int32_t stride1[4];     /* element strides of input 1 per output dimension (0 = broadcast) */
    int32_t stride2[4];
    int32_t flat;           /* 1 when both inputs have the output's shape */
    int32_t in1_offset, in2_offset, out_zp, act_min, act_max;
    int32_t out_mult, out_shift;    /* PRELU: for inputs >= 0 */
    int32_t out_mult2, out_shift2;  /* PRELU: for inputs < 0 (times alpha) */
    /* ADD, SUB, SQUARED_DIFFERENCE: [x + 128] = input x on the common scale (TFLite's left shift, 20 or 7,
     * then the input's multiplier), tabulated by the generator */
    const int32_t *rescale1, *rescale2;
    const int8_t *constant; /* the constant operand of a `_c` kernel, else 0 */
    int32_t const_first;
} bd_binary_params;

void bd_add(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_add_c(const bd_binary_params *p, const int8_t *x, int8_t *out);
void bd_sub(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_sub_c(const bd_binary_params *p, const int8_t *x, int8_t *out);
void bd_mul(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_mul_c(const bd_binary_params *p, const int8_t *x, int8_t *out);
void bd_squared_difference(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_squared_difference_c(const bd_binary_params *p, const int8_t *x, int8_t *out);
void bd_maximum(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_maximum_c(const bd_binary_params *p, const int8_t *x, int8_t *out);
void bd_minimum(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_minimum_c(const bd_binary_params *p, const int8_t *x, int8_t *out);
void bd_prelu(const bd_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out);
void bd_prelu_c(const bd_binary_params *p, const int8_t *x, int8_t *out);

/* -- a RESHAPE between two buffers that cannot alias (model input to model output) ------------------ */
void bd_copy(const int8_t *in, int8_t *out, int32_t size);

/* -- the other operator families, one header each ----------------------------------------------------- */
#include "benchd_movement.h"   /* concatenation, split, pack, slice, pad, transpose, resize, mean/sum, batch matmul */
#include "benchd_activation.h" /* unary activations and the remaining binary operators */
#include "benchd_int16.h"      /* quantize/dequantize, int16 activations with int8 weights, SVDF, LSTM */

#endif
