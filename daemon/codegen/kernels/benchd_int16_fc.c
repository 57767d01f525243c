/* 16x8 FULLY_CONNECTED and SOFTMAX (int16 activations), as TFLite's reference kernels compute them. */
#include "benchd_kernels.h"

/* static_cast<int32_t>(std::round(v)) on x86-64: halves away from zero; out of range gives INT32_MIN
 * (cvttsd2si), which the reference interpreter we are measured against does. No libm needed. */
static int32_t round_to_i32(double v) {
    int64_t t;
    double frac;
    if (!(v > -9.0e18 && v < 9.0e18)) {
        return INT32_MIN;
    }
    t = (int64_t)v;
    frac = v - (double)t; /* exact: t carries v's integer bits */
    if (frac >= 0.5) {
        t++;
    } else if (frac <= -0.5) {
        t--;
    }
    return (t > INT32_MAX || t < INT32_MIN) ? INT32_MIN : (int32_t)t;
}

void bd_fully_connected_s16(const bd_fc_s16_params *p, const int16_t *in, int16_t *out) {
    int32_t b, u, d;
    for (b = 0; b < p->batches; b++, in += p->depth, out += p->units) {
        const int8_t *w = p->weights;
        for (u = 0; u < p->units; u++, w += p->depth) {
            int64_t acc = 0;
            int32_t v;
            for (d = 0; d < p->depth; d++) {
                acc += (int32_t)w[d] * (int32_t)in[d];
            }
            acc += p->bias[u];
            if (p->int32_acc) {
                acc = (int64_t)(int32_t)(uint32_t)(uint64_t)acc;  /* TFLite's int32 accumulator wraps */
            }
            v = round_to_i32((double)acc * p->scale[u]);
            v = v < p->act_min ? p->act_min : v;
            v = v > p->act_max ? p->act_max : v;
            out[u] = (int16_t)v;
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

static int32_t leading_zeros32(uint32_t x) {
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
        headroom = leading_zeros32((uint32_t)sum);
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
