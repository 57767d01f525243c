/* AVERAGE_POOL_2D and MAX_POOL_2D: the window is clipped to the image (padding is never counted), the
 * average rounds half away from zero with integer division, then the fused activation clamps. */
#include "benchd_kernels.h"

typedef struct {
    int32_t y0, y1, x0, x1; /* the window inside the image, [y0, y1) x [x0, x1) */
} window_t;

static window_t clip(const bd_pool_params *p, int32_t oy, int32_t ox) {
    window_t w;
    const int32_t iy = oy * p->stride_h - p->pad_top;
    const int32_t ix = ox * p->stride_w - p->pad_left;
    w.y0 = iy < 0 ? 0 : iy;
    w.y1 = iy + p->f_h < p->in_h ? iy + p->f_h : p->in_h;
    w.x0 = ix < 0 ? 0 : ix;
    w.x1 = ix + p->f_w < p->in_w ? ix + p->f_w : p->in_w;
    return w;
}

void bd_average_pool(const bd_pool_params *p, const int8_t *in, int8_t *out) {
    const int32_t c_n = p->channels;
    const int32_t row = p->in_w * c_n;
    int32_t b, oy, ox, c, y, x;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * row;
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const window_t w = clip(p, oy, ox);
                const int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
                for (c = 0; c < c_n; c++) {
                    int32_t acc = 0;
                    for (y = w.y0; y < w.y1; y++) {
                        const int8_t *src = image + (size_t)y * row + (size_t)w.x0 * c_n + c;
                        for (x = w.x0; x < w.x1; x++, src += c_n) {
                            acc += *src;
                        }
                    }
                    if (count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *out++ = bd_clamp8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void bd_max_pool(const bd_pool_params *p, const int8_t *in, int8_t *out) {
    const int32_t c_n = p->channels;
    const int32_t row = p->in_w * c_n;
    int32_t b, oy, ox, c, y, x;
    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * row;
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const window_t w = clip(p, oy, ox);
                for (c = 0; c < c_n; c++) {
                    int32_t best = -128;
                    for (y = w.y0; y < w.y1; y++) {
                        const int8_t *src = image + (size_t)y * row + (size_t)w.x0 * c_n + c;
                        for (x = w.x0; x < w.x1; x++, src += c_n) {
                            best = *src > best ? *src : best;
                        }
                    }
                    *out++ = bd_clamp8(best, p->act_min, p->act_max);
                }
            }
        }
    }
}
