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

/**
 * \def LOOM_EXTERN
 * \brief Marks a declaration as part of loom's public ABI: exported from
 *        libloom.so (default visibility) when the library itself is built,
 *        empty for code that includes the headers. Not for applications.
 */
#if defined(LOOM_BUILDING) && defined(__GNUC__)
#define LOOM_EXTERN __attribute__((visibility("default")))
#else
#define LOOM_EXTERN
#endif

/**
 * \def LOOM_PRINTF(fmt, args)
 * \brief Lets the compiler check a printf-style call (GCC/Clang `format`
 *        attribute); empty for other compilers.
 * \param fmt  1-based position of the format string parameter.
 * \param args 1-based position of the first variadic argument.
 */
#if defined(__GNUC__)
#define LOOM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LOOM_PRINTF(fmt, args)
#endif

/**
 * \brief Timeout argument meaning "wait as long as it takes".
 *
 * Every `timeout_ms` parameter in loom takes #LOOM_NOWAIT (try once, never
 * block), a positive number of milliseconds, or #LOOM_FOREVER.
 */
#define LOOM_FOREVER (-1)
/** \brief Timeout argument meaning "do not wait at all": try once, never block. */
#define LOOM_NOWAIT 0

#endif /* LOOM_COMMON_H */
