# SPDX-License-Identifier: MIT
# Runs at install time, not at configure time (install(CODE) includes it:
# see loom_install_configured in LoomInstall.cmake). Writes LOOM_TEMPLATE
# with @VAR@ replaced into <prefix>/LOOM_DESTINATION/LOOM_OUTPUT_NAME,
# where <prefix> is the prefix installed to — `cmake --install --prefix X`
# or CPack's /usr as well as CMAKE_INSTALL_PREFIX — made absolute and
# normal: the file says /opt/loom/lib, never .../lib/pkgconfig/../..//lib.
# DESTDIR is honoured and the file is recorded in install_manifest.txt.
#
# Set for the template: LOOM_PREFIX, LOOM_BINDIR, LOOM_LIBDIR,
# LOOM_INCLUDEDIR, LOOM_MANDIR, LOOM_DATADIR (absolute), LOOM_PC_<DIR>
# (the same as pkg-config writes them: ${prefix}/lib when under the prefix)
# and LOOM_PC_RPATH (" -Wl,-rpath,${libdir}", or "" when the library
# directory is one the linker and loader search anyway, LOOM_SYSTEM_LIBDIRS)
# and LOOM_SYSTEM_PREFIX (1 then, else 0).
get_filename_component(LOOM_PREFIX "${CMAKE_INSTALL_PREFIX}" ABSOLUTE)
cmake_path(NORMAL_PATH LOOM_PREFIX)
string(REGEX REPLACE "(.)/+$" "\\1" LOOM_PREFIX "${LOOM_PREFIX}")

foreach(dir BINDIR LIBDIR INCLUDEDIR MANDIR DATADIR)
  set(rel "${LOOM_INSTALL_${dir}}")
  if(IS_ABSOLUTE "${rel}")
    set(abs "${rel}")
  else()
    set(abs "${LOOM_PREFIX}/${rel}")
  endif()
  cmake_path(NORMAL_PATH abs)
  string(REGEX REPLACE "(.)/+$" "\\1" abs "${abs}")
  set(LOOM_${dir} "${abs}")
  string(FIND "${abs}/" "${LOOM_PREFIX}/" at)
  if(at EQUAL 0 AND NOT LOOM_PREFIX STREQUAL "/")
    string(LENGTH "${LOOM_PREFIX}" n)
    string(SUBSTRING "${abs}" ${n} -1 tail)
    set(LOOM_PC_${dir} "\${prefix}${tail}")
  else()
    set(LOOM_PC_${dir} "${abs}")
  endif()
endforeach()

set(LOOM_PC_RPATH " -Wl,-rpath,\${libdir}")
set(LOOM_SYSTEM_PREFIX 0)
foreach(sys ${LOOM_SYSTEM_LIBDIRS})
  cmake_path(NORMAL_PATH sys)
  string(REGEX REPLACE "(.)/+$" "\\1" sys "${sys}")
  if(sys STREQUAL LOOM_LIBDIR)
    set(LOOM_PC_RPATH "")
    set(LOOM_SYSTEM_PREFIX 1)
  endif()
endforeach()

set(out "${LOOM_WORK_DIR}/${LOOM_OUTPUT_NAME}")
configure_file("${LOOM_TEMPLATE}" "${out}" @ONLY)
set(dest "${LOOM_DESTINATION}")
if(NOT IS_ABSOLUTE "${dest}")
  set(dest "${LOOM_PREFIX}/${dest}")
endif()
file(INSTALL "${out}" DESTINATION "${dest}")
