# Installs the built loom into a scratch prefix, then checks what a user of
# the install sees: a consumer project builds and runs against it with
# find_package(loom) and with pkg-config, neither needing LD_LIBRARY_PATH;
# loom.pc's paths are plain (absolute, no // or ..); and the installed
# programs run from a copy of the prefix moved elsewhere (run path
# $ORIGIN/../lib), loading the library of the copy. Run by ctest (test
# install_consumer) with LOOM_BINARY_DIR, CONSUMER_DIR, WORK_DIR, APPS.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
macro(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endmacro()
# a command as a user runs it: whatever LD_LIBRARY_PATH ctest has is gone
set(clean_env ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH)

step(${CMAKE_COMMAND} --install ${LOOM_BINARY_DIR} --prefix ${prefix})
foreach(f loom.h loom/pool.h loomConfig.cmake loom.pc libloom.so)
  file(GLOB_RECURSE hit ${prefix}/*/${f})
  if(NOT hit)
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

# 1. CMake package
step(${CMAKE_COMMAND} -S ${CONSUMER_DIR}/consumer -B ${WORK_DIR}/cmake-build
     -DCMAKE_PREFIX_PATH=${prefix})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
step(${clean_env} ${WORK_DIR}/cmake-build/consumer)
message(STATUS "find_package(loom): ${out}")

# 2. pkg-config: clean paths, and a program linked with its flags alone runs
file(GLOB pcdir ${prefix}/lib/pkgconfig ${prefix}/lib/*/pkgconfig)
set(pc_env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcdir})
foreach(var prefix libdir includedir)
  step(${pc_env} pkg-config --variable=${var} loom)
  string(STRIP "${out}" value)
  if(NOT IS_ABSOLUTE "${value}" OR value MATCHES "//|/\\./|/\\.\\./|/\\.\\.?$|/$"
     OR NOT IS_DIRECTORY "${value}")
    message(FATAL_ERROR "loom.pc: ${var} is '${value}', not a plain absolute directory")
  endif()
  set(pc_${var} "${value}")
endforeach()
if(NOT pc_prefix STREQUAL prefix OR NOT EXISTS ${pc_libdir}/libloom.so)
  message(FATAL_ERROR "loom.pc: prefix '${pc_prefix}' (installed to '${prefix}'), "
                      "libdir '${pc_libdir}' (libloom.so there: no)")
endif()
step(${pc_env} pkg-config --cflags --libs loom)
string(STRIP "${out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
step(cc ${CONSUMER_DIR}/consumer/main.c ${flags} -o ${WORK_DIR}/pc-consumer)
step(${clean_env} ${WORK_DIR}/pc-consumer)
message(STATUS "pkg-config loom: ${flags}\n  ${out}")

# 3. the programs, from a copy of the prefix while the original is away
if(APPS)
  set(moved ${WORK_DIR}/elsewhere/loom)
  file(MAKE_DIRECTORY ${WORK_DIR}/elsewhere)
  step(cp -a ${prefix} ${moved})
  file(RENAME ${prefix} ${prefix}.away)
  step(${clean_env} ${moved}/bin/loom-run --version)
  if(NOT out MATCHES "libloom: ${moved}/lib[^\n]*/libloom\\.so")
    message(FATAL_ERROR "loom-run of the copied prefix did not load the copy's library:\n${out}")
  endif()
  message(STATUS "copied prefix: ${out}")
  step(${clean_env} ${moved}/bin/loom-pool --threads 2 --tasks 3 --max-task-ms 1)
  file(RENAME ${prefix}.away ${prefix})
endif()
