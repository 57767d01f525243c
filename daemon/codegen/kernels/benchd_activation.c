/* The unary activations as one 256-entry table lookup per value (tables folded by the generator). */
#include "benchd_kernels.h"

void bd_lookup(const bd_lookup_params *p, const int8_t *in, int8_t *out) {
    const int8_t *table = p->table + 128;
    int32_t i;
    for (i = 0; i < p->size; i++) {
        out[i] = table[in[i]];
    }
}
