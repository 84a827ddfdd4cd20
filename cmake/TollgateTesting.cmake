# tollgate_unit_test(NAME SOURCES src... LIBS lib...)
#
# One Catch2 executable per test file pair; every TEST_CASE becomes its own
# CTest test (catch_discover_tests), so `ctest` lists behaviours by name.
# Test names are sentences without commas, semicolons, brackets or quotes
# (Catch reads those as test-spec syntax).
function(tollgate_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE tollgate_catch_main ${T_LIBS})
  tollgate_warnings(${name})
  set(labels unit)
  if(T_LABELS)
    set(labels ${T_LABELS})
  endif()
  catch_discover_tests(${name}
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
    PROPERTIES LABELS "${labels}"
               ENVIRONMENT "TOLLGATE_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endfunction()
