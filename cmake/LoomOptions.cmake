# SPDX-License-Identifier: MIT
# Build options and the compiler flags they imply. Applied through the
# interface target loom_build_flags, so every loom target (library, apps,
# tests, benchmarks) is compiled the same way and nothing leaks into the
# installed package.
get_directory_property(_loom_has_parent PARENT_DIRECTORY)
if(_loom_has_parent)
  set(_loom_top OFF)
else()
  set(_loom_top ON)
endif()

option(LOOM_BUILD_TESTS "Build the Criterion test suite" ${_loom_top})
option(LOOM_BUILD_APPS "Build the applications in apps/" ${_loom_top})
option(LOOM_BUILD_BENCH "Build the benchmarks in bench/" ${_loom_top})
option(LOOM_WERROR "Treat compiler warnings as errors" OFF)
# A libFuzzer build (clang only): the library and loom-run's readers
# instrumented for coverage, the fuzz targets of tests/fuzz, nothing else.
option(LOOM_FUZZ "Build the libFuzzer targets (clang) instead of the rest" OFF)
if(LOOM_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LOOM_FUZZ needs clang (CC=clang), not ${CMAKE_C_COMPILER_ID}")
  endif()
  set(LOOM_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(LOOM_BUILD_APPS OFF CACHE BOOL "" FORCE)
  set(LOOM_BUILD_BENCH OFF CACHE BOOL "" FORCE)
endif()
set(LOOM_SANITIZER "none" CACHE STRING "Sanitizer: none, address (ASan+UBSan) or thread (TSan)")
set_property(CACHE LOOM_SANITIZER PROPERTY STRINGS none address thread)

add_library(loom_build_flags INTERFACE)
target_compile_options(loom_build_flags INTERFACE
  -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
  -Wpointer-arith -Wvla -Wno-unused-parameter)
if(LOOM_WERROR)
  target_compile_options(loom_build_flags INTERFACE -Werror)
endif()

if(LOOM_SANITIZER STREQUAL "address")
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(LOOM_SANITIZER STREQUAL "thread")
  set(_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT LOOM_SANITIZER STREQUAL "none")
  message(FATAL_ERROR "LOOM_SANITIZER must be none, address or thread (got '${LOOM_SANITIZER}')")
endif()
if(LOOM_FUZZ)
  list(APPEND _san -fsanitize=fuzzer-no-link)
endif()
if(_san)
  target_compile_options(loom_build_flags INTERFACE ${_san})
  target_link_options(loom_build_flags INTERFACE ${_san})
endif()
