/* DEPTHWISE_CONV_2D with a 3x3 kernel, depth multiplier 1, stride 1 or 2 and no dilation across (any
 * stride and padding down), at most one padded column on each side, and the fast requantization (the
 * generator checks all of it): the MobileNet and DS-CNN layers. Its requantization constant k counts
 * from act_min (see out3).
 *
 * One channel at a time, an output row is a sweep over the input columns with the nine weights in
 * registers: with stride 1 each column's three pixels are loaded once and feed the three outputs that
 * use them (kernel columns 2, 1 and 0); with stride 2 an output loads two columns and shares the second
 * with the next output. A padded column contributes in_zp * w, which cancels the bias's folded
 * -in_zp * sum(w) exactly; a padded row has its weights zeroed and in_zp * their sum added to the bias
 * instead, and its pointer aimed at a row inside the image. */
#include "benchd_kernels.h"

static int32_t row_inside(int32_t iy, int32_t in_h) {
    return iy >= 0 && iy < in_h;
}

/* bd_requant_fast with k counted from act_min (the generator folds out_zp - act_min into it), so that
 * one unsigned compare against span = (act_max - act_min + 1) * 2^r - 1 finds both clamps. */
static inline int32_t out3(int32_t acc, uint32_t m2, int32_t r, int32_t k, uint32_t span, int32_t lo, int32_t hi) {
    const uint32_t t = (uint32_t)bd_high_mul_pos(acc, m2) + (uint32_t)(acc >> 31) + (uint32_t)k;
    if (t > span) {
        return (int32_t)t < 0 ? lo : hi;
    }
    return (int32_t)(t >> r) + lo;
}

/* an int8 in [act_min, act_max]; the store keeps its low byte, no sign extension needed before it */
#define OUT(acc) (int8_t)out3((acc), m2, r, k, span, lo, hi)

