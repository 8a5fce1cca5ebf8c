# SPDX-License-Identifier: MIT
# Every program in apps/ answers --version alike (apps/common/version.c):
# "NAME (loom) VERSION", the libloom.so it loaded with that file's ELF
# build id, the MPI it was compiled with and runs with, and its own build
# id, each build id the one readelf finds in the file. Run by ctest (test
# app_version) with -DPROGRAMS=name=path;... -DVERSION=x.y.z -DREADELF=...
foreach(entry ${PROGRAMS})
  string(REGEX MATCH "^([^=]+)=(.*)$" _ "${entry}")
  set(name ${CMAKE_MATCH_1})
  set(path ${CMAKE_MATCH_2})
  execute_process(COMMAND ${path} --version RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "${name} --version: exit ${rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(re "^${name} \\(loom\\) ${VERSION}\n"
         "libloom: ([^\n]+/libloom\\.so[.0-9]*), build id ([0-9a-f]+)\n"
         "MPI: compiled with Open MPI [0-9]+\\.[0-9]+\\.[0-9]+ \\(MPI [0-9]\\.[0-9]\\), running [^\n]+\n"
         "build id: ([0-9a-f]+)\n")
  string(CONCAT re ${re})
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "${name} --version: not the expected first four lines:\n${out}")
  endif()
  set(lib ${CMAKE_MATCH_1})
  set(lib_id ${CMAKE_MATCH_2})
  set(exe_id ${CMAKE_MATCH_3})
  foreach(pair "${path};${exe_id}" "${lib};${lib_id}")
    list(GET pair 0 file)
    list(GET pair 1 said)
    execute_process(COMMAND ${READELF} -n ${file} OUTPUT_VARIABLE notes RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0 OR NOT notes MATCHES "Build ID: ([0-9a-f]+)")
      message(FATAL_ERROR "readelf -n ${file} (exit ${rc}) shows no build id:\n${notes}")
    endif()
    if(NOT CMAKE_MATCH_1 STREQUAL said)
      message(FATAL_ERROR "${name} --version says build id ${said} for ${file}, "
                          "readelf says ${CMAKE_MATCH_1}")
    endif()
  endforeach()
  message(STATUS "${name}: ${out}")
endforeach()
