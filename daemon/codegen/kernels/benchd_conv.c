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

void bd_conv2d(const bd_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t out_c = p->mv.units;
    const int32_t span_h = (p->k_h - 1) * p->dil_h;
    const int32_t row_step = p->dil_h * p->in_w * p->in_c;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                if (!p->gather) {
                    bd_matvec(&p->mv, image + ((size_t)iy0 * p->in_w + ix0) * p->in_c, out);
                } else if (p->dil_w == 1 && iy0 >= 0 && iy0 + span_h < p->in_h && ix0 >= 0 &&
                           ix0 + p->k_w <= p->in_w) {
                    /* inside the image: read the patch's rows in place */
                    matvec_rows(&p->mv, image + ((size_t)iy0 * p->in_w + ix0) * p->in_c, p->k_h, row_step, out);
                } else {
                    gather(p, image, iy0, ix0, scratch);
                    bd_matvec(&p->mv, scratch, out);
                }
                out += out_c;
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
