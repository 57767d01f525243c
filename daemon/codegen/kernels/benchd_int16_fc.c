/* 16x8 FULLY_CONNECTED and SOFTMAX (int16 activations), as TFLite's reference kernels compute them. */
#include <string.h>

#include "benchd_kernels.h"

/* static_cast<int32_t>(std::round(v)) as on x86-64: halves away from zero, and INT32_MIN when the rounded
 * magnitude does not fit (cvttsd2si), which the reference interpreter we are measured against does. Read off
 * the IEEE-754 bits with integer operations: soft-float rounding and conversion would cost far more. */
static int32_t round_to_i32(double v) {
    uint64_t bits, mantissa, magnitude;
    int32_t exponent, fraction_bits;
    memcpy(&bits, &v, sizeof bits);
    exponent = (int32_t)((bits >> 52) & 0x7ff);
    fraction_bits = 1075 - exponent; /* v = mantissa * 2^-fraction_bits */
    if (fraction_bits > 53) {
        return 0; /* |v| < 0.5 (zero and subnormals too) */
    }
    if (fraction_bits < 22) {
        return INT32_MIN; /* |v| >= 2^31 */
    }
    mantissa = (bits & 0xfffffffffffffULL) | (1ULL << 52);
    magnitude = (mantissa >> fraction_bits) + ((mantissa >> (fraction_bits - 1)) & 1u);
    if (magnitude >= (1ULL << 31)) {
        return INT32_MIN;
    }
    return (bits >> 63) ? -(int32_t)magnitude : (int32_t)magnitude;
}

static int16_t requant_s16(const bd_fc_s16_params *p, int32_t u, int64_t acc) {
    int32_t v;
    if (p->int32_acc) {
        acc = (int64_t)(int32_t)(uint32_t)(uint64_t)acc; /* TFLite's int32 accumulator wraps */
    }
    v = round_to_i32((double)acc * p->scale[u]);
    v = v < p->act_min ? p->act_min : v;
    v = v > p->act_max ? p->act_max : v;
    return (int16_t)v;
}

/* |int8 * int16| <= 2^22, so 256 products fit an int32: the 64-bit accumulator is touched once per chunk. */
#define CHUNK 256

void bd_fully_connected_s16(const bd_fc_s16_params *p, const int16_t *in, int16_t *out) {
    int32_t b, u, d;
    for (b = 0; b < p->batches; b++, in += p->depth, out += p->units) {
        /* four units at a time share each input load */
        for (u = 0; u + 4 <= p->units; u += 4) {
            const int8_t *w0 = p->weights + u * p->depth, *w1 = w0 + p->depth, *w2 = w1 + p->depth,
                         *w3 = w2 + p->depth;
            int64_t acc0 = p->bias[u], acc1 = p->bias[u + 1], acc2 = p->bias[u + 2], acc3 = p->bias[u + 3];
            for (d = 0; d < p->depth;) {
                const int32_t end = p->depth - d > CHUNK ? d + CHUNK : p->depth;
                int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (; d < end; d++) {
                    const int32_t x = in[d];
                    s0 += w0[d] * x;
                    s1 += w1[d] * x;
                    s2 += w2[d] * x;
                    s3 += w3[d] * x;
                }
                acc0 += s0;
                acc1 += s1;
                acc2 += s2;
                acc3 += s3;
            }
            out[u] = requant_s16(p, u, acc0);
            out[u + 1] = requant_s16(p, u + 1, acc1);
            out[u + 2] = requant_s16(p, u + 2, acc2);
            out[u + 3] = requant_s16(p, u + 3, acc3);
        }
        for (; u < p->units; u++) {
            const int8_t *w = p->weights + u * p->depth;
            int64_t acc = p->bias[u];
            for (d = 0; d < p->depth;) {
                const int32_t end = p->depth - d > CHUNK ? d + CHUNK : p->depth;
                int32_t s0 = 0;
                for (; d < end; d++) {
                    s0 += w[d] * (int32_t)in[d];
                }
                acc += s0;
            }
            out[u] = requant_s16(p, u, acc);
        }
    }
}

int16_t bd_lut16(const int16_t *lut, int16_t value) {
    const int32_t index = 256 + (value >> 7);
    const int32_t offset = value & 0x7f;
    const int32_t base = lut[index];
    const int32_t slope = lut[index + 1] - lut[index];
    return (int16_t)(base + ((slope * offset + 64) >> 7));
}

static int32_t clamp16(int32_t v) {
    return v < -32768 ? -32768 : (v > 32767 ? 32767 : v);
}

void bd_softmax_s16(const bd_softmax_s16_params *p, const int16_t *in, int16_t *out) {
    int32_t i, c;
    for (i = 0; i < p->rows; i++, in += p->depth, out += p->depth) {
        int32_t max = -32768, sum = 0, headroom, shifted, right_shift;
        int64_t round;
        int16_t reciprocal;
        for (c = 0; c < p->depth; c++) {
            max = in[c] > max ? in[c] : max;
        }
        /* exp(x - max) in Q0.15, kept in the output row until the reciprocal is known */
        for (c = 0; c < p->depth; c++) {
            const int32_t scaled = bd_requant(in[c] - max, p->input_multiplier, p->input_shift);
            out[c] = bd_lut16(p->exp_lut, (int16_t)clamp16(scaled + 32767));
            sum += out[c];
        }
        headroom = bd_leading_zeros((uint32_t)sum);
        shifted = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
        reciprocal = bd_lut16(p->recip_lut, (int16_t)clamp16(shifted - ((1 << 15) + (1 << 16))));
        right_shift = 31 - headroom;
        round = (int64_t)1 << (right_shift - 1);
        for (c = 0; c < p->depth; c++) {
            const int32_t r = (int32_t)(((int64_t)out[c] * reciprocal + round) >> right_shift);
            out[c] = (int16_t)(r < 0 ? 0 : (r > 32767 ? 32767 : r));
        }
    }
}
