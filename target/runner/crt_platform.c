/* The few TVM CRT platform hooks an AOT model can call, on ESP-IDF. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tvm/runtime/crt/error_codes.h"
#include "tvm/runtime/crt/platform.h"

void TVMPlatformAbort(tvm_crt_error_t error) {
    printf("benchd: TVM aborted with error %d\n", (int)error);
    abort();
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
