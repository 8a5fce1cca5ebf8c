/* SPDX-License-Identifier: MIT */
/**
 * \file loom/common.h
 * \brief Definitions every loom header shares: the export macro and the
 *        timeout conventions.
 *
 * Anything not declared in the headers under include/loom/ is internal and
 * unsupported; the library is built with hidden visibility so internal
 * symbols cannot be linked against by accident.
 */
#ifndef LOOM_COMMON_H
#define LOOM_COMMON_H

#if defined(LOOM_BUILDING) && defined(__GNUC__)
#define LOOM_EXTERN __attribute__((visibility("default")))
#else
#define LOOM_EXTERN
#endif

#if defined(__GNUC__)
#define LOOM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LOOM_PRINTF(fmt, args)
#endif

/** Timeout argument meaning "wait as long as it takes". */
#define LOOM_FOREVER (-1)
/** Timeout argument meaning "do not wait at all". */
#define LOOM_NOWAIT 0

#endif /* LOOM_COMMON_H */
