/* UNIDIRECTIONAL_SEQUENCE_LSTM, TFLite's integer 8x8_16 kernel (LstmStepInteger8x8_16): int8 input, output
 * and output state, int16 gates and cell state; sigmoid and tanh in gemmlowp's int16 fixed point.
 *
 * The fixed-point helpers below are gemmlowp's FixedPoint<int16_t, N> operations written out for C99:
 * a value with N integer bits has 15 - N fractional bits; + and - wrap at 16 bits as gemmlowp's do. */
#include "benchd_kernels.h"

static int16_t w16(int32_t v) { return (int16_t)(uint16_t)(uint32_t)v; } /* wrap to 16 bits */

static int16_t sat16(int32_t v) { return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v)); }

/* SaturatingRoundingDoublingHighMul for int16 */
static int16_t fx_mul(int16_t a, int16_t b) {
    int32_t ab;
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    ab = (int32_t)a * (int32_t)b;
    return (int16_t)((ab + (ab >= 0 ? (1 << 14) : (1 - (1 << 14)))) / (1 << 15));
}

/* RoundingDivideByPOT for int16 */
static int16_t fx_div_pot(int16_t x, int32_t exponent) {
    const int32_t mask = (1 << exponent) - 1;
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return w16((x >> exponent) + (remainder > threshold ? 1 : 0));
}

/* SaturatingRoundingMultiplyByPOT for int16, either sign of exponent */
static int16_t fx_mul_pot(int16_t x, int32_t exponent) {
    int32_t threshold;
    if (exponent < 0) {
        return fx_div_pot(x, -exponent);
    }
    if (exponent == 0) {
        return x;
    }
    threshold = (1 << (15 - exponent)) - 1;
    if (x > threshold) {
        return INT16_MAX;
    }
    if (x < -threshold) {
        return INT16_MIN;
    }
    return (int16_t)(x * (1 << exponent));
}

/* exp(a) for a in [-1/4, 0), Q0.15 in and out */
static int16_t exp_quarter(int16_t a) {
    const int16_t constant_term = 28918, one_third = 10923; /* exp(-1/8), 1/3 */
    const int16_t x = w16(a + 4096);                         /* a + 1/8 */
    const int16_t x2 = fx_mul(x, x);
    const int16_t x3 = fx_mul(x2, x);
    const int16_t x4 = fx_mul(x2, x2);
    const int16_t x4_over_4 = fx_div_pot(x4, 2);
    const int16_t poly = fx_div_pot(w16(fx_mul(w16(x4_over_4 + x3), one_third) + x2), 1);
    return sat16(constant_term + fx_mul(constant_term, w16(x + poly)));
}

/* exp(a) for a <= 0 with `integer_bits` integer bits; Q0.15 result */
static int16_t exp_negative(int16_t a, int32_t integer_bits) {
    static const int16_t barrel[7] = {25520, 19875, 12055, 4435, 600, 11, 0}; /* exp(-2^k), k = -2..4 */
    const int32_t fractional = 15 - integer_bits;
    const int16_t quarter = (int16_t)(1 << (fractional - 2));
    const int16_t mod_minus_quarter = w16((a & (quarter - 1)) - quarter);
    const int16_t remainder = w16(mod_minus_quarter - a);
    int16_t result = exp_quarter(fx_mul_pot(mod_minus_quarter, integer_bits));
    int32_t k;
    for (k = -2; k <= 4; k++) {
        if (integer_bits > k && (remainder & (1 << (fractional + k)))) {
            result = fx_mul(result, barrel[k + 2]);
        }
    }
    if (integer_bits > 5) {
        const int16_t clamp = (int16_t)bd_div_pot(-(1 << (36 - integer_bits)), 16); /* -32 */
        if (a < clamp) {
            result = 0;
        }
    }
    return a == 0 ? INT16_MAX : result;
}

/* Newton-Raphson for 1 / (1 + a), a in [0, 1): x in Q2.13 */
static int16_t newton_one_plus(int16_t a) {
    const int16_t half_denominator = (int16_t)(((int32_t)a + 32767 + ((int32_t)a + 32767 >= 0 ? 1 : -1)) / 2);
    int16_t x = w16(23130 + fx_mul(half_denominator, -15420)); /* 48/17 - 32/17 d */
    int32_t i;
    for (i = 0; i < 3; i++) {
        const int16_t one_minus = w16(8192 - fx_mul(half_denominator, x));
        x = w16(x + fx_mul_pot(fx_mul(x, one_minus), 2));
    }
    return x;
}

