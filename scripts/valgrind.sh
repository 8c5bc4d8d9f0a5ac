#!/usr/bin/env bash
# Runs the unsafe-heavy test suites under valgrind memcheck: the engine (storage pool, vars,
# scheduler: unit tests and tests/engine.rs) and the CPU kernels' unit tests. Fails on any
# memcheck error or definite leak. Extra arguments go to every test binary (a name filter).
#
#   scripts/valgrind.sh            # everything (several minutes)
#   scripts/valgrind.sh storage    # the tests whose names contain "storage"
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "${MXR_REQUIRE_ALL:-}" = 1 ]; then
    echo "MXR_REQUIRE_ALL=1, but valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
  fi
  echo "valgrind is not installed: skipping the memcheck run (apt-get install valgrind)"
  exit 0
fi

# Test binaries: the engine's and kernels' unit tests, and the engine integration tests. The
# kernels' tests run their convolutions on realistic shapes, which in a debug build under
# memcheck take over 20 minutes: they are built optimised (with debug info, as the release
# profile is), which memcheck checks the same way.
bins=$(
  {
    cargo test -p mxr-engine --lib --no-run --message-format=json
    cargo test -p mxr-kernels --lib --release --no-run --message-format=json
    cargo test --test engine --no-run --message-format=json
  } 2>/dev/null | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | grep '/deps/'
)
if [ -z "$bins" ]; then
  echo "no test binaries found" >&2
  exit 1
fi

status=0
for bin in $bins; do
  echo "== valgrind memcheck: $(basename "$bin")"
  start=$(date +%s)
  # Rust's std keeps a few allocations for the process's life (thread-locals, the main
  # thread's info): those are "still reachable", not leaks; definite leaks fail the run.
  # The NVRTC tests (cuda::tests::nvrtc_*) run in ./test, not here: memcheck would check
  # NVIDIA's closed compiler rather than mxr, and slowly.
  if ! valgrind --quiet --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite --show-leak-kinds=definite \
      "$bin" --test-threads=2 --skip cuda::tests::nvrtc_ "$@"; then
    status=1
  fi
  echo "   ($(( $(date +%s) - start )) s)"
done
exit $status
