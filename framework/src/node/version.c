/* SPDX-License-Identifier: MIT */
/* version.c — the library's version string, fixed at build time
 * (LOOM_VERSION_STRING in loom/version.h). */
#include "loom/version.h"

const char *
loom_version(void)
{
    return LOOM_VERSION_STRING;
}
