//! The operation profiler: streams every operation the engine runs to a
//! [Chrome trace](https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU)
//! file as it happens (viewable in Perfetto or `chrome://tracing`), and keeps per-operator
//! aggregate statistics, like MXNet's `profiler.dumps()`.
//!
//! The trace is in the JSON *array* form, written incrementally: `[` and a newline, then one
//! event object per line, each followed by `,`. The array is never closed — Chrome's and
//! Perfetto's importers accept an unterminated array with a trailing comma — so a process that
//! is killed still leaves a readable trace of everything written until then. To read it with a
//! strict JSON parser, strip the trailing `,\n` and append `]`.
//!
//! Each operation is one complete event (`"ph": "X"`, times in microseconds with nanosecond
//! precision). Each distinct [`Context`] is a process (pids numbered from 1 in the order the
//! contexts first appear in the file) and each worker a thread (tid = the worker's index); a
//! metadata event (`"ph": "M"`) names each process and thread before its first operation.
//!
//! Memory is bounded however long the run: events are formatted into one buffer of
//! [`BUFFER_BYTES`], written out whenever it fills, every [`FLUSH_PERIOD`] by a background
//! thread, on [`Profiler::flush`], on [`Profiler::stop`] (and so at engine shutdown), and, for
//! the process-wide engine, at process exit. The statistics table holds at most
//! [`MAX_STAT_NAMES`] operation names (later names are counted under [`OTHER_OPERATIONS`]).
//!
//! The functions of this module ([`start`], [`stop`], [`dump`], [`dumps`]) drive the profiler
//! of the process-wide engine ([`Engine::global`](crate::Engine::global)), which `MXR_PROFILE`
//! starts.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Context, Engine, Error, Result};

/// Bytes of formatted events the profiler buffers before writing them to the trace file.
pub const BUFFER_BYTES: usize = 256 * 1024;

/// The longest time a recorded event waits in the buffer before a background thread writes it
/// out (while a trace file is open).
pub const FLUSH_PERIOD: Duration = Duration::from_millis(100);

/// The most distinct operation names the statistics table keeps; operations with further
/// names are counted together under [`OTHER_OPERATIONS`].
pub const MAX_STAT_NAMES: usize = 4096;

/// The statistics row of operations whose names did not fit in the table (see
/// [`MAX_STAT_NAMES`]).
pub const OTHER_OPERATIONS: &str = "(other operations)";

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

/// Aggregate statistics of the operations of one name (see [`Profiler::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpStats {
    /// The operations' name.
    pub name: String,
    /// How many ran.
    pub count: u64,
    /// Their total run time, in nanoseconds.
    pub total_ns: u64,
    /// The shortest run time, in nanoseconds.
    pub min_ns: u64,
    /// The longest run time, in nanoseconds.
    pub max_ns: u64,
}

impl OpStats {
    /// The mean run time, in nanoseconds (0 when no operation ran).
    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ns as f64 / self.count as f64
        }
    }
}

/// Records executed operations: streams them to a Chrome trace file (see the module docs) and
/// aggregates per-name statistics.
///
/// `Send + Sync`: the engine owns one and every worker records into it. While disabled the
/// only cost to a worker is one relaxed atomic load ([`Profiler::is_enabled`]).
///
/// ```
/// use mxr_engine::{Context, OpRecord, Profiler};
///
/// let path = std::env::temp_dir().join(format!("mxr-doc-trace-{}.json", std::process::id()));
/// let profiler = Profiler::new();
/// profiler.register_worker(0, "mxr-cpu-0");
/// profiler.start(&path)?; // creates the file now: an unwritable path fails here
/// if profiler.is_enabled() {
///     let start_ns = profiler.now_ns();
///     // ... run the operation ...
///     let duration_ns = profiler.now_ns() - start_ns;
///     let name = "dot".into();
///     profiler.record(OpRecord { name, context: Context::cpu(0), worker: 0, start_ns, duration_ns });
/// }
/// profiler.stop()?;
/// let text = std::fs::read_to_string(&path).unwrap();
/// let closed = format!("{}]", text.trim_end().trim_end_matches(','));
/// let events: serde_json::Value = serde_json::from_str(&closed).unwrap();
/// assert_eq!(events.as_array().unwrap().iter().filter(|e| e["ph"] == "X").count(), 1);
/// assert!(text.contains("mxr-cpu-0"));
/// assert_eq!(profiler.stats()[0].count, 1);
/// assert!(profiler.dumps(false).contains("dot"));
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), mxr_engine::Error>(())
/// ```
#[derive(Debug)]
pub struct Profiler {
    epoch: Instant,
    enabled: AtomicBool,
    state: Arc<Mutex<State>>,
    /// The background thread writing the buffer out every [`FLUSH_PERIOD`] while a file is
    /// open; dropping the sender stops it.
    flusher: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
}