void bd_depthwise_conv3x3(const bd_dwconv_params *p, const int8_t *in, int8_t *out) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t sh = p->stride_h, sw = p->stride_w, pt = p->pad_top, pl = p->pad_left, zp = p->in_zp;
    const int32_t right = (out_w - 1) * sw + 3 - pl - in_w;  /* < 0: VALID leaves columns unread */
    const int32_t pr = right > 0 ? right : 0, lo = p->act_min, hi = p->act_max;
    const int32_t row = in_w * in_c, out_row = out_w * in_c, step = sw * in_c;
    const int8_t *weights = p->weights;
    const int32_t *chan = p->chan;
    const int8_t *shift = p->shift;
    int32_t b, oc, oy;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * in_h * row;
        int8_t *image_out = out + (size_t)b * out_h * out_row;
        for (oc = 0; oc < in_c; oc++) {
            const int8_t *plane = image + oc;
            const int8_t *wc = weights + (size_t)oc * 9;
            const int32_t *c = chan + (size_t)oc * 2;
            const int32_t bias = c[0], r = shift[oc], k = bd_dw_k(r, p->out_zp);
            const uint32_t m2 = (uint32_t)c[1], span = ((uint32_t)(hi - lo + 1) << r) - 1u;
            int8_t *o = image_out + oc;
            int32_t w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0, w8 = 0;
            int32_t rbias = 0, left = 0, right = 0, loaded = -1;  /* left, right: padded columns' terms */
            for (oy = 0; oy < out_h; oy++, o += out_row) {
                const int32_t iy0 = oy * sh - pt;
                int32_t v0 = 1, v1 = 1, v2 = 1, pattern = 7;
                const int8_t *r0, *r1, *r2;
                int8_t *op = o;
                if (iy0 >= 0 && iy0 + 2 < in_h) {  /* the common case: all three rows inside */
                    r0 = plane + (size_t)iy0 * row;
                    r1 = r0 + row;
                    r2 = r1 + row;
                } else {
                    int32_t some;
                    v0 = row_inside(iy0, in_h);
                    v1 = row_inside(iy0 + 1, in_h);
                    v2 = row_inside(iy0 + 2, in_h);
                    some = v1 ? iy0 + 1 : v0 ? iy0 : iy0 + 2;
                    r0 = plane + (size_t)(v0 ? iy0 : some) * row;
                    r1 = plane + (size_t)(v1 ? iy0 + 1 : some) * row;
                    r2 = plane + (size_t)(v2 ? iy0 + 2 : some) * row;
                    pattern = v0 | v1 << 1 | v2 << 2;
                }
                int32_t a1, a2, x0, x1, x2;
                if (pattern != loaded) {  /* the weights of this row pattern (rows inside only) */
                    loaded = pattern;
                    rbias = bias;
                    w0 = wc[0], w1 = wc[1], w2 = wc[2];
                    w3 = wc[3], w4 = wc[4], w5 = wc[5];
                    w6 = wc[6], w7 = wc[7], w8 = wc[8];
                    if (!v0) {
                        rbias += zp * (w0 + w1 + w2);
                        w0 = w1 = w2 = 0;
                    }
                    if (!v1) {
                        rbias += zp * (w3 + w4 + w5);
                        w3 = w4 = w5 = 0;
                    }
                    if (!v2) {
                        rbias += zp * (w6 + w7 + w8);
                        w6 = w7 = w8 = 0;
                    }
                    left = rbias + zp * (w0 + w3 + w6);
                    right = zp * (w2 + w5 + w8);
                }
                if (sw == 1) {
                    const int8_t *end = r0 + row;
                    /* a2: the output two columns back (kernel columns 0 and 1 summed), a1: the one before */
                    x0 = r0[0];
                    x1 = r1[0];
                    x2 = r2[0];
                    if (pl) {
                        a2 = left + x0 * w1 + x1 * w4 + x2 * w7;
                        r0 += in_c;
                        r1 += in_c;
                        r2 += in_c;
                    } else {
                        a2 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                        x0 = r0[in_c];
                        x1 = r1[in_c];
                        x2 = r2[in_c];
                        a2 += x0 * w1 + x1 * w4 + x2 * w7;
                        r0 += 2 * in_c;
                        r1 += 2 * in_c;
                        r2 += 2 * in_c;
                    }
                    a1 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                    for (; r0 < end; op += in_c) {
                        x0 = *r0;
                        x1 = *r1;
                        x2 = *r2;
                        r0 += in_c;
                        r1 += in_c;
                        r2 += in_c;
                        *op = OUT(a2 + x0 * w2 + x1 * w5 + x2 * w8);
                        a2 = a1 + x0 * w1 + x1 * w4 + x2 * w7;
                        a1 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                    }
                } else {
                    /* outputs whose columns are all inside follow the first (when padded) */
                    int8_t *const end = o + (size_t)(out_w - pr) * in_c;
                    if (pl) {
                        a2 = left;
                    } else {
                        a2 = rbias + r0[0] * w0 + r1[0] * w3 + r2[0] * w6;
                        r0 += in_c;
                        r1 += in_c;
                        r2 += in_c;
                    }
                    /* r0..r2 point at the middle column of the output's window */
                    for (; op < end; op += in_c) {
                        x0 = r0[0];
                        x1 = r1[0];
                        x2 = r2[0];
                        a2 += x0 * w1 + x1 * w4 + x2 * w7;
                        x0 = r0[in_c];
                        x1 = r1[in_c];
                        x2 = r2[in_c];
                        r0 += step;
                        r1 += step;
                        r2 += step;
                        *op = OUT(a2 + x0 * w2 + x1 * w5 + x2 * w8);
                        a2 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                    }
                    if (pr) {
                        a2 += r0[0] * w1 + r1[0] * w4 + r2[0] * w7;
                    }
                }
                if (pr) {  /* the last output's right column is padding */
                    *op = OUT(a2 + right);
                }
            }
        }
    }
}
