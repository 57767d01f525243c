/* Stand-in for tvm/runtime/crt/error_codes.h. */
#ifndef TVM_RUNTIME_CRT_ERROR_CODES_H_
#define TVM_RUNTIME_CRT_ERROR_CODES_H_

typedef enum {
    kTvmErrorNoError = 0,
    kTvmErrorPlatformCheckFailure = 0x0201,
    kTvmErrorPlatformMemoryManagerInitialized = 0x0202,
    kTvmErrorPlatformNoMemory = 0x0206,
} tvm_crt_error_t;

#endif
