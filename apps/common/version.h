/* SPDX-License-Identifier: MIT */
/*
 * --version of every program in apps/: which loom, which MPI and which
 * build of the program this is, printed the same way by all of them.
 */
#ifndef LOOM_APP_VERSION_H
#define LOOM_APP_VERSION_H

/* The option every program answers with app_print_version(). */
#define APP_VERSION_OPTION "--version"

/*
 * Print to stdout, one item a line: "PROG (loom) VERSION" (the version of
 * the libloom.so actually loaded), that library's path and ELF build id
 * (and the headers' version when it differs), the MPI the program was
 * compiled with (mpi.h: Open MPI's major.minor.release) and the MPI
 * library it runs with (MPI_Get_library_version, which needs no
 * MPI_Init), and the ELF build id of the program itself ("none" when it
 * was linked without one). prog: the program's name. Never fails, never
 * blocks; call it before MPI_Init (or after MPI_Finalize), from one
 * thread.
 */
void app_print_version(const char *prog);

#endif
