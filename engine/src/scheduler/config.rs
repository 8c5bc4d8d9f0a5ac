//! Engine configuration, from code or from the environment.

use std::path::PathBuf;

use crate::{Error, Result};

/// How operations are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Operations run on worker threads as soon as their vars grant them (the default).
    #[default]
    Threaded,
    /// Every operation runs on the pushing thread, inside `push` (the debugging engine).
    Naive,
}

/// Settings of an [`Engine`](crate::Engine).
///
/// ```
/// use mxr_engine::{EngineConfig, EngineKind};
/// let c = EngineConfig::default().with_cpu_workers(4).with_max_inflight(1024);
/// assert_eq!(c.kind, EngineKind::Threaded);
/// assert_eq!(c.cpu_workers, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Threaded or naive (`MXR_ENGINE`: `threaded` or `naive`; MXNet's names
    /// `ThreadedEnginePerDevice` and `NaiveEngine` are accepted too).
    pub kind: EngineKind,
    /// CPU worker threads (`MXR_CPU_WORKERS`; default: the number of cores).
    pub cpu_workers: usize,
    /// The most operations pushed but not finished; a push beyond it blocks until the engine has
    /// drained to half of it (`MXR_MAX_INFLIGHT`; default 1024). Pushes made from inside a
    /// running operation never block.
    pub max_inflight: usize,
    /// Where to stream a Chrome trace of every operation, from the engine's creation (which
    /// fails if the file cannot be created) until it shuts down (`MXR_PROFILE`); `None` leaves
    /// the profiler off. See [`crate::profiler`].
    pub profile_path: Option<PathBuf>,
    /// Frontends run an operation on the pushing thread when it is ready at push and touches at
    /// most this many bytes (`MXR_INLINE_BYTES`; default 64 KiB; 0: never). See
    /// [`Operation::inline_if_ready`](crate::Operation::inline_if_ready).
    pub inline_max_bytes: usize,
}

/// The default [`EngineConfig::inline_max_bytes`]: below it, handing a ready operation to a
/// worker costs more than running it (measured with `benches/workloads.rs`, W1 and W2).
pub const DEFAULT_INLINE_MAX_BYTES: usize = 64 * 1024;

/// The default cap on operations in flight.
///
/// Small on purpose: it also bounds the working set of pending blocks and var queues. Measured
/// with `benches/engine.rs` (1M dependent no-ops on 2 cores): 284 ns/op at 1024, 301 at 4096,
/// 338 at 16384 and about 600 at 65536, where the pending blocks no longer fit in cache. A
/// blocked pusher resumes at half the cap, so it sleeps once per ~512 operations at most.
pub const DEFAULT_MAX_INFLIGHT: usize = 1024;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::Threaded,
            cpu_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_inflight: DEFAULT_MAX_INFLIGHT,
            profile_path: None,
            inline_max_bytes: DEFAULT_INLINE_MAX_BYTES,
        }
    }
}

impl EngineConfig {
    /// Reads `MXR_ENGINE`, `MXR_CPU_WORKERS`, `MXR_MAX_INFLIGHT`, `MXR_INLINE_BYTES` and
    /// `MXR_PROFILE`; unset means
    /// the default. An unparsable value is an [`Error::Config`] naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`EngineConfig::from_env`], reading values through `lookup` instead of the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = EngineConfig::default();
        if let Some(v) = lookup("MXR_ENGINE") {
            config.kind = match v.trim() {
                "threaded" | "ThreadedEnginePerDevice" | "ThreadedEngine" => EngineKind::Threaded,
                "naive" | "NaiveEngine" => EngineKind::Naive,
                _ => {
                    return Err(Error::Config {
                        name: "MXR_ENGINE",
                        value: v,
                        reason: "expected `threaded` or `naive`".into(),
                    });
                }
            };
        }
        if let Some(v) = lookup("MXR_CPU_WORKERS") {
            config.cpu_workers = parse_positive("MXR_CPU_WORKERS", &v)?;
        }
        if let Some(v) = lookup("MXR_MAX_INFLIGHT") {
            config.max_inflight = parse_positive("MXR_MAX_INFLIGHT", &v)?;
        }
        if let Some(v) = lookup("MXR_INLINE_BYTES") {
            config.inline_max_bytes = v.trim().parse().map_err(|_| Error::Config {
                name: "MXR_INLINE_BYTES",
                value: v.clone(),
                reason: "expected a number of bytes (0 turns inline execution off)".into(),
            })?;
        }
        if let Some(v) = lookup("MXR_PROFILE").filter(|v| !v.is_empty()) {
            config.profile_path = Some(PathBuf::from(v));
        }
        Ok(config)
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: EngineKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the number of CPU worker threads.
    pub fn with_cpu_workers(mut self, n: usize) -> Self {
        self.cpu_workers = n;
        self
    }

    /// Sets the cap on operations in flight.
    pub fn with_max_inflight(mut self, n: usize) -> Self {
        self.max_inflight = n;
        self
    }

    /// Turns the profiler on, streaming a Chrome trace to `path` (see
    /// [`EngineConfig::profile_path`]).
    pub fn with_profile(mut self, path: impl Into<PathBuf>) -> Self {
        self.profile_path = Some(path.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.cpu_workers == 0 {
            return Err(Error::Config {
                name: "cpu_workers",
                value: "0".into(),
                reason: "at least one CPU worker is needed".into(),
            });
        }
        if self.max_inflight == 0 {
            return Err(Error::Config {
                name: "max_inflight",
                value: "0".into(),
                reason: "the cap on operations in flight must be at least 1".into(),
            });
        }
        Ok(())
    }
}

fn parse_positive(name: &'static str, value: &str) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::Config {
            name,
            value: value.to_owned(),
            reason: "expected a positive integer".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reads_every_variable() {
        let c = EngineConfig::from_lookup(env(&[
            ("MXR_ENGINE", "naive"),
            ("MXR_CPU_WORKERS", "3"),
            ("MXR_MAX_INFLIGHT", "10"),
            ("MXR_INLINE_BYTES", "0"),
            ("MXR_PROFILE", "/tmp/t.json"),
        ]))
        .unwrap();
        assert_eq!(c.inline_max_bytes, 0);
        assert_eq!(c.kind, EngineKind::Naive);
        assert_eq!(c.cpu_workers, 3);
        assert_eq!(c.max_inflight, 10);
        assert_eq!(c.profile_path, Some(PathBuf::from("/tmp/t.json")));
        let d = EngineConfig::from_lookup(env(&[("MXR_ENGINE", "NaiveEngine")])).unwrap();
        assert_eq!(d.kind, EngineKind::Naive);
        assert_eq!(d.max_inflight, DEFAULT_MAX_INFLIGHT);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("MXR_ENGINE", "fast"),
            ("MXR_CPU_WORKERS", "0"),
            ("MXR_MAX_INFLIGHT", "x"),
            ("MXR_INLINE_BYTES", "-1"),
        ] {
            let err = EngineConfig::from_lookup(env(&[(k, v)])).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(k) && msg.contains(v), "{msg}");
        }
        assert!(
            EngineConfig::default()
                .with_cpu_workers(0)
                .validate()
                .is_err()
        );
        assert!(
            EngineConfig::default()
                .with_max_inflight(0)
                .validate()
                .is_err()
        );
    }
}
