/* benchd reference C backend: data movement and reductions: CONCATENATION, SPLIT, SPLIT_V, PACK, UNPACK, SLICE,
 * STRIDED_SLICE, PAD, PADV2, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, MEAN, SUM, BATCH_MATMUL.
 * Included by benchd_kernels.h; bit-exact with TFLite's reference kernels. */
#ifndef BENCHD_MOVEMENT_H_
#define BENCHD_MOVEMENT_H_

#include <stdint.h>

/* -- CONCATENATION, SPLIT, SPLIT_V, PACK, UNPACK, SLICE, STRIDED_SLICE, PAD, PADV2, TRANSPOSE ------------
 * Each is a list of box copies, worked out by the generator: a box is up to 5 nested loops with an element
 * stride per loop on each side (a source stride may be negative: STRIDED_SLICE going backwards). */
#define BD_BOX_INTS 19  /* src, dst, src offset, dst offset, count[5], src stride[5], dst stride[5] */
typedef struct {
    int32_t fill_size;      /* PAD: bytes of out[0] set to fill_value before the copies (0: none) */
    int32_t fill_value;
    int32_t boxes;
    const int32_t *plan;    /* boxes * BD_BOX_INTS; src -1 reads the constant bytes in data */
    const int8_t *data;     /* constant inputs (CONCATENATION, PACK), concatenated */
} bd_move_params;

void bd_move(const bd_move_params *p, const int8_t *const *in, int8_t *const *out);

/* -- RESIZE_NEAREST_NEIGHBOR: the source row and column of every output pixel, computed by the generator ---- */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    const int32_t *rows;    /* [out_h] */
    const int32_t *cols;    /* [out_w] */
} bd_resize_params;

void bd_resize_nearest(const bd_resize_params *p, const int8_t *in, int8_t *out);

/* -- MEAN and SUM over any axes (up to 5-D): each output sums its values over the reduced loops, then TFLite's
 * QuantizedMeanOrSum rescales: (sum - zp * count) * multiplier + output zero point, clamped ------------------- */
typedef struct {
    int32_t outer[5], outer_stride[5];  /* the kept dimensions: one output per point */
    int32_t inner[5], inner_stride[5];  /* the reduced dimensions */
    int32_t as_uint8;                   /* SUM: TFLite's reference reads int8 bytes as uint8 (and clamps to 0..255) */
    int32_t zp_sum, mult, shift, out_zp, lo, hi;
} bd_reduce_params;

void bd_reduce(const bd_reduce_params *p, const int8_t *in, int8_t *out);

/* -- BATCH_MATMUL (int8, per-tensor), batch dimensions broadcast as TFLite does ----------------------------- */
typedef struct {
    int32_t batch[3], lhs_batch[3], rhs_batch[3];  /* broadcast batch loops and element strides (0: broadcast) */
    int32_t rows, cols, depth;
    int32_t lhs_row, lhs_k, rhs_k, rhs_col;      /* element strides: adj_x / adj_y swap them */
    int32_t lhs_offset, rhs_offset, out_zp, mult, shift, act_min, act_max;
    const int8_t *rhs;                           /* a constant RHS, or 0 when it is an activation */
} bd_batch_matmul_params;

void bd_batch_matmul(const bd_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out);
void bd_batch_matmul_const(const bd_batch_matmul_params *p, const int8_t *lhs, int8_t *out);

#endif
