# The C++ client's tests (included from clients/cpp/CMakeLists.txt when
# TOLLGATE_BUILD_TESTS). They link tests/integration's harness
# (tollgate_call_harness: tollgated, fake-provider); CMake resolves those
# targets at generate time, so it does not matter that tests/ is added after
# clients/. The client itself links nothing of the daemon.
set(tollgate_client_tests_dir ${CMAKE_CURRENT_SOURCE_DIR}/tests)

# Against the real tollgated and fake-provider.
foreach(t client_call_test client_ops_test client_curve_test)
  tollgate_unit_test(${t}
    SOURCES ${tollgate_client_tests_dir}/${t}.cpp
    LIBS tollgate::client tollgate_call_harness
    LABELS integration)
  add_dependencies(${t} tollgated fake-provider)
endforeach()
add_dependencies(client_ops_test cpp_producer_example)

# What the client sends, against a ROUTER in the test (no daemon).
tollgate_unit_test(client_wire_test
  SOURCES ${tollgate_client_tests_dir}/client_wire_test.cpp
  LIBS tollgate::client tollgate_test_process
  LABELS integration
  THREADS)
target_compile_definitions(client_wire_test PRIVATE TOLLGATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# Install the client alone into a temporary prefix, build a consumer with
# find_package(tollgate_client) and run it.
add_test(NAME "the installed C++ client package builds and runs a consumer project"
         COMMAND bash ${tollgate_client_tests_dir}/package_consumer.sh ${CMAKE_BINARY_DIR}
                 ${CMAKE_CXX_COMPILER})
set_tests_properties("the installed C++ client package builds and runs a consumer project"
                     PROPERTIES LABELS "integration;packaging" TIMEOUT 300)
# The consumer is built without sanitizers whatever the build: nothing in it
# for ASan or TSan to check, so the Release run alone runs it.
if(TOLLGATE_SANITIZE)
  set_tests_properties("the installed C++ client package builds and runs a consumer project"
                       PROPERTIES DISABLED TRUE)
endif()
