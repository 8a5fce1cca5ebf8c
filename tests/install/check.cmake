# Installs the built loom into a scratch prefix, then builds and runs a
# consumer project against it twice: with find_package(loom) and with
# pkg-config. Run by ctest (test install_consumer).
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
macro(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endmacro()

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
file(GLOB libdirs ${prefix}/lib ${prefix}/lib/*-linux-gnu)
string(REPLACE ";" ":" ldpath "${libdirs}")
step(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${ldpath} ${WORK_DIR}/cmake-build/consumer)
message(STATUS "find_package(loom): ${out}")

# 2. pkg-config
file(GLOB pcdir ${prefix}/lib/pkgconfig ${prefix}/lib/*/pkgconfig)
step(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcdir} pkg-config --cflags --libs loom)
string(STRIP "${out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
step(cc ${CONSUMER_DIR}/consumer/main.c ${flags} -o ${WORK_DIR}/pc-consumer)
step(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${ldpath} ${WORK_DIR}/pc-consumer)
message(STATUS "pkg-config loom: ${out}")
