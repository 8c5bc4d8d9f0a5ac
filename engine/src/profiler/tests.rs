//! Tests of the profiler: trace format, aggregate statistics, periodic flushing.

use super::*;
use serde_json::Value;

fn rec(name: &'static str, context: Context, worker: u32, start_ns: u64, dur: u64) -> OpRecord {
    let name = name.into();
    OpRecord {
        name,
        context,
        worker,
        start_ns,
        duration_ns: dur,
    }
}

fn temp(tag: &str) -> PathBuf {
    let pid = std::process::id();
    std::env::temp_dir().join(format!("mxr-profiler-unit-{tag}-{pid}.json"))
}

/// A profiler streaming to a fresh temporary file.
fn started(tag: &str) -> (PathBuf, Profiler) {
    let path = temp(tag);
    let p = Profiler::new();
    p.start(&path).unwrap();
    (path, p)
}

/// The trace file's events: the unterminated array closed as the module docs say.
fn read_trace(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("[\n"), "{text}");
    let body = text.strip_suffix(",\n").unwrap_or(text.trim_end());
    let events: Value = serde_json::from_str(&format!("{body}]")).unwrap();
    events.as_array().unwrap().clone()
}

#[test]
fn disabled_by_default_and_toggles() {
    let p = Profiler::default();
    assert!(!p.is_enabled());
    p.set_enabled(true);
    assert!(p.is_enabled());
    p.set_enabled(false);
    assert!(!p.is_enabled());
    assert!(p.stats().is_empty());
    assert_eq!(p.trace_path(), None);
}

#[test]
fn now_ns_is_monotonic() {
    let p = Profiler::new();
    let mut last = p.now_ns();
    for _ in 0..10_000 {
        let t = p.now_ns();
        assert!(t >= last);
        last = t;
    }
    std::thread::sleep(Duration::from_millis(2));
    assert!(p.now_ns() >= last + 1_000_000);
}

