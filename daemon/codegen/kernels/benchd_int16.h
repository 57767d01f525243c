/* benchd reference C backend: QUANTIZE/DEQUANTIZE at a model's edges and between scales, and int16 activations with int8
 * weights (16x8): FULLY_CONNECTED, SOFTMAX, SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM.
 * Included by benchd_kernels.h; bit-exact with TFLite's reference kernels. */
#ifndef BENCHD_INT16_H_
#define BENCHD_INT16_H_

#include <stdint.h>

/* -- QUANTIZE float32 -> int8/int16 (benchd_quantize.c): TFLite's AffineQuantize, in float as the reference:
 * q = round(x / scale) (halves away from zero) converted to int32 (INT32_MIN when out of range or NaN, as the
 * reference's conversion gives on x86), + zero point (wrapping), clamped to the output type. ------------------ */
typedef struct {
    int32_t size;
    float scale;            /* the output's scale, the float32 stored in the model */
    int32_t zero_point;
} bd_quantize_params;

void bd_quantize_f32_s8(const bd_quantize_params *p, const float *in, int8_t *out);
void bd_quantize_f32_s16(const bd_quantize_params *p, const float *in, int16_t *out);

/* -- QUANTIZE between integer types (requantization): clamp(MultiplyByQuantizedMultiplier(x - in_zp) + out_zp) -- */
typedef struct {
    int32_t size;
    int32_t in_zp, out_zp;
    int32_t mult, shift;    /* input scale / output scale (computed in double, as TFLite's Prepare does) */
} bd_requantize_params;

void bd_requantize_s8_s8(const bd_requantize_params *p, const int8_t *in, int8_t *out);
void bd_requantize_s8_s16(const bd_requantize_params *p, const int8_t *in, int16_t *out);
void bd_requantize_s16_s8(const bd_requantize_params *p, const int16_t *in, int8_t *out);
void bd_requantize_s16_s16(const bd_requantize_params *p, const int16_t *in, int16_t *out);

/* -- DEQUANTIZE int8/int16 -> float32: (x - zero point) * scale. The reference multiplies in double, but that
 * product is exact (24-bit scale times a 17-bit integer), so one float multiplication rounds the same. --------- */
typedef struct {
    int32_t size;
    int32_t zero_point;
    float scale;
} bd_dequantize_params;

void bd_dequantize_s8_f32(const bd_dequantize_params *p, const int8_t *in, float *out);
void bd_dequantize_s16_f32(const bd_dequantize_params *p, const int16_t *in, float *out);

#endif
