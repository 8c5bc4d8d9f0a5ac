#!/usr/bin/env bash
# Runs the operators' and the frontend's tests under AddressSanitizer (with LeakSanitizer): the
# mxr-operators crate's unit tests and tests/props.rs, the unit tests of mxr-frontend, mxr-train and mxr, and mxr.s
# integration tests (tests/frontend.rs, tests/robust.rs, tests/engine.rs,
# tests/profiler_memory.rs), with the examples, the `mxr` tool and the plugin libraries those
# tests run built instrumented too (child processes are checked as well). Fails on any
# sanitizer report (an invalid access, a double free, a leak) and on any failing test.
# Arguments go to every test binary (a name filter, `--skip NAME`).
#
#   scripts/asan.sh                 # everything (several minutes: see .ci/run for CI's subset)
#   scripts/asan.sh plugins         # the tests whose names contain "plugins"
#
# Why AddressSanitizer here and valgrind for the engine and kernels (scripts/valgrind.sh),
# measured on this project's 2-core machine: under ASan these tests run about 4 times slower
# than the plain debug build (the operators' unit tests 1.0 s -> 2-4 s, the frontend's fusion
# and executor tests 0.4-0.6 s -> 1.7-2.3 s), under memcheck 45 to 65 times slower (46 s, 27 s,
# 36 s), and memcheck does not look into the child processes these tests start. ASan needs its
# own build (about 6 CPU-minutes from scratch), which pays off on suites this large; memcheck
# needs none, which suits the smaller engine and kernel suites.
#
# The build: `-Zsanitizer=address` is a nightly flag, which RUSTC_BOOTSTRAP=1 allows on the
# stable toolchain. The target is given explicitly so that build scripts and proc-macros (run
# by the compiler, not by the tests) are not instrumented; the build goes to target/asan, so the
# normal build is left as it is. `-rdynamic` exports the sanitizer runtime (linked into each
# executable) to the instrumented plugin libraries that the tests load. Only line tables are
# kept as debug information: enough for the reports' file:line, and a faster build.
#
# Leaks: LeakSanitizer is on, and a leak fails the run (memory still reachable at exit, such as
# the process-wide engine's and the registry's, is not a leak); it found one in mxr (a plugin
# refused for a taken operator name leaked its definitions and stayed loaded). The exception is
# the tests that start OpenMPI ranks under mpirun (kvstore's dist_sync tests): OpenMPI does not
# free all it allocates, partly in components it has unloaded by exit, whose reports have no
# symbols to suppress by, so those tests run in a second pass with leak detection off; invalid
# accesses still fail them.
#
# Reports go to files (ASAN_OPTIONS log_path), one per process that found an error, so that an
# error in a child process (an example, an mpirun rank, a test binary running itself) fails the
# run even when the test that started the child would have passed. Their stacks have file and
# line where llvm-symbolizer is installed (Debian: llvm), addresses otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address -Clink-arg=-rdynamic"
export CARGO_TARGET_DIR="$PWD/target/asan"
export CARGO_PROFILE_DEV_DEBUG=line-tables-only

features=()
if command -v mpirun >/dev/null 2>&1 && pkg-config --exists ompi 2>/dev/null \
  && ldconfig -p 2>/dev/null | grep 'libclang[-.0-9]*\.so' >/dev/null; then
  features=(--features mxr/mpi)
fi
packages=(-p mxr-operators -p mxr-frontend -p mxr-train -p mxr)
# The plugin libraries, beside the test binaries where tests/frontend/plugins.rs looks first.
plugins=(-p mxr-plugin-example-swish -p mxr-plugin-example-scale-shift
  -p mxr-plugin-test-faulty -p mxr-plugin-test-abi-mismatch)

echo "== building the tests with AddressSanitizer (target/asan)"
start=$(date +%s)
cargo build --target "$target" "${plugins[@]}"
json=$(cargo test --target "$target" "${packages[@]}" "${features[@]}" --no-run \
  --message-format=json)
bins=$(grep -o '"executable":"[^"]*"' <<<"$json" | cut -d'"' -f4 | grep '/deps/' || true)
if [ -z "$bins" ]; then
  echo "no test binaries found" >&2
  exit 1
fi
echo "   (built in $(( $(date +%s) - start )) s)"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# halt_on_error stays on (ASan's default): the first invalid access ends the process with its
# report. allocator_may_return_null: an allocation too large for the sanitizer's allocator
# (tests of mxr's size limits) fails as plain malloc would instead of aborting the process.
base="log_path=$logs/asan:allocator_may_return_null=1:detect_leaks=1"
# The frontend's tests that start mpirun (by name prefix).
mpi_tests=(kvstore::dist_sync kvstore::module_fit_over_dist_sync kvstore::train_mlp_dist)
skip_mpi=()
for t in "${mpi_tests[@]}"; do skip_mpi+=(--skip "$t"); done
mpi_pattern="^($(IFS='|'; echo "${mpi_tests[*]}"))"

status=0
# `run LABEL ASAN_OPTIONS BINARY ARGS...`: one pass of a test binary.
run() {
  local label=$1 options=$2 bin=$3
  shift 3
  echo "== AddressSanitizer: $label"
  local t0
  t0=$(date +%s)
  if ! ASAN_OPTIONS="$options" "$bin" --test-threads=2 "$@"; then
    echo "asan: $label failed (a failing test, or a sanitizer report below)" >&2
    status=1
  fi
  echo "   ($(( $(date +%s) - t0 )) s)"
}
for bin in $bins; do
  name=$(basename "$bin" | sed 's/-[0-9a-f]*$//')
  if [ "$name" = frontend ]; then
    run "$name" "$base" "$bin" "${skip_mpi[@]}" "$@"
    # The mpirun tests that the arguments select, run by their exact names.
    mpi_names=$(ASAN_OPTIONS=detect_leaks=0 "$bin" --list --format terse "$@" \
      | sed -n 's/: test$//p' | grep -E "$mpi_pattern" || true)
    if [ -n "$mpi_names" ]; then
      # shellcheck disable=SC2086 # one test name per word
      run "$name (mpirun tests, leak detection off)" "${base/detect_leaks=1/detect_leaks=0}" \
        "$bin" --exact $mpi_names
    fi
  else
    run "$name" "$base" "$bin" "$@"
  fi
done

# An error report ("==PID==ERROR: AddressSanitizer: ..." or "... LeakSanitizer: ...") fails the
# run. A file without one holds warnings only: the allocation of 2^40 bytes that
# tests/robust/bad_input.rs expects to fail, which allocator_may_return_null turns into a
# warning and a null pointer (mxr's out-of-memory error) instead of an abort.
reports=$(grep -l 'ERROR: ' "$logs"/* 2>/dev/null | sort || true)
if [ -n "$reports" ]; then
  for r in $reports; do
    echo "---- $(basename "$r")"
    cat "$r"
  done
  echo "asan: AddressSanitizer reported errors in $(wc -l <<<"$reports") process(es) (above)" >&2
  exit 1
fi
if [ $status -ne 0 ]; then
  exit 1
fi
echo "asan: no sanitizer report, every test passed ($(( $(date +%s) - start )) s in all)"
