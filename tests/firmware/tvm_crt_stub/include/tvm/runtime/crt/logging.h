/* Stand-in for tvm/runtime/crt/logging.h: TVMLogf, which the platform provides. */
#ifndef TVM_RUNTIME_CRT_LOGGING_H_
#define TVM_RUNTIME_CRT_LOGGING_H_
#include <tvm/runtime/crt/platform.h>

void __attribute__((format(printf, 1, 2))) TVMLogf(const char *fmt, ...);

#endif
