//! The operation profiler: records every operation the engine runs while enabled and renders
//! the result as a [Chrome trace](https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU)
//! (JSON object form), viewable in Perfetto or `chrome://tracing`.
//!
//! In the trace each distinct [`Context`] is a process (pids are assigned from 1 in the sorted
//! order of the contexts present) and each worker a thread (tid = the worker's index).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::{Context, Error, Result};

/// One executed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRecord {
    /// The operation's name (the event's name in the trace).
    pub name: Cow<'static, str>,
    /// The context the operation ran in (its process in the trace).
    pub context: Context,
    /// Index of the worker thread that ran it (its thread in the trace); see
    /// [`Profiler::register_worker`].
    pub worker: u32,
    /// Start time, in nanoseconds since the profiler's epoch (see [`Profiler::now_ns`]).
    pub start_ns: u64,
    /// How long the operation ran, in nanoseconds.
    pub duration_ns: u64,
}

/// Collects [`OpRecord`]s and renders them as a Chrome trace.
///
/// `Send + Sync`: the engine holds it in an `Arc` and every worker records into it. While
/// disabled the only cost to a worker is one relaxed atomic load ([`Profiler::is_enabled`]).
///
/// ```
/// use mxr_engine::{Context, OpRecord, Profiler};
///
/// let profiler = Profiler::new();
/// profiler.set_enabled(true);
/// profiler.register_worker(0, "mxr-cpu-0");
/// if profiler.is_enabled() {
///     let start_ns = profiler.now_ns();
///     // ... run the operation ...
///     let duration_ns = profiler.now_ns() - start_ns;
///     profiler.record(OpRecord {
///         name: "dot".into(),
///         context: Context::cpu(0),
///         worker: 0,
///         start_ns,
///         duration_ns,
///     });
/// }
/// let trace = profiler.chrome_trace().to_string();
/// assert!(trace.contains("\"dot\""));
/// assert!(trace.contains("mxr-cpu-0"));
/// ```
#[derive(Debug)]
pub struct Profiler {
    epoch: Instant,
    enabled: AtomicBool,
    records: Mutex<Vec<OpRecord>>,
    worker_names: Mutex<HashMap<u32, String>>,
}

impl Default for Profiler {
    fn default() -> Self {
        Self::new()
    }
}

