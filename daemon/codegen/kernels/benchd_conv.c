/* CONV_2D and FULLY_CONNECTED: both are a matrix-vector product per output pixel (or row).
 *
 * The arithmetic is TFLite's: acc = bias + sum((x - in_zp) * w), then requantized per channel, offset
 * and clamped. The generator folds -in_zp * sum(w) into the bias, so the inner loop is sum(x * w); taps
 * that fall into padding are gathered as in_zp, for which x * w cancels exactly against the folded term
 * (TFLite skips them: the two agree to the bit). Weights are packed four units at a time so that one
 * input byte feeds four accumulators. */
#include <string.h>

#include "benchd_kernels.h"

static int8_t finish(const bd_matvec_params *p, int32_t acc, int32_t o) {
    const int32_t scaled = p->single_round ? bd_requant_single(acc, p->mult[o], p->shift[o])
                                           : bd_requant(acc, p->mult[o], p->shift[o]);
    return bd_clamp8(scaled + p->out_zp, p->act_min, p->act_max);
}

/* out[o] for every unit o: the input vector is `rows` runs of depth / rows bytes, `stride` bytes apart
 * (rows == 1: one contiguous vector). The packed weights run through the rows in the same order. */
static void matvec_rows(const bd_matvec_params *p, const int8_t *x, int32_t rows, int32_t stride, int8_t *out) {
    const int32_t run = p->depth / rows;
    const int8_t *w = p->weights;
    int32_t o = 0;
    for (; o + 4 <= p->units; o += 4) {
        int32_t a0 = p->bias[o], a1 = p->bias[o + 1], a2 = p->bias[o + 2], a3 = p->bias[o + 3];
        const int8_t *row = x;
        int32_t r;
        for (r = 0; r < rows; r++, row += stride) {
            const int8_t *xp = row;
            int32_t k = run;
            for (; k >= 2; k -= 2) {
                const int32_t x0 = xp[0], x1 = xp[1];
                a0 += x0 * w[0];
                a1 += x0 * w[1];
                a2 += x0 * w[2];
                a3 += x0 * w[3];
                a0 += x1 * w[4];
                a1 += x1 * w[5];
                a2 += x1 * w[6];
                a3 += x1 * w[7];
                xp += 2;
                w += 8;
            }
            if (k) {
                const int32_t x0 = xp[0];
                a0 += x0 * w[0];
                a1 += x0 * w[1];
                a2 += x0 * w[2];
                a3 += x0 * w[3];
                w += 4;
            }
        }
        out[o] = finish(p, a0, o);
        out[o + 1] = finish(p, a1, o + 1);
        out[o + 2] = finish(p, a2, o + 2);
        out[o + 3] = finish(p, a3, o + 3);
    }
    for (; o < p->units; o++) {
        int32_t acc = p->bias[o];
        const int8_t *row = x;
        int32_t r, k;
        for (r = 0; r < rows; r++, row += stride) {
            for (k = 0; k < run; k++) {
                acc += (int32_t)row[k] * w[k];
            }
            w += run;
        }
        out[o] = finish(p, acc, o);
    }
}

void bd_matvec(const bd_matvec_params *p, const int8_t *x, int8_t *out) {
    matvec_rows(p, x, 1, 0, out);
}

/* Short rows (a few bytes, the common case for one-channel inputs) cost less copied inline than
 * through a memcpy call. */
static void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
    if (n > 32) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    while (n--) {
        *dst++ = *src++;
    }
}

/* The k_h x k_w x in_c patch under one output pixel, padding read as in_zp. */
static void gather(const bd_conv_params *p, const int8_t *image, int32_t iy0, int32_t ix0, int8_t *dst) {
    const int32_t in_c = p->in_c;
    const int32_t row_bytes = p->k_w * in_c;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ky++, dst += row_bytes) {
        const int32_t iy = iy0 + ky * p->dil_h;
        const int8_t *src;
        if (iy < 0 || iy >= p->in_h) {
            memset(dst, p->in_zp, (size_t)row_bytes);
            continue;
        }
        src = image + (size_t)iy * p->in_w * in_c;
        if (p->dil_w == 1 && ix0 >= 0 && ix0 + p->k_w <= p->in_w) {
            copy_bytes(dst, src + (size_t)ix0 * in_c, row_bytes);
            continue;
        }
        for (kx = 0; kx < p->k_w; kx++) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) {
                memset(dst + kx * in_c, p->in_zp, (size_t)in_c);
            } else {
                memcpy(dst + kx * in_c, src + (size_t)ix * in_c, (size_t)in_c);
            }
        }
    }
}

/* One output pixel of the convolution: all its channels into out. */
static void conv_pixel(const bd_conv_params *p, const int8_t *image, int32_t oy, int32_t ox, int8_t *out,
                       int8_t *scratch) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    if (!p->gather) {
        bd_matvec(&p->mv, image + ((size_t)iy0 * p->in_w + ix0) * p->in_c, out);
    } else if (p->dil_w == 1 && iy0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h && ix0 >= 0 &&
               ix0 + p->k_w <= p->in_w) {
        /* inside the image: read the patch's rows in place */
        matvec_rows(&p->mv, image + ((size_t)iy0 * p->in_w + ix0) * p->in_c, p->k_h,
                    p->dil_h * p->in_w * p->in_c, out);
    } else {
        gather(p, image, iy0, ix0, scratch);
        bd_matvec(&p->mv, scratch, out);
    }
}

void bd_conv2d(const bd_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t out_c = p->mv.units;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++, out += out_c) {
                conv_pixel(p, image, oy, ox, out, scratch);
            }
        }
    }
}

void bd_conv2d_pool(const bd_conv_pool_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const bd_conv_params *c = &p->conv;
    const int32_t out_c = c->mv.units;
    int8_t *window = scratch;                            /* the window's conv outputs, [f_h * f_w][out_c] */
    int8_t *patch = scratch + p->f_h * p->f_w * out_c;   /* conv_pixel's gather buffer */
    int32_t b, py, px, y, x, ch, k;
    for (b = 0; b < c->batches; b++) {
        const int8_t *image = in + (size_t)b * c->in_h * c->in_w * c->in_c;
        for (py = 0; py < p->out_h; py++) {
            const int32_t wy = py * p->stride_h - p->pad_top;
            const int32_t y0 = wy < 0 ? 0 : wy;
            const int32_t y1 = wy + p->f_h < c->out_h ? wy + p->f_h : c->out_h;
            for (px = 0; px < p->out_w; px++, out += out_c) {
                const int32_t wx = px * p->stride_w - p->pad_left;
                const int32_t x0 = wx < 0 ? 0 : wx;
                const int32_t x1 = wx + p->f_w < c->out_w ? wx + p->f_w : c->out_w;
                int32_t count = 0;
                for (y = y0; y < y1; y++) {
                    for (x = x0; x < x1; x++, count++) {
                        conv_pixel(c, image, y, x, window + count * out_c, patch);
                    }
                }
                for (ch = 0; ch < out_c; ch++) {
                    int32_t acc = p->average ? 0 : -128;
                    for (k = 0; k < count; k++) {
                        const int32_t v = window[k * out_c + ch];
                        acc = p->average ? acc + v : (v > acc ? v : acc);
                    }
                    if (p->average && count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    out[ch] = bd_clamp8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void bd_fully_connected(const bd_fc_params *p, const int8_t *in, int8_t *out) {
    int32_t b;
    for (b = 0; b < p->batches; b++) {
        bd_matvec(&p->mv, in + (size_t)b * p->mv.depth, out + (size_t)b * p->mv.units);
    }
}
