/* Stand-in for the CRT's stack_allocator.c: like TVM's, it needs the application's crt_config.h. */
#include "crt_config.h"
#include <tvm/runtime/crt/logging.h>
