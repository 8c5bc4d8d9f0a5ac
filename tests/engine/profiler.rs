//! The profiler on real engines: streamed traces with one event per operation, the
//! per-operator statistics, unwritable paths, and the process-wide engine's trace at exit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mxr::engine::profiler;
use mxr::engine::{Engine, EngineConfig, EngineKind, Error, Operation, Var};
use mxr_test_support::success_stdout;
use serde_json::Value;

use crate::util::on_each_config;

fn temp_trace(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mxr-trace-{tag}-{}.json", std::process::id()))
}

/// The trace's events: the file is an unterminated JSON array (`[`, then `event,\n` per
/// event), so strip the trailing `,\n` and close it.
fn read_trace(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("[\n"), "not a streamed trace: {text:.100}");
    let body = text.strip_suffix(",\n").unwrap_or(&text);
    let events: Value = serde_json::from_str(&format!("{body}]"))
        .unwrap_or_else(|e| panic!("{} does not parse once closed: {e}", path.display()));
    events.as_array().unwrap().clone()
}

fn complete_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["ph"] == "X").collect()
}

/// Pushes `n` operations: a chain of writes on one var, reads of it, and asynchronous ones.
fn push_ops(engine: &Engine, n: usize) {
    let chain = Var::new();
    for i in 0..n {
        let out = Var::new();
        let pushed = match i % 3 {
            0 => engine.push(Operation::sync("write", |_| Ok(())).writes(&[&chain])),
            1 => engine.push(
                Operation::sync("read", |_| Ok(()))
                    .reads(&[&chain])
                    .writes(&[&out]),
            ),
            _ => engine.push(
                Operation::asynchronous("async", |_, done| {
                    std::thread::spawn(move || done.done());
                })
                .writes(&[&out]),
            ),
        };
        pushed.unwrap();
    }
}

#[test]
fn the_trace_has_one_complete_event_per_operation() {
    on_each_config(60, |label, config| {
        let path = temp_trace(&label.replace(' ', "-"));
        let engine = Engine::new(config.with_profile(&path)).unwrap();
        // The file exists, empty but readable, before any operation.
        assert!(read_trace(&path).is_empty(), "{label}");
        push_ops(&engine, 300);
        engine.wait_all().unwrap();
        // Streamed while the engine lives: a flush makes every event so far readable.
        engine.profiler().flush().unwrap();
        let events = read_trace(&path);
        assert_eq!(complete_events(&events).len(), 300, "{label}");
        push_ops(&engine, 150);
        engine.wait_all().unwrap();
        let pushed = engine.operations_pushed();
        assert_eq!(pushed, 450, "{label}");
        engine.shutdown().unwrap();

        let events = read_trace(&path);
        std::fs::remove_file(&path).unwrap();
        let ops = complete_events(&events);
        assert_eq!(ops.len() as u64, pushed, "{label}");
        for name in ["write", "read", "async"] {
            let n = ops.iter().filter(|e| e["name"] == name).count();
            assert_eq!(n, 150, "{label}: {name}");
        }
        for e in &ops {
            assert_eq!(e["args"]["context"], "cpu(0)");
            assert!(e["dur"].as_f64().unwrap() >= 0.0);
            assert!(e["ts"].as_f64().unwrap() > 0.0);
        }
        // Every (pid, tid) of an event is named by a metadata event.
        let named = |e: &&Value| {
            events
                .iter()
                .any(|m| m["name"] == "thread_name" && m["pid"] == e["pid"] && m["tid"] == e["tid"])
        };
        assert!(ops.iter().all(named), "{label}");
    });
}

#[test]
fn an_unwritable_profile_path_fails_when_the_engine_is_built() {
    let dir = std::env::temp_dir().join(format!("mxr-missing-{}", std::process::id()));
    let bad = dir.join("trace.json");
    let err = Engine::new(EngineConfig::default().with_profile(&bad)).unwrap_err();
    let shown = bad.display().to_string();
    assert!(
        matches!(&err, Error::ProfileIo { path, .. } if *path == shown),
        "{err:?}"
    );
    assert!(err.to_string().contains(&shown), "{err}");
    // The same from the environment, as `Engine::global` reads it.
    let lookup = |name: &str| (name == "MXR_PROFILE").then(|| shown.clone());
    let config = EngineConfig::from_lookup(lookup).unwrap();
    assert!(matches!(Engine::new(config), Err(Error::ProfileIo { .. })));
    assert!(!dir.exists());
}

