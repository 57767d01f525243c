/* CONV_2D and FULLY_CONNECTED: both are matrix products, patches (one per output pixel, or input rows)
 * times the weights.
 *
 * The arithmetic is TFLite's: acc = bias + sum((x - in_zp) * w), then requantized per channel, offset
 * and clamped. The generator folds -in_zp * sum(w) into the bias, so the inner loop is sum(x * w). A patch
 * the image's edge cuts is read in place without its padded taps, with a bias the generator folded for
 * that cut (vbias, hbias: + in_zp * the weights cut off); a patch cut on both axes (a corner) is gathered
 * with its padding as in_zp, for which x * w cancels exactly against the folded term. TFLite skips padded
 * taps: all three agree to the bit.
 *
 * Speed (RV32IMC has no multiply-accumulate, so a MAC is at least a mul and an add): the weights are
 * packed by the generator in blocks of 8 output channels ([K][8] each), and two output pixels are
 * computed at once, 16 accumulators in registers, so each weight byte loaded feeds two MACs and each
 * input byte eight (~2.8 instructions per MAC in the inner loop). Patches are read in place: k_h runs of
 * k_w * in_c bytes, or the whole image as one run of pixels for a 1x1 stride-1 convolution. */
#include <string.h>

#include "benchd_kernels.h"

/* GCC's first scheduling pass hoists all eight weight loads of a step above the multiplies, which needs
 * more registers than RV32 has beside 16 accumulators and spills them in the inner loop. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif

/* Where one patch's bytes are: `rows` runs of `run` bytes, the next run `skip` bytes after a run's end;
 * which weights they meet (a patch clipped to the image skips the taps outside: `woff` tap bytes before
 * the first run, `wskip` after each run); and the bias that goes with that clipping. */
typedef struct {
    int32_t rows, run, skip, woff, wskip;
    const int32_t *bias;
} patch_t;

#define W2(j, o) { const int32_t t = w[o]; a##j += u * t; b##j += v * t; }
#define W1(j, o) { a##j += u * w[o]; }
#define STEP2x8(k) { const int32_t u = x0[k], v = x1[k]; W2(0, 8 * (k)) W2(1, 8 * (k) + 1) W2(2, 8 * (k) + 2) \
    W2(3, 8 * (k) + 3) W2(4, 8 * (k) + 4) W2(5, 8 * (k) + 5) W2(6, 8 * (k) + 6) W2(7, 8 * (k) + 7) }
#define STEP1x8(k) { const int32_t u = x0[k]; W1(0, 8 * (k)) W1(1, 8 * (k) + 1) W1(2, 8 * (k) + 2) \
    W1(3, 8 * (k) + 3) W1(4, 8 * (k) + 4) W1(5, 8 * (k) + 5) W1(6, 8 * (k) + 6) W1(7, 8 * (k) + 7) }
#define STEP2x4(k) { const int32_t u = x0[k], v = x1[k]; W2(0, 4 * (k)) W2(1, 4 * (k) + 1) W2(2, 4 * (k) + 2) \
    W2(3, 4 * (k) + 3) }
#define STEP1x4(k) { const int32_t u = x0[k]; W1(0, 4 * (k)) W1(1, 4 * (k) + 1) W1(2, 4 * (k) + 2) \
    W1(3, 4 * (k) + 3) }

/* Each tile: acc[] = bias + patch(es) . weights for W channels; runs unrolled by two. */
static void tile_2x8(const int8_t *x0, const int8_t *x1, const patch_t *g, const int8_t *w, const int32_t *bias,
                     int32_t *acc) {
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3], a4 = bias[4], a5 = bias[5], a6 = bias[6],
            a7 = bias[7];
    int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7;
    int32_t r = g->rows;
    do {
        const int8_t *end = x0 + g->run;
        if (g->run & 1) {
            STEP2x8(0)
            x0++, x1++, w += 8;
        }
        while (x0 != end) {
            STEP2x8(0)
            STEP2x8(1)
            x0 += 2, x1 += 2, w += 16;
        }
        x0 += g->skip, x1 += g->skip, w += g->wskip * 8;
    } while (--r > 0);
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
    acc[8] = b0, acc[9] = b1, acc[10] = b2, acc[11] = b3, acc[12] = b4, acc[13] = b5, acc[14] = b6, acc[15] = b7;
}

