/* benchd reference C backend: the unary int8 activations (LOGISTIC, TANH, HARD_SWISH, RELU, RELU6,
 * RELU_N1_TO_1, LEAKY_RELU). Each maps one int8 value to one int8 value, so the generator evaluates
 * TFLite's reference arithmetic for all 256 inputs and the kernel looks the results up.
 * (SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM and PRELU are binary operators: benchd_kernels.h, with ADD/MUL.)
 * Included by benchd_kernels.h; bit-exact with TFLite's reference kernels. */
#ifndef BENCHD_ACTIVATION_H_
#define BENCHD_ACTIVATION_H_

#include <stdint.h>

typedef struct {
    int32_t size;           /* values in the tensor */
    const int8_t *table;    /* [x + 128]: the operator's output for input x */
} bd_lookup_params;

void bd_lookup(const bd_lookup_params *p, const int8_t *in, int8_t *out);

#endif
