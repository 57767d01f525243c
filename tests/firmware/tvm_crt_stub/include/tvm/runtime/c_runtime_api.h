/* Stand-in for tvm/runtime/c_runtime_api.h. */
#ifndef TVM_RUNTIME_C_RUNTIME_API_H_
#define TVM_RUNTIME_C_RUNTIME_API_H_
#include <dlpack/dlpack.h>
#include <stddef.h>
#include <stdint.h>

#define TVM_DLL

typedef union {
    int64_t v_int64;
    double v_float64;
    void *v_handle;
    const char *v_str;
    DLDataType v_type;
    DLDevice v_device;
} TVMValue;

TVM_DLL void TVMAPISetLastError(const char *msg);

#endif
