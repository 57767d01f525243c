/* DEPTHWISE_CONV_2D with a depth multiplier that is a multiple of 4 (MicroKWS: one input channel, four
 * filters), any geometry: pixel by pixel, the output channels of one input channel four at a time, so
 * each input byte loaded feeds four accumulators. The weights come as [in_c][mult / 4][k_h][k_w][4].
 * Padded taps read in_zp, which cancels the bias's folded -in_zp * sum(w) exactly. */
#include "benchd_kernels.h"

void bd_depthwise_conv_mult4(const bd_dwconv_params *p, const int8_t *in, int8_t *out) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w, zp = p->in_zp;
    const int32_t blocks = p->depth_mult / 4, out_c = in_c * p->depth_mult, taps4 = 4 * p->k_h * p->k_w;
    const int32_t x_lo = p->x_lo, x_hi = p->x_hi, fast = p->fast, lo = p->act_min, hi = p->act_max;
    const int32_t tap_step = dil_w * in_c, row_step = dil_h * in_w * in_c, span_h = (k_h - 1) * dil_h;
    const int8_t *weights = p->weights;
    const int32_t *chan = p->chan;
    int32_t b, oy, ox, ic, blk, ky, kx, j;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int inside_y = iy0 >= 0 && iy0 + span_h < in_h;
            for (ox = 0; ox < out_w; ox++, out += out_c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int inside = inside_y && ox >= x_lo && ox < x_hi;
                const int8_t *w = weights;
                const int32_t *c = chan;
                int8_t *o = out;
                for (ic = 0; ic < in_c; ic++) {
                    for (blk = 0; blk < blocks; blk++, w += taps4) {
                        int32_t acc[4];
                        int32_t a0 = c[0], a1 = c[4], a2 = c[8], a3 = c[12];
                        const int8_t *wp = w;
                        if (inside) {
                            const int8_t *row = image + ((size_t)iy0 * in_w + ix0) * in_c + ic;
                            for (ky = 0; ky < k_h; ky++, row += row_step) {
                                const int8_t *xp = row;
                                for (kx = 0; kx < k_w; kx++, xp += tap_step, wp += 4) {
                                    const int32_t x = *xp;
                                    a0 += x * wp[0];
                                    a1 += x * wp[1];
                                    a2 += x * wp[2];
                                    a3 += x * wp[3];
                                }
                            }
                        } else {
                            for (ky = 0; ky < k_h; ky++) {
                                const int32_t iy = iy0 + ky * dil_h;
                                for (kx = 0; kx < k_w; kx++, wp += 4) {
                                    const int32_t ix = ix0 + kx * dil_w;
                                    const int32_t x = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w
                                                          ? image[((size_t)iy * in_w + ix) * in_c + ic]
                                                          : zp;
                                    a0 += x * wp[0];
                                    a1 += x * wp[1];
                                    a2 += x * wp[2];
                                    a3 += x * wp[3];
                                }
                            }
                        }
                        acc[0] = a0;
                        acc[1] = a1;
                        acc[2] = a2;
                        acc[3] = a3;
                        for (j = 0; j < 4; j++, c += 4) {
                            *o++ = bd_dw_out(acc[j], c[1], c[2], c[3], fast, lo, hi);
                        }
                    }
                }
            }
        }
    }
}