#[test]
fn statistics_of_engine_operations() {
    let engine = Engine::new(EngineConfig::default().with_kind(EngineKind::Naive)).unwrap();
    // Statistics without a trace file.
    engine.profiler().set_enabled(true);
    let v = Var::new();
    let sleep = |ms: u64| {
        move |_: &_| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(())
        }
    };
    for _ in 0..3 {
        engine.push_sync("nap", &[], &[&v], sleep(2)).unwrap();
    }
    engine.push_sync("long_nap", &[], &[&v], sleep(12)).unwrap();
    engine.wait_all().unwrap();
    let stats = engine.profiler().stats();
    assert_eq!(stats.len(), 2, "{stats:?}");
    // By name: sleeps overshoot on a loaded machine (or under valgrind), so which total is
    // larger is not certain (the order itself is tested in the profiler's unit tests).
    let named = |name: &str| stats.iter().find(|s| s.name == name).unwrap();
    let (long, nap) = (named("long_nap"), named("nap"));
    assert_eq!((long.count, nap.count), (1, 3));
    assert!(long.min_ns >= 12_000_000 && long.min_ns == long.max_ns);
    assert!(nap.min_ns >= 2_000_000 && nap.max_ns >= nap.min_ns);
    assert!(nap.total_ns >= 6_000_000 && nap.total_ns >= nap.max_ns + 2 * nap.min_ns);
    assert_eq!(nap.mean_ns(), nap.total_ns as f64 / 3.0);
    let table = engine.profiler().dumps(true);
    let row = table.lines().find(|l| l.starts_with("nap ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "3");
    let total_ms: f64 = cells[2].parse().unwrap();
    assert!((total_ms - nap.total_ns as f64 / 1e6).abs() < 1e-4, "{row}");
    assert!(engine.profiler().stats().is_empty());
    // Disabled: nothing is counted.
    engine.profiler().set_enabled(false);
    engine.push_sync("nap", &[], &[&v], sleep(0)).unwrap();
    engine.wait_all().unwrap();
    assert!(engine.profiler().stats().is_empty());
}

/// Set in the child process of `the_global_engine_traces_to_mxr_profile`.
const CHILD_OPS: &str = "MXR_TEST_PROFILE_CHILD_OPS";

/// The child's half of `the_global_engine_traces_to_mxr_profile` (does nothing in a normal
/// run): pushes operations to the process-wide engine and exits without stopping anything.
#[test]
fn global_engine_profile_child() {
    let Some(n) = std::env::var(CHILD_OPS).ok() else {
        return;
    };
    let n: usize = n.parse().unwrap();
    let engine = Engine::global().unwrap_or_else(|e| panic!("{e}"));
    assert!(engine.profiler().is_enabled());
    push_ops(engine, n);
    engine.wait_all().unwrap();
    println!("pushed {}", engine.operations_pushed());
}

#[test]
fn the_global_engine_traces_to_mxr_profile() {
    let path = temp_trace("global");
    let exe = std::env::current_exe().unwrap();
    let run = |profile: &Path| {
        Command::new(&exe)
            .args([
                "--exact",
                "profiler::global_engine_profile_child",
                "--nocapture",
            ])
            .args(["--test-threads", "1"])
            .env(CHILD_OPS, "1000")
            .env("MXR_PROFILE", profile)
            .output()
            .unwrap()
    };
    let out = run(&path);
    let stdout = success_stdout("the child test", &out);
    assert!(stdout.contains("pushed 1000"), "{stdout}");
    // The process ended without a shutdown or a stop: every event is there all the same.
    let events = read_trace(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(complete_events(&events).len(), 1000);

    // An unwritable MXR_PROFILE: the process-wide engine reports it (the child's unwrap).
    let out = run(&std::env::temp_dir().join("mxr-no-such-dir").join("t.json"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot write profile to"), "{stderr}");
}

#[test]
fn start_stop_and_dump_on_the_process_wide_engine() {
    // Uses the test process's own global engine (no MXR_PROFILE here).
    let path = temp_trace("api");
    profiler::start(&path).unwrap();
    let engine = Engine::global().unwrap();
    let v = Var::new();
    for _ in 0..20 {
        engine.push_sync("api_op", &[], &[&v], |_| Ok(())).unwrap();
    }
    engine.wait_for_var(&v).unwrap();
    profiler::dump().unwrap();
    let api_events = |events: &[Value]| {
        let ops = complete_events(events);
        ops.iter().filter(|e| e["name"] == "api_op").count()
    };
    assert_eq!(api_events(&read_trace(&path)), 20);
    profiler::stop().unwrap();
    engine.push_sync("api_op", &[], &[&v], |_| Ok(())).unwrap();
    engine.wait_for_var(&v).unwrap();
    assert_eq!(api_events(&read_trace(&path)), 20);
    assert!(profiler::dumps(false).unwrap().contains("api_op"));
    std::fs::remove_file(&path).unwrap();
    let bad = std::env::temp_dir().join("mxr-no-such-dir").join("t.json");
    assert!(matches!(profiler::start(bad), Err(Error::ProfileIo { .. })));
}
