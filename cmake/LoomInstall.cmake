# SPDX-License-Identifier: MIT
# How loom installs: programs that find their library from any prefix, and
# files that must name the prefix (loom.pc, the modulefile) written when
# the prefix is known, at install time.

# Installed programs find libloom.so relative to themselves ($ORIGIN is
# the directory of the executable): `cmake --install build --prefix X`,
# a copy of X elsewhere, or the Debian package all run without
# LD_LIBRARY_PATH. A non-system MPI is not recorded (a site loads its
# module); -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON records it too.
if(NOT DEFINED CMAKE_INSTALL_RPATH)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(CMAKE_INSTALL_RPATH "${CMAKE_INSTALL_LIBDIR}")
  else()
    file(RELATIVE_PATH _loom_bin_to_lib "/p/${CMAKE_INSTALL_BINDIR}" "/p/${CMAKE_INSTALL_LIBDIR}")
    set(CMAKE_INSTALL_RPATH "$ORIGIN/${_loom_bin_to_lib}")
  endif()
endif()

# loom_install_configured(<template> <destination> <name>)
# Installs <template> as <destination>/<name> with @VAR@ replaced at
# install time (cmake/LoomInstallConfigure.cmake lists the variables:
# LOOM_PREFIX, LOOM_LIBDIR, LOOM_PC_LIBDIR, LOOM_PC_RPATH, ...) and
# LOOM_VERSION.
function(loom_install_configured template destination name)
  set(code "")
  foreach(dir BINDIR LIBDIR INCLUDEDIR MANDIR DATADIR)
    string(APPEND code "set(LOOM_INSTALL_${dir} \"${CMAKE_INSTALL_${dir}}\")\n")
  endforeach()
  string(APPEND code
    "set(LOOM_SYSTEM_LIBDIRS \"${CMAKE_C_IMPLICIT_LINK_DIRECTORIES}\")\n"
    "set(LOOM_VERSION \"${PROJECT_VERSION}\")\n"
    "set(LOOM_TEMPLATE \"${template}\")\n"
    "set(LOOM_DESTINATION \"${destination}\")\n"
    "set(LOOM_OUTPUT_NAME \"${name}\")\n"
    "set(LOOM_WORK_DIR \"${CMAKE_CURRENT_BINARY_DIR}/install-time\")\n"
    "include(\"${PROJECT_SOURCE_DIR}/cmake/LoomInstallConfigure.cmake\")\n")
  install(CODE "${code}")
endfunction()