static void tile_1x8(const int8_t *x0, const patch_t *g, const int8_t *w, const int32_t *bias, int32_t *acc) {
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3], a4 = bias[4], a5 = bias[5], a6 = bias[6],
            a7 = bias[7];
    int32_t r = g->rows;
    do {
        const int8_t *end = x0 + g->run;
        if (g->run & 1) {
            STEP1x8(0)
            x0++, w += 8;
        }
        while (x0 != end) {
            STEP1x8(0)
            STEP1x8(1)
            x0 += 2, w += 16;
        }
        x0 += g->skip, w += g->wskip * 8;
    } while (--r > 0);
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

static void tile_2x4(const int8_t *x0, const int8_t *x1, const patch_t *g, const int8_t *w, const int32_t *bias,
                     int32_t *acc) {
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
    int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    int32_t r = g->rows;
    do {
        const int8_t *end = x0 + g->run;
        if (g->run & 1) {
            STEP2x4(0)
            x0++, x1++, w += 4;
        }
        while (x0 != end) {
            STEP2x4(0)
            STEP2x4(1)
            x0 += 2, x1 += 2, w += 8;
        }
        x0 += g->skip, x1 += g->skip, w += g->wskip * 4;
    } while (--r > 0);
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[8] = b0, acc[9] = b1, acc[10] = b2, acc[11] = b3;
}

static void tile_1x4(const int8_t *x0, const patch_t *g, const int8_t *w, const int32_t *bias, int32_t *acc) {
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
    int32_t r = g->rows;
    do {
        const int8_t *end = x0 + g->run;
        if (g->run & 1) {
            STEP1x4(0)
            x0++, w += 4;
        }
        while (x0 != end) {
            STEP1x4(0)
            STEP1x4(1)
            x0 += 2, w += 8;
        }
        x0 += g->skip, w += g->wskip * 4;
    } while (--r > 0);
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* One output channel (the last units % 4), for one or two patches (x1 null: one). */
static void tile_1ch(const int8_t *x0, const int8_t *x1, const patch_t *g, const int8_t *w, int32_t bias,
                     int32_t *acc) {
    int32_t a = bias, b = bias, r, k;
    for (r = 0; r < g->rows; r++, x0 += g->run + g->skip) {
        for (k = 0; k < g->run; k++) {
            a += x0[k] * w[k];
        }
        if (x1) {
            for (k = 0; k < g->run; k++) {
                b += x1[k] * w[k];
            }
            x1 += g->run + g->skip;
        }
        w += g->run + g->wskip;
    }
    acc[0] = a;
    acc[8] = b;
}

/* out[o + j] for j < n from acc[j]: requantized, offset and clamped. */
static void store(const bd_matvec_params *p, const int32_t *acc, int32_t o, int32_t n, int8_t *out) {
    const int32_t zp = p->out_zp, lo = p->act_min, hi = p->act_max;
    int32_t j;
    out += o;
    if (p->rq) {
        const int32_t *q = p->rq + 2 * o;
        const int8_t *r = p->rq_shift + o;
        if (p->single_round) {
            for (j = 0; j < n; j++, q += 2) {
                out[j] = bd_clamp8(bd_requant_single_fast(acc[j], q[0], r[j], q[1]), lo, hi);
            }
        } else {
            for (j = 0; j < n; j++, q += 2) {
                out[j] = bd_clamp8(bd_requant_fast(acc[j], (uint32_t)q[0], r[j], q[1]), lo, hi);
            }
        }
    } else {
        /* the general forms, where requant.py could not prove the fast ones exact: rare, kept small */
        for (j = 0; j < n; j++) {
            const int32_t m = p->mult[o + j], s = p->shift[o + j];
            out[j] = bd_clamp8((p->single_round ? bd_requant_single(acc[j], m, s) : bd_requant(acc[j], m, s)) + zp,
                               lo, hi);
        }
    }
}

/* Channels [o, o + width) of one patch into acc[0..width) (and of a second, x1 not null, into
 * acc[8..8 + width)); returns the width, which the packing fixes: 8 while 8 units are left, then 4, then 1.
 * A block starting at unit o starts at weight o * depth. */
static int32_t block(const bd_matvec_params *p, const patch_t *g, const int8_t *x0, const int8_t *x1, int32_t o,
                     int32_t *acc) {
    const int8_t *w = p->weights + (size_t)o * p->depth;
    const int32_t left = p->units - o;
    if (left >= 8) {
        if (x1) {
            tile_2x8(x0, x1, g, w + g->woff * 8, g->bias + o, acc);
        } else {
            tile_1x8(x0, g, w + g->woff * 8, g->bias + o, acc);
        }
        return 8;
    }
    if (left >= 4) {
        if (x1) {
            tile_2x4(x0, x1, g, w + g->woff * 4, g->bias + o, acc);
        } else {
            tile_1x4(x0, g, w + g->woff * 4, g->bias + o, acc);
        }
        return 4;
    }
    tile_1ch(x0, x1, g, w + g->woff, g->bias[o], acc);
    return 1;
}

/* Every output channel of one patch (x0 into out0) or two (also x1 into out1; x1 null: one). */
static void patches(const bd_matvec_params *p, const patch_t *g, const int8_t *x0, const int8_t *x1, int8_t *out0,
                    int8_t *out1) {
    int32_t acc[16];
    int32_t o, width;
    for (o = 0; o < p->units; o += width) {
        width = block(p, g, x0, x1, o, acc);
        if (x1) {
            store(p, acc + 8, o, width, out1);
        }
        store(p, acc, o, width, out0);
    }
}

/* n patches of the same shape, the first at x and each `step` bytes after the previous, in pairs. */
static void patch_run(const bd_matvec_params *p, const patch_t *g, const int8_t *x, int32_t step, int32_t n,
                      int8_t *out) {
    const int32_t units = p->units;
    for (; n >= 2; n -= 2, x += 2 * step, out += 2 * units) {
        patches(p, g, x, x + step, out, out + units);
    }
    if (n) {
        patches(p, g, x, (const int8_t *)0, out, (int8_t *)0);
    }
}

/* Short runs (a few bytes, the common case for one-channel inputs) cost less inline than through a
 * memcpy or memset call. */
static void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
    if (n > 32) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    while (n-- > 0) {
        *dst++ = *src++;
    }
}