/* gemmlowp::logistic of a Q3.12 value, Q0.15 result */
static int16_t sigmoid_q3(int16_t a) {
    const int16_t abs_input = a > 0 ? a : w16(-a);
    const int16_t positive = fx_mul_pot(newton_one_plus(exp_negative(w16(-abs_input), 3)), 1);
    if (a == 0) {
        return 16384;
    }
    return a > 0 ? positive : w16(32767 - positive);
}

/* gemmlowp::tanh of a value with `integer_bits` integer bits, Q0.15 result */
static int16_t tanh_q(int16_t a, int32_t integer_bits) {
    const int16_t n = a < 0 ? a : w16(-a);
    const int16_t t = fx_mul_pot(w16(newton_one_plus(exp_negative(n, integer_bits + 1)) - 8192), 2);
    if (a == 0) {
        return 0;
    }
    return a < 0 ? w16(-t) : t;
}

static int8_t sat8(int32_t v) { return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v)); }

/* GetInvSqrtQuantizedMultiplierExp(input, reverse_shift -1): 1 / sqrt(input) as multiplier and shift,
 * Newton-Raphson in Q3.28 from x = 1. */
static void inv_sqrt(int32_t input, int32_t *multiplier, int32_t *shift) {
    int32_t s = 11, pairs, x, half_input, i;
    uint32_t u;
    if (input <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (input >= (1 << 29)) {
        input /= 4;
        s++;
    }
    for (u = (uint32_t)input, pairs = 0; !(u & 0x80000000u); u <<= 1) {
        pairs++; /* leading zeros */
    }
    pairs = (pairs - 1) / 2 - 1;
    s -= pairs;
    input <<= 2 * pairs;
    half_input = bd_div_pot(input >> 1, 1);
    x = 1 << 28;
    for (i = 0; i < 5; i++) {
        const int32_t x3 = bd_shift_left_saturating(bd_high_mul(bd_high_mul(x, x), x), 6);
        x = bd_shift_left_saturating((int32_t)((uint32_t)bd_high_mul((1 << 28) + (1 << 27), x) -
                                (uint32_t)bd_high_mul(half_input, x3)), 3);
    }
    x = bd_high_mul(x, 1518500250); /* sqrt(2) / 2 */
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *multiplier = x;
    *shift = -s;
}

/* TFLite's integer ApplyLayerNorm over one row of n gate values (mean and variance scaled by 2^10). */
static void layer_norm(const bd_lstm_gate *g, int16_t *v, int32_t n) {
    int64_t sum = 0, sum_sq = 0, variance;
    int32_t j, mean, variance2, mult, shift;
    for (j = 0; j < n; j++) {
        sum += v[j];
        sum_sq += (int32_t)v[j] * v[j];
    }
    mean = (int32_t)(sum * 1024 / n);
    variance = sum_sq * ((1 << 20) / n) - (int64_t)mean * mean;
    variance2 = (int32_t)(variance / (1 << 20));
    if (variance2 < 1) {
        variance2 = g->ln_guard;
    }
    inv_sqrt(variance2, &mult, &shift);
    for (j = 0; j < n; j++) {
        const int32_t rescaled = bd_requant(1024 * v[j] - mean, mult, shift);
        /* int32 in TFLite (rescaled * weight + bias), widened afterwards */
        const int64_t val3 =
            (int32_t)((uint32_t)rescaled * (uint32_t)(int32_t)g->ln_weights[j] + (uint32_t)g->ln_bias[j]);
        const int32_t val4 = (int32_t)((val3 > 0 ? val3 + 512 : val3 - 512) / 1024);
        v[j] = sat16(bd_requant(val4, g->ln_mult, g->ln_shift + 12));
    }
}

/* acc[j] += w[j] . x for `rows` (<= 4) consecutive rows of w; four rows share each load of x. */
static void dot_rows(const int8_t *w, int32_t n, const int8_t *x, int32_t rows, int32_t *acc) {
    int32_t k, j;
    if (rows == 4) {
        const int8_t *w1 = w + n, *w2 = w1 + n, *w3 = w2 + n;
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        for (k = 0; k < n; k++) {
            const int32_t v = x[k];
            a0 += w[k] * v;
            a1 += w1[k] * v;
            a2 += w2[k] * v;
            a3 += w3[k] * v;
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
        return;
    }
    for (j = 0; j < rows; j++, w += n) {
        int32_t a = acc[j];
        for (k = 0; k < n; k++) {
            a += w[k] * (int32_t)x[k];
        }
        acc[j] = a;
    }
}

/* One gate for one batch row: W_x x + W_h h (+ peephole w_c . c), each requantized and added saturating,
 * (layer normalization,) then sigmoid (Q3.12 in) or tanh (Q3.12 in). */
static void gate(const bd_lstm_gate *g, const bd_lstm_params *p, const int8_t *x, const int8_t *h,
                 const int16_t *c, int16_t *out, int32_t use_tanh) {
    int32_t r, j;
    for (r = 0; r < p->n_cell; r += 4) {
        const int32_t rows = p->n_cell - r < 4 ? p->n_cell - r : 4;
        int32_t ax[4], ah[4];
        for (j = 0; j < rows; j++) {
            ax[j] = g->bias_input[r + j];
            ah[j] = g->bias_recurrent[r + j];
        }
        dot_rows(g->w_input + r * p->n_input, p->n_input, x, rows, ax);
        dot_rows(g->w_recurrent + r * p->n_output, p->n_output, h, rows, ah);
        for (j = 0; j < rows; j++) {
            int32_t v = sat16(bd_requant(ax[j], g->input_mult, g->input_shift));
            v = sat16(bd_requant(ah[j], g->recurrent_mult, g->recurrent_shift) + v);
            if (g->w_cell) {
                v = sat16(bd_requant((int32_t)g->w_cell[r + j] * c[r + j], g->cell_mult, g->cell_shift) + v);
            }
            out[r + j] = (int16_t)v;
        }
    }
    if (g->ln_weights) {
        layer_norm(g, out, p->n_cell);
    }
    for (r = 0; r < p->n_cell; r++) {
        out[r] = use_tanh ? tanh_q(out[r], 3) : sigmoid_q3(out[r]);
    }
}

static void step(const bd_lstm_params *p, const int8_t *x, int8_t *h, int16_t *c, int8_t *y, int16_t *scratch) {
    int16_t *ig = scratch, *fg = scratch + p->n_cell, *cg = scratch + 2 * p->n_cell, *og = scratch + 3 * p->n_cell;
    int8_t *hidden = (int8_t *)(scratch + 4 * p->n_cell);
    int32_t r, k;
    if (!p->use_cifg) {
        gate(&p->gates[0], p, x, h, c, ig, 0);
    }
    gate(&p->gates[1], p, x, h, c, fg, 0);
    gate(&p->gates[2], p, x, h, c, cg, 1);
    for (r = 0; r < p->n_cell; r++) {
        const int16_t in_gate = p->use_cifg ? w16(32767 - fg[r]) : ig[r];
        const int16_t kept = (int16_t)bd_div_pot((int32_t)fg[r] * c[r], 15);
        const int16_t added = (int16_t)bd_div_pot((int32_t)in_gate * cg[r], 30 + p->cell_scale);
        int32_t v = sat16(kept + added);
        if (p->cell_clip > 0) {
            v = v > p->cell_clip ? p->cell_clip : (v < -p->cell_clip ? -p->cell_clip : v);
        }
        c[r] = (int16_t)v;
    }
    gate(&p->gates[3], p, x, h, c, og, 0);
    for (r = 0; r < p->n_cell; r++) {
        const int32_t prod = (int32_t)og[r] * tanh_q(c[r], 15 + p->cell_scale);
        const int32_t v = bd_requant(prod, p->hidden_mult, p->hidden_shift);
        if (p->proj_weights) {
            hidden[r] = sat8(v - p->hidden_zp); /* TFLite passes -hidden_zp here (b/246629213) */
        } else {
            h[r] = sat8(v + p->hidden_zp);
        }
    }
    if (p->proj_weights) {
        for (r = 0; r < p->n_output; r++) {
            const int8_t *w = p->proj_weights + r * p->n_cell;
            int32_t acc = p->proj_bias[r], v;
            for (k = 0; k < p->n_cell; k++) {
                acc += (int32_t)hidden[k] * w[k];
            }
            v = sat8(bd_requant(acc, p->proj_mult, p->proj_shift) + p->output_state_zp);
            if (p->proj_clip > 0) {
                v = v > p->proj_clip ? p->proj_clip : (v < -p->proj_clip ? -p->proj_clip : v);
            }
            h[r] = (int8_t)v;
        }
    }
    for (r = 0; r < p->n_output; r++) {
        y[r] = h[r];
    }
}

void bd_lstm(const bd_lstm_params *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    int32_t b, t;
    for (b = 0; b < p->batches; b++) {
        for (t = 0; t < p->steps; t++) {
            /* time major: [steps][batches][...], else [batches][steps][...] */
            const int32_t row = p->time_major ? t * p->batches + b : b * p->steps + t;
            step(p, in + row * p->n_input, p->output_state + b * p->n_output, p->cell_state + b * p->n_cell,
                 out + row * p->n_output, scratch);
        }
    }
}
