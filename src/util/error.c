/* SPDX-License-Identifier: MIT */
#include "meshlib/error.h"

const char *meshlib_strerror(int code) {
  switch (code) {
#define ML_ERR_MSG(name, value, msg)                                           \
  case value:                                                                  \
    return msg;
    MESHLIB_ERRNO_MAP(ML_ERR_MSG)
#undef ML_ERR_MSG
  default:
    return "unknown error";
  }
}

const char *meshlib_err_name(int code) {
  switch (code) {
#define ML_ERR_NAME(name, value, msg)                                          \
  case value:                                                                  \
    return "MESHLIB_" #name;
    MESHLIB_ERRNO_MAP(ML_ERR_NAME)
#undef ML_ERR_NAME
  default:
    return "MESHLIB_ERR_UNKNOWN";
  }
}

int meshlib_is_fatal(int code) {
  return code <= MESHLIB_ERR_FATAL;
}
