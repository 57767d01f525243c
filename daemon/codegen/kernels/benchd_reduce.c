/* MEAN, SUM and BATCH_MATMUL (int8), bit-exact with TFLite's reference kernels. */
#include "benchd_kernels.h"

static int32_t sum_inner(const bd_reduce_params *p, const int8_t *in) {
    const int32_t *n = p->inner, *s = p->inner_stride;
    int32_t i0, i1, i2, i3, i4, acc = 0;
    for (i0 = 0; i0 < n[0]; i0++) {
        for (i1 = 0; i1 < n[1]; i1++) {
            for (i2 = 0; i2 < n[2]; i2++) {
                for (i3 = 0; i3 < n[3]; i3++) {
                    const int8_t *v = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
                    if (p->as_uint8) {
                        for (i4 = 0; i4 < n[4]; i4++) {
                            acc += (uint8_t)v[i4 * s[4]];
                        }
                    } else {
                        for (i4 = 0; i4 < n[4]; i4++) {
                            acc += v[i4 * s[4]];
                        }
                    }
                }
            }
        }
    }
    return acc;
}

void bd_reduce(const bd_reduce_params *p, const int8_t *in, int8_t *out) {
    const int32_t *n = p->outer, *s = p->outer_stride;
    int32_t i0, i1, i2, i3, i4;
    for (i0 = 0; i0 < n[0]; i0++) {
        for (i1 = 0; i1 < n[1]; i1++) {
            for (i2 = 0; i2 < n[2]; i2++) {
                for (i3 = 0; i3 < n[3]; i3++) {
                    const int8_t *v = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
                    for (i4 = 0; i4 < n[4]; i4++) {
                        const int32_t sum = sum_inner(p, v + i4 * s[4]) - p->zp_sum;
                        int32_t r = bd_requant(sum, p->mult, p->shift) + p->out_zp;
                        r = r < p->lo ? p->lo : r;
                        r = r > p->hi ? p->hi : r;
                        *out++ = (int8_t)(uint8_t)((uint32_t)r & 0xffu);
                    }
                }
            }
        }
    }
}

void bd_batch_matmul(const bd_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out) {
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            for (b2 = 0; b2 < p->batch[2]; b2++) {
                const int8_t *a = lhs + b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] + b2 * p->lhs_batch[2];
                const int8_t *b = rhs + b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] + b2 * p->rhs_batch[2];
                for (i = 0; i < p->rows; i++) {
                    for (j = 0; j < p->cols; j++) {
                        const int8_t *x = a + i * p->lhs_row;
                        const int8_t *w = b + j * p->rhs_col;
                        int32_t acc = 0;
                        for (k = 0; k < p->depth; k++) {
                            acc += (x[k * p->lhs_k] + p->lhs_offset) * (w[k * p->rhs_k] + p->rhs_offset);
                        }
                        *out++ = bd_clamp8(bd_requant(acc, p->mult, p->shift) + p->out_zp, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void bd_batch_matmul_const(const bd_batch_matmul_params *p, const int8_t *lhs, int8_t *out) {
    bd_batch_matmul(p, lhs, p->rhs, out);
}
