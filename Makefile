# tollgate front door. `make demo` runs the main job, `make test` the tests.
# Both install what they need first (tools/install-deps.sh, as root).

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=
# The Release configure that build, test-fast and demo share (one cache).
CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_WERROR=ON $(CMAKE_FLAGS)

.PHONY: all deps build test test-fast test-asan test-tsan demo check-thread-safety fuzz bench deb clean

all: build

deps:
	tools/install-deps.sh

# Release build of every binary into $(BUILD)/bin.
build: deps
	$(CONFIGURE)
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite twice: a -Werror build, then ASan+UBSan.
test: deps test-fast test-asan

test-fast:
	$(CONFIGURE)
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 300

# -g1: line tables only (sanitizer reports keep file:line), a quicker build.
test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTOLLGATE_WERROR=ON \
	  -DCMAKE_C_FLAGS_DEBUG=-g1 -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
	  -DTOLLGATE_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 600

# Under ThreadSanitizer (docs/benchmarks.md "ThreadSanitizer" has the
# timings): every test that runs more than one thread: the integration and
# packaging tests (tollgated and fake-provider TSan-built) and the unit
# tests flagged THREADS (cmake/TollgateTesting.cmake); single-threaded unit
# tests give TSan nothing to check and are not built here. -g1 as for ASan;
# -O1 (TSan's documented minimum) compiles about 15% faster than -O2.
# tests/tsan.supp says why each suppression is there: all
# are for uninstrumented Debian libraries, none for our code.
# -Werror stays with the Release build: g++ 12 reports -Wnull-dereference
# false positives in nlohmann/json under TSan instrumentation.
# TOLLGATE_TEST_TIME_SCALE stretches the tests' bounds on things that must
# happen (replies, exits, deadlines of calls that must succeed) for TSan's
# slowdown; see tests/integration/tollgated_process.h.
TSAN_BUILD ?= build-tsan
TSAN_TIME_SCALE ?= 4
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOLLGATE_WERROR=OFF \
	  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
	  -DTOLLGATE_SANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && TOLLGATE_TEST_TIME_SCALE=$(TSAN_TIME_SCALE) \
	  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --output-on-failure -j$(JOBS) --timeout 900

# Builds only the programs the demo runs (tollgated, fake-provider, tollctl;
# its producer is Python: python3-zmq, python3-msgpack), not the tests. Same
# configure as build, so a later `make build` or `make test` reuses them.
demo: deps
	$(CONFIGURE)
	cmake --build $(BUILD) -j$(JOBS) --target demo_programs
	tools/demo.sh $(BUILD)/bin

# clang's -Wthread-safety over every target of the tree, findings as errors
# (TOLLGATE_THREAD_SAFETY): the GUARDED_BY/REQUIRES annotations of
# daemon/core/sync.h. Tests off (they hold no annotated state). Only
# checked, never run: each source is compiled with -fsyntax-only and links
# are skipped (tools/syntax-only.sh); no unity build, so each source is
# also checked to compile on its own includes. Its own build directory:
# the fuzz build instruments protocol/ and workers/providers/ with
# sanitizers, so the two cannot share objects.
CLANG_BUILD ?= build-clang
check-thread-safety:
	tools/install-deps.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B $(CLANG_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG=-O0 -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DTOLLGATE_UNITY=OFF \
	  -DTOLLGATE_BUILD_TESTS=OFF -DTOLLGATE_THREAD_SAFETY=ON $(CMAKE_FLAGS)
	cmake --build $(CLANG_BUILD) -j$(JOBS)

# libFuzzer targets, built with clang; FUZZ_SECONDS per target (10 minutes
# each by default; CI runs `make fuzz FUZZ_SECONDS=60`), one per core at a
# time (tools/run-fuzz.sh).
FUZZ_SECONDS ?= 600
fuzz:
	tools/install-deps.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DTOLLGATE_FUZZ=ON -DTOLLGATE_BUILD_TESTS=OFF
	cmake --build build-fuzz -j$(JOBS) --target fuzz_targets
	tools/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

# Every tollbench figure of docs/benchmarks.md, then the pinned scenario
# (nginx as the provider stub, tollgated alone on one core; its packages:
# install-deps.sh --bench), then the floors under its CPU targets. BENCH=pinned
# runs that scenario only, BENCH=memory the RSS figures only
# (tools/bench/memory.sh), BENCH=floors the floors only (tools/bench/floors.sh).
BENCH ?= all
bench: build
	tools/install-deps.sh --bench
	tools/bench.sh $(BUILD)/bin $(BENCH)

# Debian package of the Release build (CPack, cmake/TollgatePackaging.cmake),
# written to $(BUILD)/deb/tollgate_<version>_<arch>.deb.
deb: build
	rm -rf $(BUILD)/deb
	cpack --config $(BUILD)/CPackConfig.cmake -B $(abspath $(BUILD))/deb
	@echo "deb: $$(ls $(abspath $(BUILD))/deb/*.deb)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(CLANG_BUILD) build-fuzz
