/* SPDX-License-Identifier: MIT */
/*
 * The fingerprint every rank contributes to the start-up agreement (job.c)
 * and a joining job shows the acceptor (join.c): the ELF build id of the
 * executable (a hash of its bytes when it has none), an FNV-1a hash of the
 * registered function names in order, their number and the wire protocol
 * version. Two processes whose fingerprints agree number the same
 * functions alike and speak the same protocol.
 *
 * Any thread; reads the registry, which no longer changes once a job
 * starts, and the executable (dl_iterate_phdr, /proc/self/exe).
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "fingerprint.h"
#include "job_types.h"
#include "swarm.h"
#include "wire.h"

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

struct build_id_search {
    uint64_t hash;
    int found;
};

static int
find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct build_id_search *s = arg;
    (void)size;
    /* the first object is the executable itself */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const char *name = p + sizeof *nh;
            const char *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                s->hash = fnv1a(FNV_INIT, desc, nh->n_descsz);
                s->found = 1;
                return 1;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* only look at the executable */
}

/* Identity of the running executable: its build id, else a hash of the
 * file's bytes. */
static uint64_t
binary_identity(void)
{
    struct build_id_search s = {0, 0};
    dl_iterate_phdr(find_build_id, &s);
    if (s.found)
        return s.hash;
    uint64_t h = FNV_INIT;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        h = fnv1a(h, buf, (size_t)n);
    close(fd);
    return h;
}

void
loom__job_fingerprint(const loom_job *job, loom_err prep, struct loom__fingerprint *fp)
{
    *fp = (struct loom__fingerprint){binary_identity(),
                                     FNV_INIT,
                                     job->nfns,
                                     WIRE_VERSION,
                                     prep == LOOM_OK,
                                     (int32_t)prep,
                                     job->rank == 0 ? loom__swarm_width() : 0,
                                     0};
    for (unsigned i = 0; i < job->nfns; i++)
        fp->registry = fnv1a(fp->registry, job->fns[i].name, strlen(job->fns[i].name) + 1);
}

const char *
loom__fingerprint_differs(const struct loom__fingerprint *fp, const struct loom__fingerprint *ref)
{
    if (fp->binary != ref->binary)
        return "runs a different binary than";
    if (fp->wire_version != ref->wire_version)
        return "speaks a different loom protocol than";
    if (fp->registry != ref->registry || fp->nfns != ref->nfns)
        return "registered different task functions than";
    if (fp->swarm != ref->swarm) /* swarm.h: a swarm and its master only */
        return fp->swarm ? "is a swarm of virtual workers (LOOM_SWARM), unlike"
                         : "is a real worker, not the swarm (LOOM_SWARM) expected by";
    return NULL;
}