#[test]
fn events_stream_with_metadata_and_exact_times() {
    let path = temp("stream");
    let p = Profiler::new();
    p.register_worker(0, "mxr-cpu-0");
    p.register_worker(u32::MAX, "inline");
    p.start(&path).unwrap();
    assert_eq!(p.trace_path().as_deref(), Some(path.as_path()));
    assert!(p.is_enabled());
    p.record(rec("first", Context::cpu(0), 0, 1_500, 2_000));
    p.record(rec("la\"te", Context::gpu(0), 1, 5_000, 250));
    p.record(rec("copy", Context::cpu(0), u32::MAX, 3_001_002_003, 7));
    // After a flush the file holds every event and parses without the profiler stopping.
    p.flush().unwrap();
    let events = read_trace(&path);
    let x: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    let names: Vec<&str> = x.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["first", "la\"te", "copy"]);
    let ts: Vec<f64> = x.iter().map(|e| e["ts"].as_f64().unwrap()).collect();
    assert_eq!(ts, [1.5, 5.0, 3_001_002.003]);
    let dur: Vec<f64> = x.iter().map(|e| e["dur"].as_f64().unwrap()).collect();
    assert_eq!(dur, [2.0, 0.25, 0.007]);
    let pids: Vec<u64> = x.iter().map(|e| e["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, [1, 2, 1]);
    let tids: Vec<u64> = x.iter().map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(tids, [0, 1, u64::from(u32::MAX)]);
    assert_eq!(x[1]["args"]["context"], "gpu(0)");
    assert!(x.iter().all(|e| e["cat"] == "operator"));

    // Each process and thread is named once, before its first event.
    let meta: Vec<(String, u64, Option<u64>, String)> = events
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| {
            let kind = e["name"].as_str().unwrap().to_owned();
            let label = e["args"]["name"].as_str().unwrap().to_owned();
            (kind, e["pid"].as_u64().unwrap(), e["tid"].as_u64(), label)
        })
        .collect();
    let expected = [
        ("process_name", 1, None, "cpu(0)"),
        ("thread_name", 1, Some(0), "mxr-cpu-0"),
        ("process_name", 2, None, "gpu(0)"),
        ("thread_name", 2, Some(1), "worker-1"),
        ("thread_name", 1, Some(u64::from(u32::MAX)), "inline"),
    ]
    .map(|(k, p, t, n)| (k.to_owned(), p, t, n.to_owned()));
    assert_eq!(meta, expected);
    let first_x = events.iter().position(|e| e["ph"] == "X").unwrap();
    assert_eq!(first_x, 2);

    // Stopping writes nothing more and turns recording off; a restart truncates.
    p.stop().unwrap();
    assert!(!p.is_enabled());
    assert_eq!(p.trace_path(), None);
    assert_eq!(read_trace(&path).len(), events.len());
    p.start(&path).unwrap();
    p.stop().unwrap();
    assert!(read_trace(&path).is_empty());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_flusher_writes_without_being_asked() {
    let (path, p) = started("flusher");
    p.record(rec("op", Context::cpu(0), 0, 10, 20));
    let deadline = Instant::now() + Duration::from_secs(20);
    while read_trace(&path).is_empty() {
        assert!(Instant::now() < deadline, "the event was never written");
        std::thread::sleep(FLUSH_PERIOD / 2);
    }
    assert_eq!(read_trace(&path).len(), 3); // process, thread, event
    drop(p); // stops
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn full_buffers_are_written_at_event_boundaries() {
    let (path, p) = started("full");
    let n = 2 * BUFFER_BYTES / 100;
    for i in 0..n as u64 {
        p.record(rec("op", Context::cpu(0), 0, i, 1));
    }
    // At least one buffer went out on its own, ending with a whole event.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.len() > BUFFER_BYTES, "{}", text.len());
    assert!(text.ends_with("},\n"));
    p.stop().unwrap();
    let events = read_trace(&path);
    assert_eq!(events.iter().filter(|e| e["ph"] == "X").count(), n);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unwritable_paths_fail_at_start() {
    let dir = std::env::temp_dir().join(format!("mxr-no-such-dir-{}", std::process::id()));
    let bad = dir.join("trace.json");
    let p = Profiler::new();
    let err = p.start(&bad).unwrap_err();
    let shown = bad.display().to_string();
    assert!(
        matches!(&err, Error::ProfileIo { path, .. } if *path == shown),
        "{err:?}"
    );
    assert!(err.to_string().contains(&shown), "{err}");
    assert!(!p.is_enabled());
    // A directory is not a file either.
    assert!(matches!(
        p.start(std::env::temp_dir()),
        Err(Error::ProfileIo { .. })
    ));
    // A file that opens but takes no bytes (Linux's /dev/full): the first write, at start.
    if Path::new("/dev/full").exists() {
        let err = p.start("/dev/full").unwrap_err();
        assert!(err.to_string().contains("/dev/full"), "{err}");
        assert!(!p.is_enabled());
    }
}

#[test]
fn statistics_aggregate_by_name() {
    let p = Profiler::new();
    for d in [10, 30, 20] {
        p.record(rec("dot", Context::cpu(0), 0, 0, d * 1_000_000));
    }
    p.record(rec("relu", Context::cpu(0), 1, 0, 100_000_000));
    p.record(rec("copy", Context::gpu(0), 1, 0, 5));
    let stats = p.stats();
    let dot = OpStats {
        name: "dot".into(),
        count: 3,
        total_ns: 60_000_000,
        min_ns: 10_000_000,
        max_ns: 30_000_000,
    };
    assert_eq!(stats[1], dot);
    assert_eq!(stats[1].mean_ns(), 20_000_000.0);
    let order: Vec<&str> = stats.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["relu", "dot", "copy"]);

    let table = p.dumps(false);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "Profile Statistics:");
    assert!(lines[3].starts_with("Name") && lines[3].contains("Avg Time (ms)"));
    let row = |name: &str| -> Vec<String> {
        let line = lines.iter().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().map(str::to_owned).collect()
    };
    let expected = ["dot", "3", "60.0000", "10.0000", "30.0000", "20.0000"];
    assert_eq!(row("dot"), expected);
    assert_eq!(
        row("copy")[1..],
        ["1", "0.0000", "0.0000", "0.0000", "0.0000"]
    );
    assert!(
        lines.iter().position(|l| l.starts_with("relu"))
            < lines.iter().position(|l| l.starts_with("dot"))
    );
    // reset: this table still has them, the next has none.
    assert_eq!(p.dumps(true), table);
    assert!(p.stats().is_empty());
    assert_eq!(p.dumps(false).lines().count(), 5);
}

#[test]
fn statistics_table_is_bounded() {
    let p = Profiler::new();
    for i in 0..MAX_STAT_NAMES + 10 {
        let name = Cow::Owned(format!("op{i}"));
        let r = OpRecord {
            name,
            context: Context::cpu(0),
            worker: 0,
            start_ns: 0,
            duration_ns: 1,
        };
        p.record(r);
    }
    let stats = p.stats();
    assert_eq!(stats.len(), MAX_STAT_NAMES + 1);
    let other = stats.iter().find(|s| s.name == OTHER_OPERATIONS).unwrap();
    assert_eq!(other.count, 10);
    // Names already in the table keep their own row.
    p.record(rec("op0", Context::cpu(0), 0, 0, 1));
    assert_eq!(p.stats().iter().find(|s| s.name == "op0").unwrap().count, 2);
}
