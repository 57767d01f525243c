/* The few TVM CRT platform hooks TVM code can call, for a TVM archive (one with runtime/): plain libc, so the
 * same file serves ESP-IDF and the virtual core. Only headers of runtime/include are used: none needs the
 * crt_config.h that an MLF archive does not ship. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tvm/runtime/crt/error_codes.h"
#include "tvm/runtime/crt/logging.h"
#include "tvm/runtime/crt/platform.h"

void TVMPlatformAbort(tvm_crt_error_t error) {
    printf("benchd: TVM aborted with error %d\n", (int)error);
    abort();
}

/* The CRT's logging entry point (tvm/runtime/crt/logging.h), called by its LOG macros. */
void TVMLogf(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
}

size_t TVMPlatformFormatMessage(char *out_buf, size_t out_buf_size_bytes, const char *fmt, va_list args) {
    return (size_t)vsnprintf(out_buf, out_buf_size_bytes, fmt, args);
}

tvm_crt_error_t TVMPlatformMemoryAllocate(size_t num_bytes, DLDevice dev, void **out_ptr) {
    (void)dev;
    *out_ptr = malloc(num_bytes);
    return *out_ptr ? kTvmErrorNoError : kTvmErrorPlatformNoMemory;
}

tvm_crt_error_t TVMPlatformMemoryFree(void *ptr, DLDevice dev) {
    (void)dev;
    free(ptr);
    return kTvmErrorNoError;
}
