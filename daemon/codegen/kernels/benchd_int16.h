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

/* == 16x8: int16 activations, int8 weights (daemon/codegen/int16.py, recurrent.py) ====================== */

/* -- FULLY_CONNECTED, int16 in and out: int64 accumulator (int32 when the bias is int32), requantized as
 * TFLite's reference does it, in double: round(acc * in_scale * w_scale / out_scale). ------------------ */
typedef struct {
    int32_t batches, depth, units, act_min, act_max;
    int32_t int32_acc;      /* 1: the bias is int32 and TFLite accumulates in int32 (wrapping) */
    const int8_t *weights;  /* [units][depth] */
    const int64_t *bias;    /* [units] */
    const double *scale;    /* [units]: in_scale * w_scale / out_scale, folded in double */
} bd_fc_s16_params;

void bd_fully_connected_s16(const bd_fc_s16_params *p, const int16_t *in, int16_t *out);

/* -- SOFTMAX, int16 in and out (zero points 0): exp and 1 / (1 + x) from TFLite's interpolated tables ---- */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_shift;  /* input scale * beta onto [-65535, 0] = [-10, 0] */
    const int16_t *exp_lut;                 /* 513 entries each */
    const int16_t *recip_lut;
} bd_softmax_s16_params;

void bd_softmax_s16(const bd_softmax_s16_params *p, const int16_t *in, int16_t *out);

/* TFLite's LUTLookup: 9 bits index a 513-entry table, 7 bits interpolate. */
int16_t bd_lut16(const int16_t *lut, int16_t value);

/* -- SVDF, full integer (TFLite's EvalIntegerSVDF): int8 in/out, int8 feature weights, int16 time weights,
 * int16 state [batches][filters][memory] kept between runs (shifted by one each run). ------------------- */
typedef struct {
    int32_t batches, n_input, n_filter, n_unit, rank, n_memory;
    int32_t input_zp, output_zp;
    int32_t scale1_mult, scale1_shift;  /* feature dot product -> state */
    int32_t scale2_mult, scale2_shift;  /* state x time weights -> output */
    const int8_t *weights_feature;      /* [n_filter][n_input] */
    const int32_t *feature_offset;      /* -input zero point * row sums of weights_feature */
    const int16_t *weights_time;        /* [n_filter][n_memory] */
    const int32_t *bias;                /* [n_unit] (zeros when the model has none) */
    int16_t *state;                     /* [batches][n_filter][n_memory] */
} bd_svdf_params;

void bd_svdf(const bd_svdf_params *p, const int8_t *in, int8_t *out);

/* -- UNIDIRECTIONAL_SEQUENCE_LSTM, TFLite's integer 8x8_16 LSTM: int8 input/output and output state, int16
 * gates and cell state (scale 2^cell_scale); output and cell state kept between runs. -------------------- */
typedef struct {
    const int8_t *w_input;          /* [n_cell][n_input] */
    const int8_t *w_recurrent;      /* [n_cell][n_output] */
    const int32_t *bias_input;      /* gate bias - input zero point * row sums */
    const int32_t *bias_recurrent;  /* - output state zero point * row sums */
    const int16_t *w_cell;          /* peephole [n_cell], or null */
    int32_t input_mult, input_shift, recurrent_mult, recurrent_shift, cell_mult, cell_shift;
    const int16_t *ln_weights;      /* layer normalization coefficients [n_cell], or null */
    const int32_t *ln_bias;         /* the gate bias, applied after the normalization */
    int32_t ln_mult, ln_shift, ln_guard;
} bd_lstm_gate;

typedef struct {
    int32_t batches, steps, n_input, n_cell, n_output, time_major, use_cifg;
    bd_lstm_gate gates[4];          /* input (unused with CIFG), forget, cell, output */
    int32_t cell_scale, cell_clip;  /* log2 of the cell state scale; clip 0: none */
    int32_t hidden_mult, hidden_shift, hidden_zp;
    const int8_t *proj_weights;     /* [n_output][n_cell], or null */
    const int32_t *proj_bias;       /* projection bias + hidden zero point * row sums */
    int32_t proj_mult, proj_shift, proj_clip, output_state_zp;
    int8_t *output_state;           /* [batches][n_output] */
    int16_t *cell_state;            /* [batches][n_cell] */
} bd_lstm_params;

/* scratch: 4 * n_cell int16 gates, then n_cell bytes (the projection's input) */
void bd_lstm(const bd_lstm_params *p, const int8_t *in, int8_t *out, int16_t *scratch);

/* == end of 16x8 ============================================================================================ */

#endif
