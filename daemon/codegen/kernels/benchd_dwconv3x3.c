/* DEPTHWISE_CONV_2D with a 3x3 kernel, stride 1 and no dilation across (any stride and padding down),
 * at most one padded column on each side: the MobileNet/DS-CNN layers. One channel at a time, an output
 * row is a sweep over the input columns: each column's three pixels are loaded once and feed the three
 * outputs that use it (kernel columns 2, 1 and 0), so the nine weights stay in registers and every input
 * byte is read once per row. A padded column contributes in_zp * w, which cancels the bias's folded
 * -in_zp * sum(w) exactly; a padded row has its weights zeroed and in_zp * their sum added to the bias
 * instead, and its pointer aimed at a row inside the image. */
#include "benchd_kernels.h"

static int32_t row_inside(int32_t iy, int32_t in_h) {
    return iy >= 0 && iy < in_h;
}

void bd_depthwise_conv3x3(const bd_dwconv_params *p, const int8_t *in, int8_t *out) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t mult = p->depth_mult, out_c = in_c * mult, sh = p->stride_h, pt = p->pad_top;
    const int32_t pl = p->pad_left, pr = out_w + 2 - pl - in_w;
    const int32_t zp = p->in_zp, fast = p->fast, lo = p->act_min, hi = p->act_max;
    const int32_t row = in_w * in_c, out_row = out_w * out_c;
    const int8_t *weights = p->weights;
    const int32_t *chan = p->chan;
    int32_t b, oc, oy;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * in_h * row;
        int8_t *image_out = out + (size_t)b * out_h * out_row;
        for (oc = 0; oc < out_c; oc++) {
            const int8_t *plane = image + oc / mult;
            const int8_t *wc = weights + (size_t)oc * 9;
            const int32_t *c = chan + (size_t)oc * 4;
            const int32_t bias = c[0], q1 = c[1], q2 = c[2], q3 = c[3];
            int8_t *o = image_out + oc;
            for (oy = 0; oy < out_h; oy++, o += out_row) {
                const int32_t iy0 = oy * sh - pt;
                const int32_t v0 = row_inside(iy0, in_h), v1 = row_inside(iy0 + 1, in_h);
                const int32_t v2 = row_inside(iy0 + 2, in_h);
                const int32_t some = v1 ? iy0 + 1 : v0 ? iy0 : iy0 + 2;
                const int8_t *r0 = plane + (size_t)(v0 ? iy0 : some) * row;
                const int8_t *r1 = plane + (size_t)(v1 ? iy0 + 1 : some) * row;
                const int8_t *r2 = plane + (size_t)(v2 ? iy0 + 2 : some) * row;
                int32_t w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5];
                int32_t w6 = wc[6], w7 = wc[7], w8 = wc[8];
                int32_t rbias = bias;
                int32_t a1, a2, x0, x1, x2, j;
                int8_t *op = o;
                if (!(v0 && v1 && v2)) {
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
                }
                /* a2: the output two columns back (kernel columns 0 and 1 summed), a1: the one before */
                x0 = r0[0];
                x1 = r1[0];
                x2 = r2[0];
                if (pl) {
                    a2 = rbias + zp * (w0 + w3 + w6) + x0 * w1 + x1 * w4 + x2 * w7;
                    j = 1;
                } else {
                    a2 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                    x0 = r0[in_c];
                    x1 = r1[in_c];
                    x2 = r2[in_c];
                    a2 += x0 * w1 + x1 * w4 + x2 * w7;
                    j = 2;
                }
                a1 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                r0 += j * in_c;
                r1 += j * in_c;
                r2 += j * in_c;
                for (; j < in_w; j++, op += out_c) {
                    x0 = *r0;
                    x1 = *r1;
                    x2 = *r2;
                    r0 += in_c;
                    r1 += in_c;
                    r2 += in_c;
                    *op = bd_dw_out(a2 + x0 * w2 + x1 * w5 + x2 * w8, q1, q2, q3, fast, lo, hi);
                    a2 = a1 + x0 * w1 + x1 * w4 + x2 * w7;
                    a1 = rbias + x0 * w0 + x1 * w3 + x2 * w6;
                }
                if (pr) {
                    *op = bd_dw_out(a2 + zp * (w2 + w5 + w8), q1, q2, q3, fast, lo, hi);
                }
            }
        }
    }
}
