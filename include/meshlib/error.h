/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_ERROR_H
#define MESHLIB_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every function that can fail returns MESHLIB_OK (0) or one of these
 * negative codes. Ranges: -1..-99 misuse, -100 out of memory, -200s
 * config, -300s TLS and identity, -400s transport, <= -900 fatal.
 * Codes are append-only: never renumbered, never reused. */
#define MESHLIB_ERRNO_MAP(XX)                                                  \
  XX(OK, 0, "success")                                                         \
  XX(ERR_INVALID_ARG, -1, "invalid argument")                                  \
  XX(ERR_BAD_HANDLE, -2, "handle is NULL, freed or of the wrong kind")         \
  XX(ERR_NOT_FOUND, -3, "not found")                                           \
  XX(ERR_RANGE, -4, "index or value out of range")                             \
  XX(ERR_BAD_URL, -5, "malformed URL")                                         \
  XX(ERR_BAD_HEADER, -6, "malformed header name or value")                     \
  XX(ERR_NOMEM, -100, "out of memory")                                         \
  XX(ERR_CONFIG, -200, "invalid configuration")                                \
  XX(ERR_CONFIG_IO, -201, "configuration file could not be read")              \
  XX(ERR_CONFIG_SYNTAX, -202, "configuration is not well-formed YAML")         \
  XX(ERR_CONFIG_STRICT, -203, "unknown field refused in strict mode")          \
  XX(ERR_CONFIG_EMPTY, -204, "no configuration has been loaded")               \
  XX(ERR_IO, -499, "a socket, pipe or thread could not be set up")

typedef enum meshlib_error {
#define MESHLIB_ERRNO_ENUM(name, value, msg) MESHLIB_##name = (value),
  MESHLIB_ERRNO_MAP(MESHLIB_ERRNO_ENUM)
#undef MESHLIB_ERRNO_ENUM
      MESHLIB_ERR_FATAL = -900 /* below this, the object is unusable */
} meshlib_error;

/**
 * A static, human-readable message for |code|; unknown codes give
 * "unknown error".
 * Ownership: static storage, never freed.
 * Thread-safety: any thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_strerror(int code);

/**
 * The symbolic name of |code|, e.g. "MESHLIB_ERR_CONFIG".
 * Ownership: static storage. Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_err_name(int code);

/**
 * Nonzero when |code| leaves the object that returned it unusable.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_is_fatal(int code);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_ERROR_H */
