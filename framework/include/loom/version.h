/* SPDX-License-Identifier: MIT */
/**
 * \file loom/version.h
 * \brief Version of the loom headers and of the linked library.
 */
#ifndef LOOM_VERSION_H
#define LOOM_VERSION_H

#include "loom/common.h"

/** \def LOOM_VERSION_MAJOR
 *  \brief Major version of these headers; changes break the API or ABI. */
/** \def LOOM_VERSION_MINOR
 *  \brief Minor version of these headers; additions that keep compatibility. */
/** \def LOOM_VERSION_PATCH
 *  \brief Patch version of these headers; fixes only. */
/** \def LOOM_VERSION_STRING
 *  \brief The headers' version as a string, "MAJOR.MINOR.PATCH"; compare
 *         with loom_version() to detect a mismatched libloom.so. */
#define LOOM_VERSION_MAJOR  0
#define LOOM_VERSION_MINOR  1
#define LOOM_VERSION_PATCH  0
#define LOOM_VERSION_STRING "0.1.0"

/**
 * \brief Version string of the library actually linked ("0.1.0").
 * \return a static string (never NULL, never freed). Cannot fail, never
 *         blocks, any thread, before or without MPI.
 */
LOOM_EXTERN const char *loom_version(void);

#endif /* LOOM_VERSION_H */
