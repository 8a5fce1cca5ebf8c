/* SPDX-License-Identifier: MIT */
#include "loom/version.h"

const char *
loom_version(void)
{
    return LOOM_VERSION_STRING;
}