#[derive(Debug, Default)]
struct State {
    sink: Option<Sink>,
    stats: HashMap<Cow<'static, str>, Stat>,
    worker_names: HashMap<u32, String>,
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    count: u64,
    total_ns: u64,
    min_ns: u64,
    max_ns: u64,
}

/// An open trace file and the formatting state of its stream.
#[derive(Debug)]
struct Sink {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// The pid of each context seen in this file, in order of appearance.
    pids: Vec<Context>,
    /// `(pid, tid)` pairs whose thread is named in this file.
    threads: HashSet<(usize, u32)>,
    /// The first write error; afterwards events are dropped and the error is reported by the
    /// next `flush` or `stop`.
    error: Option<Arc<std::io::Error>>,
}

impl Sink {
    fn open(path: &Path) -> Result<Sink> {
        let mut file = File::create(path).map_err(|e| profile_io(path, e))?;
        file.write_all(b"[\n").map_err(|e| profile_io(path, e))?;
        Ok(Sink {
            path: path.to_owned(),
            file,
            buf: Vec::with_capacity(BUFFER_BYTES + 1024),
            pids: Vec::new(),
            threads: HashSet::new(),
            error: None,
        })
    }

    /// Appends `rec`'s event (and the metadata naming its process and thread, the first time)
    /// to the buffer, writing the buffer out when it is full.
    fn append(&mut self, rec: &OpRecord, names: &HashMap<u32, String>) {
        if self.error.is_some() {
            return;
        }
        let pid = match self.pids.iter().position(|c| *c == rec.context) {
            Some(i) => i + 1,
            None => {
                self.pids.push(rec.context);
                let pid = self.pids.len();
                let name = rec.context.to_string();
                self.meta("process_name", pid, None, &name);
                pid
            }
        };
        if self.threads.insert((pid, rec.worker)) {
            let name = match names.get(&rec.worker) {
                Some(name) => Cow::Borrowed(name.as_str()),
                None => Cow::Owned(format!("worker-{}", rec.worker)),
            };
            self.meta("thread_name", pid, Some(rec.worker), &name);
        }
        let buf = &mut self.buf;
        buf.extend_from_slice(b"{\"name\":");
        json_string(buf, &rec.name);
        buf.extend_from_slice(b",\"cat\":\"operator\",\"ph\":\"X\",\"ts\":");
        micros(buf, rec.start_ns);
        buf.extend_from_slice(b",\"dur\":");
        micros(buf, rec.duration_ns);
        // Writing to a Vec cannot fail.
        let _ = writeln!(
            buf,
            ",\"pid\":{pid},\"tid\":{},\"args\":{{\"context\":\"{}\"}}}},",
            rec.worker, rec.context
        );
        if self.buf.len() >= BUFFER_BYTES {
            self.write_out();
        }
    }

    /// A metadata event naming a process (`tid: None`) or a thread.
    fn meta(&mut self, kind: &str, pid: usize, tid: Option<u32>, name: &str) {
        let buf = &mut self.buf;
        let _ = write!(buf, "{{\"name\":\"{kind}\",\"ph\":\"M\",\"pid\":{pid},");
        if let Some(tid) = tid {
            let _ = write!(buf, "\"tid\":{tid},");
        }
        buf.extend_from_slice(b"\"args\":{\"name\":");
        json_string(buf, name);
        buf.extend_from_slice(b"}},\n");
    }

    /// Writes the buffered events to the file, whole events only, so that the file always
    /// ends at an event boundary.
    fn write_out(&mut self) {
        if !self.buf.is_empty()
            && self.error.is_none()
            && let Err(e) = self.file.write_all(&self.buf)
        {
            eprintln!(
                "mxr-engine: cannot write profile to {}: {e}; later operations are not traced",
                self.path.display()
            );
            self.error = Some(Arc::new(e));
        }
        self.buf.clear();
        if self.buf.capacity() > 2 * BUFFER_BYTES {
            // One very long operation name grew it: give the memory back.
            self.buf.shrink_to(BUFFER_BYTES + 1024);
        }
    }

    /// Writes everything out and returns the first write error, if any.
    fn flush(&mut self) -> Result<()> {
        self.write_out();
        match &self.error {
            Some(e) => Err(Error::ProfileIo {
                path: self.path.display().to_string(),
                source: Arc::clone(e),
            }),
            None => Ok(()),
        }
    }
}

