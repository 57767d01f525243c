/* DEPTHWISE_CONV_2D with a depth multiplier: output channel oc reads input channel oc / depth_mult.
 *
 * As in CONV_2D the bias carries -in_zp * sum(w); inside the image the tap loop is a plain sum(x * w),
 * and at the borders a tap in the padding reads in_zp, which cancels the folded term exactly. */
#include "benchd_kernels.h"

static int32_t border_taps(const bd_dwconv_params *p, const int8_t *image, int32_t iy0, int32_t ix0,
                           int32_t ic, const int8_t *w) {
    const int32_t in_c = p->in_c;
    int32_t acc = 0;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ky++) {
        const int32_t iy = iy0 + ky * p->dil_h;
        const int inside_y = iy >= 0 && iy < p->in_h;
        for (kx = 0; kx < p->k_w; kx++) {
            const int32_t ix = ix0 + kx * p->dil_w;
            const int32_t x = (inside_y && ix >= 0 && ix < p->in_w)
                                  ? image[((size_t)iy * p->in_w + ix) * in_c + ic]
                                  : p->in_zp;
            acc += x * w[ky * p->k_w + kx];
        }
    }
    return acc;
}

void bd_depthwise_conv2d(const bd_dwconv_params *p, const int8_t *in, int8_t *out) {
    const int32_t in_c = p->in_c;
    const int32_t taps = p->k_h * p->k_w;
    const int32_t tap_step = p->dil_w * in_c;
    const int32_t row_step = p->dil_h * p->in_w * in_c;
    const int32_t span_h = (p->k_h - 1) * p->dil_h;
    const int32_t span_w = (p->k_w - 1) * p->dil_w;
    int32_t b, oy, ox, ic, m;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int inside_y = iy0 >= 0 && iy0 + span_h < p->in_h;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int inside = inside_y && ix0 >= 0 && ix0 + span_w < p->in_w;
                const int8_t *corner = inside ? image + ((size_t)iy0 * p->in_w + ix0) * in_c : image;
                int32_t oc = 0;
                for (ic = 0; ic < in_c; ic++) {
                    for (m = 0; m < p->depth_mult; m++, oc++) {
                        const int8_t *w = p->weights + (size_t)oc * taps;
                        int32_t acc = p->bias[oc];
                        if (inside) {
                            const int8_t *row = corner + ic;
                            int32_t ky, kx;
                            for (ky = 0; ky < p->k_h; ky++, row += row_step, w += p->k_w) {
                                const int8_t *xp = row;
                                for (kx = 0; kx < p->k_w; kx++, xp += tap_step) {
                                    acc += (int32_t)xp[0] * w[kx];
                                }
                            }
                        } else {
                            acc += border_taps(p, image, iy0, ix0, ic, w);
                        }
                        *out++ = bd_clamp8(bd_requant(acc, p->mult[oc], p->shift[oc]) + p->out_zp, p->act_min,
                                           p->act_max);
                    }
                }
            }
        }
    }
}
