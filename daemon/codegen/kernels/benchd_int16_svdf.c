/* SVDF, full integer, as TFLite's reference EvalIntegerSVDF computes it. */
#include <string.h>

#include "benchd_kernels.h"

void bd_svdf(const bd_svdf_params *p, const int8_t *in, int8_t *out) {
    const int32_t total = p->batches * p->n_filter * p->n_memory;
    int32_t b, f, u, r, m, c;
    /* The whole state moves left by one value; each filter's newest slot is then overwritten below. */
    memmove(p->state, p->state + 1, (size_t)(total - 1) * sizeof(int16_t));
    for (b = 0; b < p->batches; b++) {
        const int8_t *x = in + b * p->n_input;
        const int8_t *w = p->weights_feature;
        int16_t *newest = p->state + b * p->n_filter * p->n_memory + (p->n_memory - 1);
        for (f = 0; f < p->n_filter; f++, w += p->n_input, newest += p->n_memory) {
            int32_t dot = 0;
            for (c = 0; c < p->n_input; c++) {
                dot += (int32_t)w[c] * ((int32_t)x[c] - p->input_zp);
            }
            dot = bd_requant(dot, p->scale1_mult, p->scale1_shift);
            *newest = (int16_t)(dot < -32768 ? -32768 : (dot > 32767 ? 32767 : dot));
        }
    }
    for (b = 0; b < p->batches; b++) {
        const int16_t *state = p->state + b * p->n_filter * p->n_memory;
        for (u = 0; u < p->n_unit; u++) {
            /* TFLite sums in int32 (wrapping); the same sum modulo 2^32 */
            uint32_t acc = (uint32_t)p->bias[u];
            int32_t v;
            for (r = 0; r < p->rank; r++) {
                const int32_t filter = u * p->rank + r;
                const int16_t *s = state + filter * p->n_memory;
                const int16_t *wt = p->weights_time + filter * p->n_memory;
                for (m = 0; m < p->n_memory; m++) {
                    acc += (uint32_t)((int32_t)wt[m] * (int32_t)s[m]);
                }
            }
            v = bd_requant((int32_t)acc, p->scale2_mult, p->scale2_shift) + p->output_zp;
            out[b * p->n_unit + u] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
        }
    }
}
