/* SPDX-License-Identifier: MIT */
/**
 * \file loom.h
 * \brief Everything loom offers, in one include. Anything not declared in
 *        the headers below is internal and unsupported.
 */
#ifndef LOOM_H
#define LOOM_H

#include "loom/version.h"
#include "loom/error.h"
#include "loom/log.h"
#include "loom/config.h"
#include "loom/cpu.h"
#include "loom/context.h"
#include "loom/sync.h"
#include "loom/pool.h"
#include "loom/process.h"
#include "loom/job.h"
#include "loom/queue.h"
#include "loom/events.h"

#endif /* LOOM_H */
