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

/* round(a * b / 2^31), saturating the one overflowing case (INT32_MIN * INT32_MIN). */
static inline int32_t bd_high_mul(int32_t a, int32_t b) {
    int64_t ab;
    int64_t nudge;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* Division (truncating toward zero), not an arithmetic shift: that is what the reference does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
static inline int32_t bd_div_pot(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31), TFLite's MultiplyByQuantizedMultiplier (double rounding). */
static inline int32_t bd_requant(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return bd_div_pot(bd_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

/* The same product with one rounding, round(x * multiplier / 2^(31 - shift)): TFLite's int8
 * FULLY_CONNECTED rounds this way (measured against the interpreter), CONV_2D the way above. */
static inline int32_t bd_requant_single(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t total = 31 - shift;
    const int64_t round = (int64_t)1 << (total - 1);
    return (int32_t)(((int64_t)x * multiplier + round) >> total);
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
    const int8_t *weights;  /* packed: blocks of 4 units interleaved ([K][4]), then the rest as [N%4][K] */
    const int32_t *bias;    /* bias + (-input zero point) * sum of the unit's weights */
    const int32_t *mult;    /* per unit (a per-tensor scale is repeated) */
    const int8_t *shift;
} bd_matvec_params;

void bd_matvec(const bd_matvec_params *p, const int8_t *x, int8_t *out);

/* -- CONV_2D --------------------------------------------------------------------------------------- */
typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t in_zp;          /* value of padded taps: with the folded bias they contribute exactly 0 */
    int32_t gather;         /* 0 for a 1x1 unpadded kernel: the input pixel is the patch */
    bd_matvec_params mv;    /* depth = k_h * k_w * in_c, units = output channels */
} bd_conv_params;

/* scratch: k_h * k_w * in_c bytes (unused when gather is 0) */
void bd_conv2d(const bd_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* -- CONV_2D followed by AVERAGE/MAX_POOL_2D over windows that do not overlap, fused: the convolution's
 * output is never stored, only the few pixels under one pooling window at a time (bit-exact: the pool
 * sees the same int8 values). ------------------------------------------------------------------------ */
typedef struct {
    bd_conv_params conv;
    int32_t average;        /* 1: AVERAGE_POOL_2D, 0: MAX_POOL_2D */
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

/* -- DEPTHWISE_CONV_2D ----------------------------------------------------------------------------- */
typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, depth_mult;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t in_zp, out_zp, act_min, act_max;
    const int8_t *weights;  /* [out_c][k_h][k_w] */
    const int32_t *bias;    /* folded as for CONV_2D */
    const int32_t *mult;
    const int8_t *shift;
} bd_dwconv_params;

void bd_depthwise_conv2d(const bd_dwconv_params *p, const int8_t *in, int8_t *out);

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