static void fill_bytes(int8_t *dst, int32_t value, int32_t n) {
    if (n > 32) {
        memset(dst, value, (size_t)n);
        return;
    }
    while (n-- > 0) {
        *dst++ = (int8_t)value;
    }
}

/* The taps [k0, k1) of a window starting at i0 that are inside [0, size). */
static void taps(int32_t i0, int32_t size, int32_t k, int32_t dil, int32_t *k0, int32_t *k1) {
    *k0 = i0 >= 0 ? 0 : (dil - 1 - i0) / dil;
    *k1 = size - i0 <= 0 ? 0 : (size - i0 + dil - 1) / dil;
    *k1 = *k1 < k ? *k1 : k;
    *k0 = *k0 < *k1 ? *k0 : *k1;
}

/* The k_h x k_w x in_c patch under one output pixel, padding read as in_zp (each row filled, then the
 * taps inside copied over it: only patches cut on both axes come here, so simple beats fast). */
static void gather(const bd_conv_params *p, const int8_t *image, int32_t iy0, int32_t ix0, int8_t *dst) {
    const int32_t in_c = p->in_c, row_bytes = p->k_w * in_c;
    int32_t ky, kx, kx0, kx1;
    taps(ix0, p->in_w, p->k_w, p->dil_w, &kx0, &kx1);
    for (ky = 0; ky < p->k_h; ky++, dst += row_bytes) {
        const int32_t iy = iy0 + ky * p->dil_h;
        fill_bytes(dst, p->in_zp, row_bytes);
        for (kx = kx0; kx < kx1 && iy >= 0 && iy < p->in_h; kx++) {
            /* undilated, the taps inside are one run */
            const int32_t n = p->dil_w == 1 ? (kx1 - kx0) * in_c : in_c;
            copy_bytes(dst + kx * in_c, image + ((size_t)iy * p->in_w + ix0 + kx * p->dil_w) * in_c, n);
            kx = p->dil_w == 1 ? kx1 : kx;
        }
    }
}

