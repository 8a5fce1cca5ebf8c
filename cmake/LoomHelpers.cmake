# SPDX-License-Identifier: MIT
# loom_add_test(<name> SOURCES <files...> [TSAN] [TIMEOUT <s>] [LABELS <l...>])
#
# Builds one Criterion test executable linked against loom_testing (all
# internals visible) and registers it with CTest under a timeout (default
# 120 s). In the ThreadSanitizer build only tests marked TSAN are built, and
# they are compiled against the mini runner instead of Criterion, which
# cannot start under TSan.
function(loom_add_test name)
  cmake_parse_arguments(T "TSAN" "TIMEOUT" "SOURCES;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(LOOM_SANITIZER STREQUAL "thread")
    if(NOT T_TSAN)
      return()
    endif()
    add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/support/mini_runner.c)
    target_compile_definitions(${name} PRIVATE LOOM_TEST_MINI)
  else()
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ${CRITERION_LINK_LIBRARIES})
    target_include_directories(${name} PRIVATE ${CRITERION_INCLUDE_DIRS})
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE
    LOOM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" LOOM_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(${name} PRIVATE loom_testing)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
  loom_sanitizer_env(${name})
endfunction()

# Sanitizer settings for a test: fail on the first report. Leaks are checked
# inside each test by loom_test.h's Test() (Criterion ignores how a test
# process exits), so the check at exit is off: it would only report
# Criterion's own runner. Programs a test starts get it back (test_apps).
function(loom_sanitizer_env test)
  if(LOOM_SANITIZER STREQUAL "address")
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1"
      "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
      "LSAN_OPTIONS=leak_check_at_exit=0:suppressions=${PROJECT_SOURCE_DIR}/tests/support/lsan-libconfig.supp")
  elseif(LOOM_SANITIZER STREQUAL "thread")
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
      "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${PROJECT_SOURCE_DIR}/tests/support/tsan-mpi.supp")
  endif()
endfunction()
