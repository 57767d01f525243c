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

#endif