/// Nanoseconds to the trace's microseconds, keeping nanosecond precision (exact below 2^53 ns,
/// about 104 days).
fn ns_to_us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Profiler {
    /// A disabled profiler with no records, whose epoch is now.
    pub fn new() -> Self {
        Profiler {
            epoch: Instant::now(),
            enabled: AtomicBool::new(false),
            records: Mutex::new(Vec::new()),
            worker_names: Mutex::new(HashMap::new()),
        }
    }

    /// Turns recording on or off. Workers see the change at their next operation.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Whether operations should be recorded now.
    ///
    /// A `Relaxed` load is enough: the flag publishes no other data (the records are behind
    /// their own mutex, which provides all the synchronization they need), so the only effect
    /// of reading a slightly stale value is that an operation racing with
    /// [`set_enabled`](Self::set_enabled) is recorded or skipped, which is already
    /// unavoidable for an operation concurrent with the toggle.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Nanoseconds since the profiler's epoch (its creation); monotonic.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Names worker `worker`'s thread in the trace, e.g. `(0, "mxr-cpu-0")` or
    /// `(u32::MAX, "pusher")`. Unnamed workers appear as `worker-<index>`. A later call for
    /// the same worker replaces the name.
    pub fn register_worker(&self, worker: u32, name: &str) {
        self.worker_names.lock().insert(worker, name.to_owned());
    }

    /// Appends a record. Callers check [`is_enabled`](Self::is_enabled) first; this records
    /// regardless of the flag.
    pub fn record(&self, rec: OpRecord) {
        self.records.lock().push(rec);
    }

    /// A snapshot of the records, in recording order.
    pub fn records(&self) -> Vec<OpRecord> {
        self.records.lock().clone()
    }

    /// Discards all records (registered worker names are kept).
    pub fn clear(&self) {
        self.records.lock().clear();
    }

    /// The whole trace document: `{"traceEvents": [...], "displayTimeUnit": "ms",
    /// "otherData": {"producer": "mxr"}}`.
    ///
    /// `traceEvents` holds first the metadata events (a `process_name` per context, a
    /// `thread_name` per context and worker pair), then one complete (`"ph": "X"`) event per
    /// record, sorted by start time (ties keep recording order). Times are in microseconds,
    /// as floats with nanosecond precision.
    pub fn chrome_trace(&self) -> Value {
        let mut records = self.records();
        records.sort_by_key(|r| r.start_ns); // stable: ties keep recording order
        let contexts: Vec<Context> = records
            .iter()
            .map(|r| r.context)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let pid_of = |ctx: &Context| -> usize {
            // Every record's context is in `contexts`, which is sorted.
            contexts.binary_search(ctx).map_or(0, |i| i + 1)
        };
        let threads: BTreeSet<(usize, u32)> = records
            .iter()
            .map(|r| (pid_of(&r.context), r.worker))
            .collect();

        let mut events = Vec::with_capacity(contexts.len() + threads.len() + records.len());
        for ctx in &contexts {
            events.push(json!({
                "name": "process_name",
                "ph": "M",
                "pid": pid_of(ctx),
                "args": { "name": ctx.to_string() },
            }));
        }
        {
            let names = self.worker_names.lock();
            for &(pid, worker) in &threads {
                let name = names
                    .get(&worker)
                    .cloned()
                    .unwrap_or_else(|| format!("worker-{worker}"));
                events.push(json!({
                    "name": "thread_name",
                    "ph": "M",
                    "pid": pid,
                    "tid": worker,
                    "args": { "name": name },
                }));
            }
        }
        for r in &records {
            events.push(json!({
                "name": r.name.as_ref(),
                "cat": "operator",
                "ph": "X",
                "ts": ns_to_us(r.start_ns),
                "dur": ns_to_us(r.duration_ns),
                "pid": pid_of(&r.context),
                "tid": r.worker,
                "args": { "context": r.context.to_string() },
            }));
        }
        json!({
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": { "producer": "mxr" },
        })
    }

    /// Writes [`chrome_trace`](Self::chrome_trace) to `path` (created or truncated).
    ///
    /// # Errors
    /// [`Error::ProfileIo`] naming `path` when the file cannot be written.
    pub fn write_chrome_trace(&self, path: &Path) -> Result<()> {
        serde_json::to_vec(&self.chrome_trace())
            .map_err(std::io::Error::from)
            .and_then(|bytes| std::fs::write(path, bytes))
            .map_err(|e| Error::ProfileIo {
                path: path.display().to_string(),
                source: Arc::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn events(trace: &Value, ph: &str) -> Vec<Value> {
        let all = trace["traceEvents"].as_array().expect("traceEvents array");
        all.iter().filter(|e| e["ph"] == ph).cloned().collect()
    }

    /// `(pid, tid, args.name)` of the metadata events called `name`, sorted.
    fn meta(trace: &Value, name: &str) -> Vec<(u64, Option<u64>, String)> {
        let of = |e: &Value| {
            let label = e["args"]["name"].as_str().unwrap().to_owned();
            (e["pid"].as_u64().unwrap(), e["tid"].as_u64(), label)
        };
        let mut out: Vec<_> = events(trace, "M")
            .iter()
            .filter(|e| e["name"] == name)
            .map(of)
            .collect();
        out.sort();
        out
    }

    #[test]
    fn disabled_by_default_and_toggles() {
        let p = Profiler::default();
        assert!(!p.is_enabled());
        p.set_enabled(true);
        assert!(p.is_enabled());
        p.set_enabled(false);
        assert!(!p.is_enabled());
        assert!(p.records().is_empty());
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
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(p.now_ns() >= last + 1_000_000);
    }

    #[test]
    fn concurrent_records_all_present_and_clear() {
        let p = Arc::new(Profiler::new());
        p.set_enabled(true);
        let handles: Vec<_> = (0..4u32)
            .map(|w| {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    (0..1000).for_each(|i| p.record(rec("op", Context::cpu(0), w, i, 1)));
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let records = p.records();
        assert_eq!(records.len(), 4000);
        for w in 0..4u32 {
            // Each thread's records are all there, in its own order.
            let mine = records.iter().filter(|r| r.worker == w).map(|r| r.start_ns);
            assert_eq!(mine.collect::<Vec<_>>(), (0..1000).collect::<Vec<_>>());
        }
        assert_eq!(events(&p.chrome_trace(), "X").len(), 4000);
        p.clear();
        assert!(p.records().is_empty());
        assert_eq!(p.chrome_trace()["traceEvents"], json!([]));
    }

    #[test]
    fn chrome_trace_contents() {
        let p = Profiler::new();
        p.register_worker(0, "mxr-cpu-0");
        p.register_worker(u32::MAX, "pusher");
        // Recorded out of time order, across two contexts.
        p.record(rec("late", Context::gpu(0), 1, 5_000, 250));
        p.record(rec("first", Context::cpu(0), 0, 1_500, 2_000));
        p.record(rec("copy", Context::cpu(0), u32::MAX, 3_001, 7));
        p.record(rec("mid", Context::gpu(0), 1, 3_000, 1));

        let trace: Value = serde_json::from_str(&p.chrome_trace().to_string()).unwrap();
        assert_eq!(trace["displayTimeUnit"], "ms");
        assert_eq!(trace["otherData"]["producer"], "mxr");
        let x = events(&trace, "X");
        let field = |k: &str| x.iter().map(|e| e[k].clone()).collect::<Vec<_>>();
        assert_eq!(field("name"), ["first", "mid", "copy", "late"]);
        let ts: Vec<f64> = x.iter().map(|e| e["ts"].as_f64().unwrap()).collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(ts, [1.5, 3.0, 3.001, 5.0]);
        let dur: Vec<f64> = x.iter().map(|e| e["dur"].as_f64().unwrap()).collect();
        assert_eq!(dur, [2.0, 0.001, 0.007, 0.25]);
        assert!(field("cat").iter().all(|c| c == "operator"));
        assert_eq!(field("tid"), [0, 1, u32::MAX, 1]);
        let ctxs: Vec<Value> = x.iter().map(|e| e["args"]["context"].clone()).collect();
        assert_eq!(ctxs, ["cpu(0)", "gpu(0)", "cpu(0)", "gpu(0)"]);

        // One distinct pid per context, with a matching process_name.
        let (cpu, gpu) = (x[0]["pid"].as_u64().unwrap(), x[1]["pid"].as_u64().unwrap());
        assert_ne!(cpu, gpu);
        assert_eq!(field("pid"), [cpu, gpu, cpu, gpu]);
        let mut procs = vec![(cpu, None, "cpu(0)".into()), (gpu, None, "gpu(0)".into())];
        procs.sort();
        assert_eq!(meta(&trace, "process_name"), procs);

        // A thread_name per (pid, worker): registered names and the fallback.
        let mut threads = vec![
            (cpu, Some(0), "mxr-cpu-0".to_string()),
            (cpu, Some(u64::from(u32::MAX)), "pusher".into()),
            (gpu, Some(1), "worker-1".into()),
        ];
        threads.sort();
        assert_eq!(meta(&trace, "thread_name"), threads);

        // Metadata come first, then the 4 timed events; rendering is deterministic.
        let all = trace["traceEvents"].as_array().unwrap();
        assert_eq!(all.len(), 2 + 3 + 4);
        assert!(all[..5].iter().all(|e| e["ph"] == "M"));
        assert_eq!(p.chrome_trace(), p.chrome_trace());
    }

    #[test]
    fn write_chrome_trace_to_file_and_error() {
        let p = Profiler::new();
        p.record(rec("conv", Context::cpu(0), 0, 10, 20));
        let pid = std::process::id();
        let name = format!("mxr-profiler-test-{pid}-{}.json", p.now_ns());
        let path = std::env::temp_dir().join(name);
        p.write_chrome_trace(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let trace: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(trace, p.chrome_trace());
        assert_eq!(events(&trace, "X")[0]["name"], "conv");

        let dir = std::env::temp_dir().join(format!("mxr-profiler-no-such-dir-{pid}"));
        let bad = dir.join("trace.json");
        let err = p.write_chrome_trace(&bad).unwrap_err();
        let shown = bad.display().to_string();
        assert!(
            matches!(&err, Error::ProfileIo { path, .. } if *path == shown),
            "{err:?}"
        );
        assert!(err.to_string().contains(&shown), "{err}");
    }
}
