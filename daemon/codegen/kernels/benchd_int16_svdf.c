/* SVDF, full integer, as TFLite's reference EvalIntegerSVDF computes it. */
#include <string.h>

#include "benchd_kernels.h"

static int16_t to_state(int32_t dot, const bd_svdf_params *p) {
    dot = bd_requant(dot, p->scale1_mult, p->scale1_shift);
    return (int16_t)(dot < -32768 ? -32768 : (dot > 32767 ? 32767 : dot));
}

void bd_svdf(const bd_svdf_params *p, const int8_t *in, int8_t *out) {
    const int32_t total = p->batches * p->n_filter * p->n_memory;
    const int32_t n = p->n_input;
    int32_t b, f, u, r, m, c;
    /* The whole state moves left by one value; each filter's newest slot is then overwritten below. */
    memmove(p->state, p->state + 1, (size_t)(total - 1) * sizeof(int16_t));
    for (b = 0; b < p->batches; b++) {
        const int8_t *x = in + b * n;
        int16_t *newest = p->state + b * p->n_filter * p->n_memory + (p->n_memory - 1);
        /* sum w (x - zp) = offset + sum w x, the offset (-zp * sum w) folded by the generator; four filters
         * at a time share each input load */
        for (f = 0; f + 4 <= p->n_filter; f += 4) {
            const int8_t *w0 = p->weights_feature + f * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
            int32_t a0 = p->feature_offset[f], a1 = p->feature_offset[f + 1], a2 = p->feature_offset[f + 2],
                    a3 = p->feature_offset[f + 3];
            for (c = 0; c < n; c++) {
                const int32_t v = x[c];
                a0 += w0[c] * v;
                a1 += w1[c] * v;
                a2 += w2[c] * v;
                a3 += w3[c] * v;
            }
            newest[f * p->n_memory] = to_state(a0, p);
            newest[(f + 1) * p->n_memory] = to_state(a1, p);
            newest[(f + 2) * p->n_memory] = to_state(a2, p);
            newest[(f + 3) * p->n_memory] = to_state(a3, p);
        }
        for (; f < p->n_filter; f++) {
            const int8_t *w = p->weights_feature + f * n;
            int32_t a = p->feature_offset[f];
            for (c = 0; c < n; c++) {
                a += w[c] * (int32_t)x[c];
            }
            newest[f * p->n_memory] = to_state(a, p);
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
                int32_t part = 0; /* |int16 * int16| <= 2^30: pairs would overflow, so one product at a time */
                for (m = 0; m < p->n_memory; m++) {
                    part = (int32_t)((uint32_t)part + (uint32_t)((int32_t)wt[m] * (int32_t)s[m]));
                }
                acc += (uint32_t)part;
            }
            v = bd_requant((int32_t)acc, p->scale2_mult, p->scale2_shift) + p->output_zp;
            out[b * p->n_unit + u] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
        }
    }
}
