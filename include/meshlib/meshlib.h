/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_H
#define MESHLIB_H

/* The umbrella header: applications include only this one; their tests
 * add <meshlib/testing.h>, the mock-upstream kit (libmeshlib-testing). */
#include "export.h"
#include <meshlib/version.h> /* generated at build time */
#include "error.h"
#include "mesh.h"
#include "clusters.h"
#include "control.h"
#include "request.h"
#include "loop.h"
#include "tracing.h"
#include "metrics.h"

#endif /* MESHLIB_H */