fn profile_io(path: &Path, e: std::io::Error) -> Error {
    Error::ProfileIo {
        path: path.display().to_string(),
        source: Arc::new(e),
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(buf: &mut Vec<u8>, s: &str) {
    // Serializing a `str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// Appends nanoseconds as microseconds with three decimals: exact, whatever the magnitude.
fn micros(buf: &mut Vec<u8>, ns: u64) {
    let _ = write!(buf, "{}.{:03}", ns / 1000, ns % 1000);
}

impl Default for Profiler {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("mxr-engine: {e}");
        }
    }
}

impl Profiler {
    /// A disabled profiler with no trace file and empty statistics, whose epoch is now.
    pub fn new() -> Self {
        Profiler {
            epoch: Instant::now(),
            enabled: AtomicBool::new(false),
            state: Arc::new(Mutex::new(State::default())),
            flusher: Mutex::new(None),
        }
    }

    /// Starts recording, streaming every operation to a Chrome trace at `path` (created or
    /// truncated now, starting with `[`). A trace already being written is finished first,
    /// as by [`stop`](Self::stop). Statistics keep accumulating across files.
    ///
    /// # Errors
    /// [`Error::ProfileIo`] naming `path` when the file cannot be created or written (the
    /// profiler is then left stopped); the error of finishing the previous trace, if any.
    pub fn start(&self, path: impl AsRef<Path>) -> Result<()> {
        self.stop()?;
        let sink = Sink::open(path.as_ref())?;
        self.state.lock().sink = Some(sink);
        let (tx, rx) = mpsc::channel::<()>();
        let state = Arc::downgrade(&self.state);
        let spawned = std::thread::Builder::new()
            .name("mxr-profiler-flush".into())
            .spawn(move || flush_periodically(&state, &rx));
        match spawned {
            Ok(handle) => *self.flusher.lock() = Some((tx, handle)),
            Err(e) => {
                self.state.lock().sink = None;
                return Err(profile_io(path.as_ref(), e));
            }
        }
        self.set_enabled(true);
        Ok(())
    }

    /// Stops recording, writes every buffered event to the trace file and closes it. The
    /// statistics are kept ([`dumps`](Self::dumps) still shows them). Does nothing but disable
    /// recording when no trace file is open.
    ///
    /// # Errors
    /// [`Error::ProfileIo`] when writing the trace failed (at any point since
    /// [`start`](Self::start)).
    pub fn stop(&self) -> Result<()> {
        self.set_enabled(false);
        if let Some((tx, handle)) = self.flusher.lock().take() {
            drop(tx);
            let _ = handle.join();
        }
        let sink = self.state.lock().sink.take();
        match sink {
            Some(mut sink) => sink.flush(),
            None => Ok(()),
        }
    }

    /// Writes every event recorded so far to the trace file (if one is open), keeping it open.
    /// MXNet's `profiler.dump()`.
    ///
    /// # Errors
    /// [`Error::ProfileIo`] when writing the trace failed (at any point since
    /// [`start`](Self::start)).
    pub fn flush(&self) -> Result<()> {
        match self.state.lock().sink.as_mut() {
            Some(sink) => sink.flush(),
            None => Ok(()),
        }
    }

    /// The trace file being written, if any.
    pub fn trace_path(&self) -> Option<PathBuf> {
        self.state.lock().sink.as_ref().map(|s| s.path.clone())
    }

    /// Turns recording on or off without opening or closing a trace file: enabled with no
    /// file, operations are only counted in the statistics. Workers see the change at their
    /// next operation.
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
    /// `(u32::MAX, "inline")`. Unnamed workers appear as `worker-<index>`. A later call for the
    /// same worker replaces the name for trace files started afterwards.
    pub fn register_worker(&self, worker: u32, name: &str) {
        self.state
            .lock()
            .worker_names
            .insert(worker, name.to_owned());
    }

    /// Records one operation: adds it to the statistics and, when a trace file is open, to the
    /// trace. Callers check [`is_enabled`](Self::is_enabled) first; this records regardless of
    /// the flag.
    pub fn record(&self, rec: OpRecord) {
        let mut state = self.state.lock();
        let State {
            sink,
            stats,
            worker_names,
        } = &mut *state;
        add_stat(stats, &rec);
        if let Some(sink) = sink {
            sink.append(&rec, worker_names);
        }
    }

    /// The aggregate statistics of every operation recorded, by name (count, total, min, max;
    /// see [`OpStats::mean_ns`]), the longest total time first (ties by name).
    pub fn stats(&self) -> Vec<OpStats> {
        let mut out: Vec<OpStats> = self
            .state
            .lock()
            .stats
            .iter()
            .map(|(name, s)| OpStats {
                name: name.to_string(),
                count: s.count,
                total_ns: s.total_ns,
                min_ns: s.min_ns,
                max_ns: s.max_ns,
            })
            .collect();
        out.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(a.name.cmp(&b.name)));
        out
    }

    /// Forgets the statistics.
    pub fn reset_stats(&self) {
        self.state.lock().stats.clear();
    }

    /// The statistics as a table, as MXNet's `profiler.dumps()` prints them: one row per
    /// operation name with its count and its total, minimum, maximum and mean time in
    /// milliseconds, the longest total first. `reset` then forgets them.
    pub fn dumps(&self, reset: bool) -> String {
        let stats = self.stats();
        if reset {
            self.reset_stats();
        }
        let width = stats
            .iter()
            .map(|s| s.name.chars().count())
            .chain([30])
            .max()
            .unwrap_or(30);
        let ms = |ns: f64| ns / 1e6;
        let mut out = String::from("Profile Statistics:\noperator\n=================\n");
        let columns = [
            "Total Count",
            "Time (ms)",
            "Min Time (ms)",
            "Max Time (ms)",
            "Avg Time (ms)",
        ];
        let _ = write!(out, "{:<width$}", "Name");
        columns.iter().for_each(|c| {
            let _ = write!(out, "{c:>16}");
        });
        let _ = write!(out, "\n{:<width$}", "----");
        columns.iter().for_each(|c| {
            let _ = write!(out, "{:>16}", "-".repeat(c.len()));
        });
        out.push('\n');
        for s in &stats {
            let _ = writeln!(
                out,
                "{:<width$}{:>16}{:>16.4}{:>16.4}{:>16.4}{:>16.4}",
                s.name,
                s.count,
                ms(s.total_ns as f64),
                ms(s.min_ns as f64),
                ms(s.max_ns as f64),
                ms(s.mean_ns()),
            );
        }
        out
    }

    /// Writes out the buffered events of the process-wide engine at process exit.
    pub(crate) fn flush_at_exit(&self) {
        // A lock held by a thread that will never release it (one stopped inside `record`
        // while the process exits) must not hang the exit.
        if let Some(mut state) = self.state.try_lock_for(Duration::from_secs(1))
            && let Some(sink) = state.sink.as_mut()
            && let Err(e) = sink.flush()
        {
            eprintln!("mxr-engine: {e}");
        }
    }
}

