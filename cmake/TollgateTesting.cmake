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

# One precompiled header for every test's own sources: Catch2, the JSON,
# msgpack and ZeroMQ headers and the standard library, parsed once per build
# instead of once per test file (about 120 files, each built three times in
# CI). A test executable cannot give it (catch_main.cpp must see catch.hpp
# with CATCH_CONFIG_MAIN), so a one-line program does: it is compiled with
# the tests' own flags (warnings, optimisation, sanitizers, -fPIE), which
# the compiler requires of a precompiled header's users; with
# -Winvalid-pch and -Werror a mismatch fails the build instead of going
# unnoticed. The libraries of those headers give it and every test the
# same definitions (MSGPACK_DEFAULT_API_VERSION...).
set(TOLLGATE_TEST_PCH_LIBS Catch2::Catch2 nlohmann_json::nlohmann_json msgpackc-cxx cppzmq)
add_executable(tollgate_test_pch ${PROJECT_SOURCE_DIR}/tests/test_pch.cpp)
target_link_libraries(tollgate_test_pch PRIVATE ${TOLLGATE_TEST_PCH_LIBS})
tollgate_warnings(tollgate_test_pch)
tollgate_test_optimisation(tollgate_test_pch)
target_precompile_headers(tollgate_test_pch PRIVATE
  <catch2/catch.hpp> <nlohmann/json.hpp> <msgpack.hpp> <zmq.hpp>
  <algorithm> <atomic> <chrono> <condition_variable> <cstdint> <filesystem> <fstream>
  <functional> <map> <memory> <mutex> <optional> <set> <sstream> <string> <string_view>
  <thread> <unordered_map> <utility> <vector>)

function(tollgate_unit_test name)
  cmake_parse_arguments(T "THREADS" "" "SOURCES;LIBS;LABELS;FIXTURES" ${ARGN})
  if(TOLLGATE_SANITIZE STREQUAL "thread" AND NOT T_THREADS AND NOT T_LABELS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE tollgate_catch_main ${T_LIBS} ${TOLLGATE_TEST_PCH_LIBS})
  tollgate_warnings(${name})
  tollgate_test_optimisation(${name})
  target_precompile_headers(${name} REUSE_FROM tollgate_test_pch)
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
