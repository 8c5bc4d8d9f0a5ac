//! Robustness: bad input costs an error, never the process (issue 9).
//!
//! - `harness`: the fuzz targets' checks, run here on every saved input in `fuzz/regressions/`;
//! - `bad_input`: each class of outside input with crafted bad values and the error each gives;
//! - `limits`: the memory a crafted `.params` file or graph makes mxr take, measured with a
//!   counting allocator, stays within [`LoadLimits`](mxr::format::LoadLimits);
//! - `fault`: an operator that fails or panics on demand, for the engine tests;
//! - `soak`: threads pushing mixed work with injected failures (run in a child process);
//! - `graphs`: random graphs of registry operators give identical results under the threaded
//!   and the naive engine (each in a child process, since the engine kind is per process).

#[path = "robust/bad_input.rs"]
mod bad_input;
#[path = "robust/fault.rs"]
mod fault;
#[path = "robust/graphs.rs"]
mod graphs;
#[path = "robust/harness.rs"]
mod harness;
#[path = "robust/limits.rs"]
mod limits;
#[path = "robust/soak.rs"]
mod soak;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The system allocator, counting the bytes live on threads that asked ([`measure`]).
struct Counting;

thread_local! {
    /// While measuring on this thread: (bytes live now, peak), relative to the start.
    static TRACK: Cell<Option<(isize, isize)>> = const { Cell::new(None) };
}

fn note(delta: isize) {
    let _ = TRACK.try_with(|t| {
        if let Some((now, peak)) = t.get() {
            let now = now + delta;
            t.set(Some((now, peak.max(now))));
        }
    });
}

fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are the caller's; the counting touches only a thread-local `Cell`
// (const-initialized, so it never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(size(layout));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(size(layout));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) };
        note(-size(layout));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(isize::try_from(new_size).unwrap_or(isize::MAX) - size(layout));
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the peak of the bytes it allocated on this thread
/// (freed bytes count back down).
pub(crate) fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    TRACK.with(|t| t.set(Some((0, 0))));
    let r = f();
    let peak = TRACK.with(|t| t.replace(None)).map_or(0, |(_, peak)| peak);
    (r, usize::try_from(peak).unwrap_or(0))
}

/// The repository root.
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one `#[ignore]`d test of this binary alone in a child process with `env` set, killing
/// it after `timeout`; returns its combined output, or panics with it when the child fails or
/// times out.
pub(crate) fn run_child(test: &str, env: &[(&str, String)], timeout: Duration) -> String {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // The child writes to a file, not a pipe: a pipe nobody drains would block it when full.
    let log = std::env::temp_dir().join(format!(
        "mxr-robust-{}-{}.log",
        std::process::id(),
        test.replace("::", "-")
    ));
    let file = std::fs::File::create(&log).expect("a log file for the child");
    let mut cmd = Command::new(exe);
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
    .stdout(file.try_clone().expect("the log file"))
    .stderr(file);
    let mut child = cmd.spawn().expect("spawning the test binary");
    let start = std::time::Instant::now();
    let read = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text
    };
    let status = loop {
        match child.try_wait().expect("waiting for the child") {
            Some(status) => break status,
            None if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{test} did not finish in {timeout:?} (deadlock?)\n{}",
                    read()
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let text = read();
    assert!(status.success(), "{test} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "{test} did not run in the child:\n{text}"
    );
    text
}

/// Every saved fuzz input (crashes found, and crafted inputs for the bugs fixed) goes through
/// its target's checks.
#[test]
fn fuzz_regressions_stay_fixed() {
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 5] = [
        ("params", harness::params),
        ("symbol_json", harness::symbol_json),
        ("op_attrs", harness::op_attrs),
        ("idx", harness::idx),
        ("onnx", harness::onnx),
    ];
    let mut count = 0;
    for (name, check) in targets {
        let dir: PathBuf = root().join("fuzz/regressions").join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no regression inputs for {name}");
        for file in files {
            let data = std::fs::read(&file).expect("a regression input");
            let (_, peak) = measure(|| check(&data));
            assert!(peak < 64 << 20, "{}: took {peak} bytes", file.display());
            count += 1;
        }
    }
    assert!(count >= 12, "only {count} regression inputs");
}
