/* DEPTHWISE_CONV_2D, any kernel size, stride, dilation and depth multiplier, channel by channel.
 *
 * As in CONV_2D the bias carries -in_zp * sum(w); inside the image the tap loop is a plain sum(x * w),
 * and at the borders a tap in the padding reads in_zp, which cancels the folded term exactly. Every
 * parameter is copied to a local first: the int8 output stores may alias anything, so values read
 * through p would be reloaded after each store. */
#include "benchd_kernels.h"

/* acc -> int8 with one output channel's requant constants (see bd_dwconv_params.fast), passed by value:
 * int8 stores may alias anything, so values read through a pointer would be reloaded after each one.
 * The general form stays out of line, so that the loops keep the registers the fast form needs. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t general(int32_t acc, int32_t q1, int32_t q2, int32_t q3) {
    return bd_requant(acc, q1, q2) + q3;
}

static inline int8_t finish(int32_t acc, int32_t q1, int32_t q2, int32_t q3, int32_t fast, int32_t lo, int32_t hi) {
    return bd_clamp8(fast ? bd_requant_fast(acc, (uint32_t)q1, q2, q3) : general(acc, q1, q2, q3), lo, hi);
}

/* Per channel, not per pixel: kept out of line so that its loop has the registers to itself. */
#if defined(__GNUC__)
#define DW_NOINLINE __attribute__((noinline))
#else
#define DW_NOINLINE
#endif

typedef struct {
    int32_t in_h, in_w, in_c, k_h, k_w, dil_h, dil_w, in_zp;
} geometry;

/* A window that crosses the border: padded taps read in_zp. */
static int32_t border_taps(const geometry *g, const int8_t *plane, int32_t iy0, int32_t ix0, const int8_t *w) {
    int32_t acc = 0;
    int32_t ky, kx;
    for (ky = 0; ky < g->k_h; ky++) {
        const int32_t iy = iy0 + ky * g->dil_h;
        const int inside_y = iy >= 0 && iy < g->in_h;
        for (kx = 0; kx < g->k_w; kx++) {
            const int32_t ix = ix0 + kx * g->dil_w;
            const int32_t x = (inside_y && ix >= 0 && ix < g->in_w) ? plane[((size_t)iy * g->in_w + ix) * g->in_c]
                                                                     : g->in_zp;
            acc += x * *w++;
        }
    }
    return acc;
}

/* A one-column image (a streaming model's time axis) with a one-column kernel: no per-row bookkeeping,
 * taps two at a time. c: the channel's bias, q1, q2, q3. */
DW_NOINLINE static void column(const geometry *g, const bd_dwconv_params *p, const int8_t *plane, const int8_t *w,
                   const int32_t *c, int8_t *o, int32_t out_c) {
    const int32_t out_h = p->out_h, sh = p->stride_h, pt = p->pad_top, k_h = g->k_h, fast = p->fast;
    const int32_t lo = p->act_min, hi = p->act_max, bias = c[0], q1 = c[1], q2 = c[2], q3 = c[3];
    const int32_t row_step = g->dil_h * g->in_c, span_h = (k_h - 1) * g->dil_h;
    const int8_t *const wend = w + (k_h & ~1);
    int32_t oy;
    for (oy = 0; oy < out_h; oy++, o += out_c) {
        const int32_t iy0 = oy * sh - pt;
        int32_t acc = bias;
        if (iy0 >= 0 && iy0 + span_h < g->in_h) {
            const int8_t *xp = plane + (size_t)iy0 * g->in_c;
            const int8_t *wp = w;
            for (; wp < wend; wp += 2, xp += 2 * row_step) {
                acc += (int32_t)xp[0] * wp[0] + (int32_t)xp[row_step] * wp[1];
            }
            if (k_h & 1) {
                acc += (int32_t)xp[0] * wp[0];
            }
        } else {
            acc += border_taps(g, plane, iy0, 0, w);
        }
        *o = finish(acc, q1, q2, q3, fast, lo, hi);
    }
}

void bd_depthwise_conv2d(const bd_dwconv_params *p, const int8_t *in, int8_t *out) {
    const geometry g = {p->in_h, p->in_w, p->in_c, p->k_h, p->k_w, p->dil_h, p->dil_w, p->in_zp};
    const int32_t out_h = p->out_h, out_w = p->out_w, mult = p->depth_mult, out_c = p->in_c * p->depth_mult;
    const int32_t sh = p->stride_h, sw = p->stride_w, pt = p->pad_top, pl = p->pad_left;
    const int32_t x_lo = p->x_lo, x_hi = p->x_hi, fast = p->fast, lo = p->act_min, hi = p->act_max;
    const int32_t k_h = g.k_h, k_w = g.k_w, taps = g.k_h * g.k_w;
    const int32_t tap_step = g.dil_w * g.in_c, row_step = g.dil_h * g.in_w * g.in_c;
    const int32_t span_h = (k_h - 1) * g.dil_h;
    const int32_t x_step = sw * g.in_c;
    const int8_t *weights = p->weights;
    const int32_t *chan = p->chan;
    const int8_t *shift = p->shift;
    int32_t b, oc, oy, ox;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * g.in_h * g.in_w * g.in_c;
        int8_t *image_out = out + (size_t)b * out_h * out_w * out_c;
        for (oc = 0; oc < out_c; oc++) {
            const int8_t *plane = image + oc / mult;
            const int8_t *w = weights + (size_t)oc * taps;
            const int32_t bias = chan[2 * oc], q1 = chan[2 * oc + 1], q2 = shift[oc];
            const int32_t q3 = fast ? bd_dw_k(q2, p->out_zp) : p->out_zp;
            int8_t *o = image_out + oc;
            if (out_w == 1 && k_w == 1 && x_lo == 0 && x_hi == 1) {
                const int32_t c[4] = {bias, q1, q2, q3};
                column(&g, p, plane, w, c, o, out_c);
                continue;
            }
            for (oy = 0; oy < out_h; oy++) {
                const int32_t iy0 = oy * sh - pt;
                const int inside_y = iy0 >= 0 && iy0 + span_h < g.in_h;
                const int32_t a = inside_y ? x_lo : out_w, z = inside_y ? x_hi : out_w;
                const int8_t *corner = a < z ? plane + ((size_t)iy0 * g.in_w + (a * sw - pl)) * g.in_c : plane;
                for (ox = 0; ox < a; ox++, o += out_c) {
                    *o = finish(bias + border_taps(&g, plane, iy0, ox * sw - pl, w), q1, q2, q3, fast, lo, hi);
                }
                for (; ox < z; ox++, o += out_c, corner += x_step) {
                    const int8_t *row = corner;
                    const int8_t *wp = w;
                    int32_t acc = bias;
                    int32_t ky, kx;
                    if (k_w == 1) {
                        for (ky = 0; ky < k_h; ky++, row += row_step) {
                            acc += (int32_t)row[0] * *wp++;
                        }
                    } else {
                        for (ky = 0; ky < k_h; ky++, row += row_step) {
                            const int8_t *xp = row;
                            for (kx = 0; kx < k_w; kx++, xp += tap_step) {
                                acc += (int32_t)xp[0] * *wp++;
                            }
                        }
                    }
                    *o = finish(acc, q1, q2, q3, fast, lo, hi);
                }
                for (; ox < out_w; ox++, o += out_c) {
                    *o = finish(bias + border_taps(&g, plane, iy0, ox * sw - pl, w), q1, q2, q3, fast, lo, hi);
                }
            }
        }
    }
}
