# tollgate_unit_test(NAME SOURCES src... LIBS lib... [LABELS l...] [FIXTURES f...] [THREADS])
#
# FIXTURES: CTest fixtures every test of the executable needs (`postgres`:
# the test PostgreSQL server of tests/CMakeLists.txt).
#
# THREADS: the test runs more than one thread (an LMDB writer, a metrics
# server, a child process...). Under ThreadSanitizer (TOLLGATE_SANITIZE=
# thread) only such tests are built, and every integration and packaging
# test (they start tollgated or fake-provider, TSan-built): a unit test
# that never starts a thread gives TSan nothing to check, and the Release
# and ASan runs run it. Which ones start threads was measured
# (strace -f -e trace=clone,clone3,fork,vfork over each unit test); flag a
# new one that does.
#
# One Catch2 executable per test file pair; every TEST_CASE becomes its own
# CTest test (catch_discover_tests), so `ctest` lists behaviours by name.
# Test names are sentences without commas, semicolons, brackets or quotes
# (Catch reads those as test-spec syntax).
# How a test's own sources are compiled. CI builds every test three times
# (Release, ASan+UBSan, TSan), so this is most of its build time. The code
# under test keeps every flag of the build: it is in the libraries and
# programs the test links and runs.
# - Optimised builds: -O1, about 60-75% of the compile time of -O3
#   (g++ 12: tests/unit/ledger_limits_test.cpp 10.3 s at -O3, 6.3 s at
#   -O1). At -O1 g++ 12 reports -Wnull-dereference false positives inside
#   nlohmann/json; the product's sources keep the warning.
# - ASan+UBSan: ASan only. UBSan's checks of the tests' own code cost 35%
#   of their compile time (ledger_limits_test.cpp: 12.4 s with both, 8.1 s
#   with ASan alone) and the code under test keeps them.
function(tollgate_test_optimisation target)
  if(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo)$")
    target_compile_options(${target} PRIVATE -O1 -Wno-null-dereference)
  endif()
  if(TOLLGATE_SANITIZE MATCHES "undefined")
    target_compile_options(${target} PRIVATE -fno-sanitize=undefined)
  endif()
endfunction()

function(tollgate_unit_test name)
  cmake_parse_arguments(T "THREADS" "" "SOURCES;LIBS;LABELS;FIXTURES" ${ARGN})
  if(TOLLGATE_SANITIZE STREQUAL "thread" AND NOT T_THREADS AND NOT T_LABELS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE tollgate_catch_main ${T_LIBS})
  tollgate_warnings(${name})
  tollgate_test_optimisation(${name})
  set(labels unit)
  if(T_LABELS)
    set(labels ${T_LABELS})
  endif()
  set(fixtures "")
  if(T_FIXTURES)
    set(fixtures FIXTURES_REQUIRED "${T_FIXTURES}")
  endif()
  catch_discover_tests(${name}
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
    PROPERTIES LABELS "${labels}"
               ENVIRONMENT "TOLLGATE_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
               ${fixtures})
endfunction()
