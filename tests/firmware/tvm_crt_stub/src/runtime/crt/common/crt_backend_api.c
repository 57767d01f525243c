/* Stand-in for the CRT's crt_backend_api.c: like TVM's, it needs the application's crt_config.h. */
#include "crt_config.h"
#include <tvm/runtime/c_backend_api.h>
