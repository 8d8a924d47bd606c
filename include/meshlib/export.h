/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_EXPORT_H
#define MESHLIB_EXPORT_H

/* MESHLIB_EXTERN marks the library's entry points. Define MESHLIB_STATICLIB
 * when linking the static library on Windows. */
#if defined(_WIN32) && !defined(MESHLIB_STATICLIB)
#ifdef BUILDING_MESHLIB
#define MESHLIB_EXTERN __declspec(dllexport)
#else
#define MESHLIB_EXTERN __declspec(dllimport)
#endif
#elif defined(BUILDING_MESHLIB) && defined(__GNUC__)
#define MESHLIB_EXTERN __attribute__((visibility("default")))
#else
#define MESHLIB_EXTERN
#endif

#endif /* MESHLIB_EXPORT_H */
