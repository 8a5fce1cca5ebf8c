/* SPDX-License-Identifier: MIT */
/**
 * \file loom/version.h
 * \brief Version of the loom headers and of the linked library.
 */
#ifndef LOOM_VERSION_H
#define LOOM_VERSION_H

#include "loom/common.h"

#define LOOM_VERSION_MAJOR  0
#define LOOM_VERSION_MINOR  1
#define LOOM_VERSION_PATCH  0
#define LOOM_VERSION_STRING "0.1.0"

/**
 * \brief Version string of the library actually linked ("0.1.0").
 * \return a static string. Cannot fail, any thread.
 */
LOOM_EXTERN const char *loom_version(void);

#endif /* LOOM_VERSION_H */
