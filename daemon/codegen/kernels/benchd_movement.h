/* benchd reference C backend: data movement and reductions: CONCATENATION, SPLIT, SPLIT_V, PACK, UNPACK, SLICE,
 * STRIDED_SLICE, PAD, PADV2, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, MEAN, SUM, BATCH_MATMUL.
 * Included by benchd_kernels.h; bit-exact with TFLite's reference kernels. */
#ifndef BENCHD_MOVEMENT_H_
#define BENCHD_MOVEMENT_H_

#include <stdint.h>

#endif
