/* SPDX-License-Identifier: MIT */
/*
 * --version of every program in apps/ (see version.h). The build ids are
 * the GNU build-id notes the linker writes (ld --build-id, on by default
 * on Debian): the executable's is the one loom_job_start() compares
 * between ranks (framework/src/runtime/job.c), libloom's says exactly
 * which build of the library was loaded.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <mpi.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <loom.h>

#include "version.h"

/* What find_object looks for and what it found. */
struct object_search {
    const char *soname;  /* basename prefix of a shared object; NULL: the executable */
    int seen;            /* objects visited */
    char path[PATH_MAX]; /* its canonical path ("" for the executable) */
    char id[2 * 64 + 1]; /* its build id in hex; "" when it has none */
};

/* The GNU build id among the PT_NOTE segments of one loaded object, as
 * hex into out (size 2 * 64 + 1); "" when there is none. */
static void
build_id_hex(const struct dl_phdr_info *info, char *out)
{
    out[0] = '\0';
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const char *name = p + sizeof *nh;
            const unsigned char *desc = (const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
            if ((const char *)desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                nh->n_descsz <= 64) {
                for (unsigned j = 0; j < nh->n_descsz; j++)
                    snprintf(out + 2 * j, 3, "%02x", desc[j]);
                return;
            }
            p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

/* dl_iterate_phdr callback: the first object is the executable. */
static int
find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct object_search *s = arg;
    (void)size;
    int first = s->seen++ == 0;
    if (s->soname) {
        const char *base = strrchr(info->dlpi_name, '/');
        base = base ? base + 1 : info->dlpi_name;
        if (first || strncmp(base, s->soname, strlen(s->soname)) != 0)
            return 0;
    } else if (!first) {
        return 1;
    }
    /* canonical: the loader names it as found, e.g. .../bin/../lib/... */
    char real[PATH_MAX];
    snprintf(s->path, sizeof s->path, "%s",
             realpath(info->dlpi_name, real) ? real : info->dlpi_name);
    build_id_hex(info, s->id);
    return 1;
}

/* The MPI library's own name for itself, up to its first comma or line
 * end ("Open MPI v4.1.4"). */
static void
mpi_library(char *out, size_t size)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS || len <= 0) {
        snprintf(out, size, "unknown");
        return;
    }
    v[strcspn(v, ",\n")] = '\0';
    snprintf(out, size, "%s", v);
}

void
app_print_version(const char *prog)
{
    struct object_search exe = {.soname = NULL}, lib = {.soname = "libloom.so"};
    dl_iterate_phdr(find_object, &exe);
    dl_iterate_phdr(find_object, &lib);
    char running[MPI_MAX_LIBRARY_VERSION_STRING];
    mpi_library(running, sizeof running);

    printf("%s (loom) %s\n", prog, loom_version());
    printf("libloom: %s, build id %s", lib.path[0] ? lib.path : "(linked statically)",
           lib.id[0] ? lib.id : "none");
    if (strcmp(loom_version(), LOOM_VERSION_STRING) != 0)
        printf(" (this program was compiled with loom %s's headers)", LOOM_VERSION_STRING);
    printf("\n");
#if defined(OMPI_MAJOR_VERSION)
    printf("MPI: compiled with Open MPI %d.%d.%d (MPI %d.%d), running %s\n", OMPI_MAJOR_VERSION,
           OMPI_MINOR_VERSION, OMPI_RELEASE_VERSION, MPI_VERSION, MPI_SUBVERSION, running);
#else
    printf("MPI: compiled with MPI %d.%d, running %s\n", MPI_VERSION, MPI_SUBVERSION, running);
#endif
    printf("build id: %s\n", exe.id[0] ? exe.id : "none");
    fflush(stdout);
}