/* First and one-past-last output index whose window [o * stride - pad, + (k - 1) * dil] is inside [0, size);
 * layers.py's _inside is the same. */
static void inside(int32_t size, int32_t k, int32_t stride, int32_t dil, int32_t pad, int32_t outs, int32_t *lo,
                   int32_t *hi) {
    const int32_t last = size - 1 - (k - 1) * dil + pad; /* o * stride <= last */
    *lo = (pad + stride - 1) / stride;
    *hi = last < 0 ? 0 : last / stride + 1;
    *hi = *hi > outs ? outs : *hi;
    *hi = *hi < *lo ? *lo : *hi;
}

/* Output pixel (oy, ox): its patch read in place, clipped to the image, with the bias the generator folded
 * for that clipping (rows cut at the top or bottom: vbias, columns at a side: hbias); gathered into scratch
 * with padding when cut on both axes, or dilated across. Returns the patch's first byte. */
static const int8_t *view(const bd_conv_params *p, const int8_t *image, int32_t oy, int32_t ox, int8_t *scratch,
                          patch_t *g) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left, in_c = p->in_c;
    const int32_t *bias = p->mv.bias;
    int32_t ky0, ky1, kx0, kx1, lo, hi, cut_y, cut_x;
    taps(iy0, p->in_h, p->k_h, p->dil_h, &ky0, &ky1);
    taps(ix0, p->in_w, p->k_w, p->dil_w, &kx0, &kx1);
    cut_y = ky0 > 0 || ky1 < p->k_h;
    cut_x = kx0 > 0 || kx1 < p->k_w;
    if (cut_y && !cut_x && p->vbias) {
        inside(p->in_h, p->k_h, p->stride_h, p->dil_h, p->pad_top, p->out_h, &lo, &hi);
        bias = p->vbias + (size_t)(oy < lo ? oy : lo + oy - hi) * p->mv.units;
    } else if (cut_x && !cut_y && p->hbias) {
        inside(p->in_w, p->k_w, p->stride_w, p->dil_w, p->pad_left, p->out_w, &lo, &hi);
        bias = p->hbias + (size_t)(ox < lo ? ox : lo + ox - hi) * p->mv.units;
    }
    if (p->dil_w != 1 || ky0 == ky1 || kx0 == kx1 || ((cut_y || cut_x) && bias == p->mv.bias)) {
        gather(p, image, iy0, ix0, scratch);
        g->rows = 1, g->run = p->mv.depth, g->skip = 0, g->woff = 0, g->wskip = 0, g->bias = p->mv.bias;
        return scratch;
    }
    g->rows = ky1 - ky0, g->run = (kx1 - kx0) * in_c, g->skip = p->dil_h * p->in_w * in_c - g->run;
    g->woff = (ky0 * p->k_w + kx0) * in_c, g->wskip = (p->k_w - (kx1 - kx0)) * in_c, g->bias = bias;
    return image + ((size_t)(iy0 + ky0 * p->dil_h) * p->in_w + ix0 + kx0) * in_c;
}

static int32_t same_view(const patch_t *a, const patch_t *b) {
    return a->rows == b->rows && a->run == b->run && a->woff == b->woff && a->bias == b->bias;
}

/* `count` output pixels of row oy from column ox on, into out: the run whose patches are not cut at the
 * sides two at a time (they share one view), the others one at a time. */
