/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: loading a configuration file (framework/src/node/config.c,
 * over libconfig, with loom's own fix-up of integer literals). Any bytes as
 * loom.cfg: loading succeeds or fails with a message; on failure no setting
 * changed (all or nothing: the defaults still read back), on success every
 * setting reads back.
 */
#include "fuzz_common.h"
#include "loom/config.h"

static const char *const keys[] = {"pool.threads", "job.heartbeat", "job.worker_timeout",
                                   "job.prefetch", "log.level"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("loom.cfg", data, size);
    loom_config *cfg, *defaults;
    if (loom_config_create(&cfg) != LOOM_OK || loom_config_create(&defaults) != LOOM_OK)
        abort();
    loom_err e = loom_config_load_file(cfg, path);
    if (e != LOOM_OK) {
        const char *msg = loom_config_error(cfg);
        if (!msg || !*msg)
            abort(); /* every refusal says why */
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *a = loom_config_origin(cfg, keys[i]),
                   *b = loom_config_origin(defaults, keys[i]);
        if ((a == NULL) != (b == NULL))
            abort(); /* a known key is known whatever the file said */
        if (e != LOOM_OK && a && b && strcmp(a, b) != 0)
            abort(); /* a refused file changed nothing */
    }
    loom_config_destroy(defaults);
    loom_config_destroy(cfg);
    return 0;
}
