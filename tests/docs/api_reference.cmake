# SPDX-License-Identifier: MIT
# Test api_reference: generate the API reference (docs/Doxyfile) into a
# scratch directory and fail on any Doxygen warning — an undocumented public
# function, type, macro, enum value or parameter, a \param naming no
# parameter, a #LOOM_X reference to nothing, a Markdown link to a page it
# does not have. Then check the pages a reader starts from exist. Its output
# is what api_pages (api_pages.sh) checks next. Run by ctest with
#   -DDOXYGEN=... -DSOURCE_DIR=... -DWORK_DIR=... -DVERSION=... -P this file
if(NOT DOXYGEN)
  message(FATAL_ERROR "doxygen is not installed, so the API reference cannot be checked: "
                      "apt-get install doxygen (cluster/bootstrap installs it), then reconfigure")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env LOOM_SOURCE_DIR=${SOURCE_DIR} LOOM_DOCS_OUT=${WORK_DIR}
          LOOM_VERSION=${VERSION} ${DOXYGEN} ${SOURCE_DIR}/docs/Doxyfile
  WORKING_DIRECTORY ${SOURCE_DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "doxygen failed (status ${rc}); every public declaration in "
                      "framework/include/loom needs a contract comment:\n${err}${out}")
endif()
foreach(page index.html job_8h.html pool_8h.html error_8h.html md_docs_library.html
             md_docs_design.html)
  if(NOT EXISTS ${WORK_DIR}/html/${page})
    message(FATAL_ERROR "doxygen ran but did not write html/${page}")
  endif()
endforeach()
file(READ ${WORK_DIR}/html/job_8h.html job_page)
if(NOT job_page MATCHES "loom_job_submit")
  message(FATAL_ERROR "html/job_8h.html does not document loom_job_submit")
endif()
file(READ ${WORK_DIR}/html/index.html main_page)
if(NOT main_page MATCHES "loom_job_create")
  message(FATAL_ERROR "html/index.html is not README.md with its C example (USE_MDFILE_AS_MAINPAGE)")
endif()
message(STATUS "API reference: ${WORK_DIR}/html/index.html, no warnings")
