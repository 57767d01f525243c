/* QUANTIZE (float32 -> int8/int16, and requantization between integer types) and DEQUANTIZE (-> float32),
 * bit-exact with TFLite's reference kernels. No libm: the rounding is done here, exactly. */
#include "benchd_kernels.h"

/* std::round for floats: halves away from zero. Exact: the fraction of a float is a float. */
static float round_half_away(float x) {
    float t, frac;
    if (!(x > -8388608.0f && x < 8388608.0f)) {
        return x;  /* |x| >= 2^23 is an integer already (or inf, NaN) */
    }
    t = (float)(int32_t)x;  /* toward zero */
    frac = x - t;
    if (frac >= 0.5f) {
        t += 1.0f;
    } else if (frac <= -0.5f) {
        t -= 1.0f;
    }
    return t;
}

/* round(x / scale) + zero point, clamped to [lo, hi]: the reference's float ops in its order. Its float -> int32
 * conversion gives INT32_MIN out of range and for NaN (x86), and the zero point is then added with wrap-around;
 * measured on the interpreter: +inf with zero point -3 quantizes to 127, with zero point 0 to -128. */
static int32_t quantize_one(const bd_quantize_params *p, float x, int32_t lo, int32_t hi) {
    const float r = round_half_away(x / p->scale);
    int32_t q = INT32_MIN;
    if (r >= -2147483648.0f && r < 2147483648.0f) {
        q = (int32_t)r;
    }
    q = (int32_t)((uint32_t)q + (uint32_t)p->zero_point);
    return q < lo ? lo : q > hi ? hi : q;
}

void bd_quantize_f32_s8(const bd_quantize_params *p, const float *in, int8_t *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (int8_t)quantize_one(p, in[i], INT8_MIN, INT8_MAX);
    }
}

void bd_quantize_f32_s16(const bd_quantize_params *p, const float *in, int16_t *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (int16_t)quantize_one(p, in[i], INT16_MIN, INT16_MAX);
    }
}

static int32_t requantize_one(const bd_requantize_params *p, int32_t x, int32_t lo, int32_t hi) {
    const int32_t q = bd_requant(x - p->in_zp, p->mult, p->shift) + p->out_zp;
    return q < lo ? lo : q > hi ? hi : q;
}

void bd_requantize_s8_s8(const bd_requantize_params *p, const int8_t *in, int8_t *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (int8_t)requantize_one(p, in[i], INT8_MIN, INT8_MAX);
    }
}

void bd_requantize_s8_s16(const bd_requantize_params *p, const int8_t *in, int16_t *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (int16_t)requantize_one(p, in[i], INT16_MIN, INT16_MAX);
    }
}

void bd_requantize_s16_s8(const bd_requantize_params *p, const int16_t *in, int8_t *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (int8_t)requantize_one(p, in[i], INT8_MIN, INT8_MAX);
    }
}

void bd_requantize_s16_s16(const bd_requantize_params *p, const int16_t *in, int16_t *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (int16_t)requantize_one(p, in[i], INT16_MIN, INT16_MAX);
    }
}

void bd_dequantize_s8_f32(const bd_dequantize_params *p, const int8_t *in, float *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (float)((int32_t)in[i] - p->zero_point) * p->scale;
    }
}

void bd_dequantize_s16_f32(const bd_dequantize_params *p, const int16_t *in, float *out) {
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = (float)((int32_t)in[i] - p->zero_point) * p->scale;
    }
}
