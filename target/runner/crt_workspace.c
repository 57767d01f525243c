/* TVMBackendAllocWorkspace/FreeWorkspace over malloc, for a TVM archive built without USMP (its operators ask
 * the runtime for scratch memory at run time). The CRT's own version (crt_backend_api.c, stack_allocator.c)
 * needs a crt_config.h that no MLF archive ships; with USMP nothing calls these and the build leaves them out. */
#include <stdint.h>
#include <stdlib.h>

#include "tvm/runtime/c_backend_api.h"

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint) {
    (void)device_type;
    (void)device_id;
    (void)dtype_code_hint;
    (void)dtype_bits_hint;
    return malloc((size_t)nbytes);
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr) {
    (void)device_type;
    (void)device_id;
    free(ptr);
    return 0;
}