fn add_stat(stats: &mut HashMap<Cow<'static, str>, Stat>, rec: &OpRecord) {
    let d = rec.duration_ns;
    let key: &str = if stats.contains_key(rec.name.as_ref()) || stats.len() < MAX_STAT_NAMES {
        &rec.name
    } else {
        OTHER_OPERATIONS
    };
    match stats.get_mut(key) {
        Some(s) => {
            s.count += 1;
            s.total_ns = s.total_ns.saturating_add(d);
            s.min_ns = s.min_ns.min(d);
            s.max_ns = s.max_ns.max(d);
        }
        None => {
            let key = if key == OTHER_OPERATIONS {
                Cow::Borrowed(OTHER_OPERATIONS)
            } else {
                rec.name.clone()
            };
            let first = Stat {
                count: 1,
                total_ns: d,
                min_ns: d,
                max_ns: d,
            };
            stats.insert(key, first);
        }
    }
}

/// The background flusher: writes the buffer out every [`FLUSH_PERIOD`] until its channel
/// is closed (by [`Profiler::stop`]) or the profiler is gone.
fn flush_periodically(state: &Weak<Mutex<State>>, stop: &mpsc::Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(FLUSH_PERIOD) {
        let Some(state) = state.upgrade() else { return };
        if let Some(sink) = state.lock().sink.as_mut() {
            sink.write_out();
        }
    }
}

/// Starts the process-wide engine's profiler, streaming to `path` (see [`Profiler::start`]).
///
/// # Errors
/// The engine's configuration error ([`Engine::global`]); [`Error::ProfileIo`] when `path`
/// cannot be created.
pub fn start(path: impl AsRef<Path>) -> Result<()> {
    Engine::global()?.profiler().start(path)
}

/// Stops the process-wide engine's profiler and closes its trace file (see
/// [`Profiler::stop`]). Operations still running are not waited for: wait for them first
/// (`Engine::wait_all`, `nd::waitall`) for a complete trace.
///
/// # Errors
/// As [`Profiler::stop`], or the engine's configuration error.
pub fn stop() -> Result<()> {
    Engine::global()?.profiler().stop()
}

/// Writes the process-wide engine's recorded events to its trace file now (MXNet's
/// `profiler.dump()`; see [`Profiler::flush`]).
///
/// # Errors
/// As [`Profiler::flush`], or the engine's configuration error.
pub fn dump() -> Result<()> {
    Engine::global()?.profiler().flush()
}

/// The process-wide engine's per-operator statistics table (MXNet's `profiler.dumps()`; see
/// [`Profiler::dumps`]).
///
/// # Errors
/// The engine's configuration error.
pub fn dumps(reset: bool) -> Result<String> {
    Ok(Engine::global()?.profiler().dumps(reset))
}

#[cfg(test)]
mod tests;