static void conv_row(const bd_conv_params *p, const int8_t *image, int32_t oy, int32_t ox, int32_t count,
                     int8_t *out, int8_t *scratch) {
    const int32_t out_c = p->mv.units, end = ox + count;
    int32_t x_lo, x_hi;
    inside(p->in_w, p->k_w, p->stride_w, p->dil_w, p->pad_left, p->out_w, &x_lo, &x_hi);
    for (; ox < end; ox++, out += out_c) {
        patch_t g;
        const int8_t *x = view(p, image, oy, ox, scratch, &g);
        if (x != scratch && ox >= x_lo && ox < x_hi) {
            const int32_t n = (x_hi < end ? x_hi : end) - ox;
            patch_run(&p->mv, &g, x, p->stride_w * p->in_c, n, out);
            ox += n - 1, out += (n - 1) * out_c;
            continue;
        }
        patches(&p->mv, &g, x, (const int8_t *)0, out, (int8_t *)0);
    }
}

void bd_conv2d(const bd_conv_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t out_c = p->mv.units;
    int32_t b, oy;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        if (!p->gather && p->stride_h == 1 && p->stride_w == 1) {
            /* 1x1, stride 1, no padding: the image is one run of pixels, a plain matrix product */
            const patch_t g = {1, p->in_c, 0, 0, 0, p->mv.bias};
            patch_run(&p->mv, &g, image, p->in_c, p->out_h * p->out_w, out);
            out += (size_t)p->out_h * p->out_w * out_c;
            continue;
        }
        for (oy = 0; oy < p->out_h; oy++, out += p->out_w * out_c) {
            conv_row(p, image, oy, 0, p->out_w, out, scratch);
        }
    }
}

/* MAX_POOL_2D over the accumulators: requantization is monotonic (the generator checked: multipliers >= 0,
 * no left shift), so the largest accumulator of a window gives the largest int8 value, and one window
 * costs one requantization per channel instead of one per conv pixel. Channel blocks outer, the window's
 * pixels inner (two at a time where their views agree), the running maximum in registers. */
static void window_max(const bd_conv_params *c, const int8_t *image, int32_t y0, int32_t y1, int32_t x0, int32_t x1,
                       int8_t *out, int8_t *scratch) {
    int32_t acc[16], top[8];
    int32_t o, width = 1, y, x, j;
    for (o = 0; o < c->mv.units; o += width) {
        for (j = 0; j < 8; j++) {
            top[j] = INT32_MIN;
        }
        for (y = y0; y < y1; y++) {
            for (x = x0; x < x1; x++) {
                patch_t g, h;
                const int8_t *a = view(c, image, y, x, scratch, &g);
                const int8_t *b = a != scratch && x + 1 < x1 ? view(c, image, y, x + 1, scratch, &h) : scratch;
                if (b == scratch || !same_view(&g, &h)) {
                    b = (const int8_t *)0; /* (a gathered patch is never paired: b's view did not run or a is in place) */
                }
                width = block(&c->mv, &g, a, b, o, acc);
                for (j = 0; j < width; j++) {
                    top[j] = acc[j] > top[j] ? acc[j] : top[j];
                    top[j] = b && acc[8 + j] > top[j] ? acc[8 + j] : top[j];
                }
                x += b ? 1 : 0;
            }
        }
        store(&c->mv, top, o, width, out);
    }
}

void bd_conv2d_pool(const bd_conv_pool_params *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const bd_conv_params *c = &p->conv;
    const int32_t out_c = c->mv.units;
    int8_t *window = scratch;                            /* the window's conv outputs, [f_h * f_w][out_c] */
    int8_t *patch = scratch + p->f_h * p->f_w * out_c;   /* conv_row's gather buffer */
    int32_t b, py, px, y, ch, k;
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
                if (p->max_first && y0 < y1 && x0 < x1) {
                    window_max(c, image, y0, y1, x0, x1, out, patch);
                    for (ch = 0; ch < out_c; ch++) {
                        out[ch] = bd_clamp8(out[ch], p->act_min, p->act_max);
                    }
                    continue;
                }
                for (y = y0; y < y1 && x0 < x1; y++, count += x1 - x0) {
                    conv_row(c, image, y, x0, x1 - x0, window + count * out_c, patch);
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
    const patch_t flat = {1, p->mv.depth, 0, 0, 0, p->mv.bias};
    patch_run(&p->mv, &flat, in, p->mv.depth, p->batches, out);
}
