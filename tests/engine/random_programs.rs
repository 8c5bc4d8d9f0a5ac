//! Randomised programs against sequential execution (MXNet's `RandSumExpr` idea): thousands of
//! random operation sequences over a few dozen vars; every operation reads and writes random
//! subsets and appends to the written vars' logs a value mixed from everything it read. Any
//! ordering violation changes some log. Each var's data sits behind an `RwLock` taken with
//! `try_*`: a failure to lock means two operations overlapped where the engine must keep them
//! apart (a write alongside any other access). About one operation in twenty fails; the
//! sequential model says which failure every var must report (MXNet's error rules). One
//! operation in three runs on one of two emulated GPUs, through their device workers.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use mxr::engine::gpu::{self, GpuDevice};
use mxr::engine::{BoxError, Completion, Context, Engine, EngineConfig, Error, Operation, Var};
use parking_lot::RwLock;

use crate::util::{Rng, configs, with_timeout};

const VARS: usize = 32;

#[derive(Debug, Clone)]
struct Op {
    reads: Vec<usize>,
    writes: Vec<usize>,
    asynchronous: bool,
    priority: i32,
    spin: u32,
    fails: bool,
    /// Runs on the pushing thread when ready at push (`Operation::inline_if_ready`).
    inline: bool,
    /// `None`: cpu(0); `Some(n)`: emulated gpu(n), run by that device's worker.
    gpu: Option<u32>,
}

fn random_program(rng: &mut Rng, len: usize) -> Vec<Op> {
    (0..len)
        .map(|_| {
            let reads = (0..rng.below(4)).map(|_| rng.below(VARS)).collect();
            let writes = (0..1 + rng.below(3)).map(|_| rng.below(VARS)).collect();
            Op {
                reads,
                writes,
                asynchronous: rng.below(8) == 0,
                priority: i32::from(rng.below(6) == 0),
                spin: if rng.below(4) == 0 {
                    rng.below(2000) as u32
                } else {
                    0
                },
                fails: rng.below(20) == 0,
                inline: rng.below(3) == 0,
                gpu: match rng.below(6) {
                    0 => Some(0),
                    1 => Some(1),
                    _ => None,
                },
            }
        })
        .collect()
}

/// The engine's normalisation: written vars once each, read vars once each minus written ones,
/// both in the order first listed (the order in which the engine looks for inherited errors).
fn normalised(op: &Op) -> (Vec<usize>, Vec<usize>) {
    let mut writes: Vec<usize> = Vec::new();
    for &w in &op.writes {
        if !writes.contains(&w) {
            writes.push(w);
        }
    }
    let mut reads: Vec<usize> = Vec::new();
    for &r in &op.reads {
        if !writes.contains(&r) && !reads.contains(&r) {
            reads.push(r);
        }
    }
    (reads, writes)
}

fn mix(acc: u64, x: u64) -> u64 {
    (acc ^ x).wrapping_mul(0x100_0000_01B3).rotate_left(17)
}

/// What one operation appends to each var it writes, given the last values it saw.
fn step(id: u64, seen: &[u64]) -> u64 {
    seen.iter()
        .fold(mix(0xCBF2_9CE4_8422_2325, id), |acc, &v| mix(acc, v))
}

/// What sequential execution leaves: each var's log; the failing operation whose error each var
/// carries (an operation touching a poisoned var is skipped and passes the error on to the vars
/// it writes, reads first, in listed order); and the failing operations that actually ran.
fn sequential(program: &[Op]) -> (Vec<Vec<u64>>, Vec<Option<usize>>, Vec<usize>) {
    let mut logs = vec![Vec::new(); VARS];
    let mut poison: Vec<Option<usize>> = vec![None; VARS];
    let mut raised = Vec::new();
    for (id, op) in program.iter().enumerate() {
        let (reads, writes) = normalised(op);
        let inherited = reads.iter().chain(&writes).find_map(|&v| poison[v]);
        if inherited.is_none() && op.fails {
            raised.push(id);
        }
        if let Some(origin) = inherited.or(op.fails.then_some(id)) {
            for &w in &writes {
                poison[w] = Some(origin);
            }
            continue;
        }
        let seen: Vec<u64> = reads
            .iter()
            .chain(&writes)
            .map(|&v| logs[v].last().copied().unwrap_or(v as u64))
            .collect();
        let value = step(id as u64, &seen);
        for &w in &writes {
            logs[w].push(value);
        }
    }
    (logs, poison, raised)
}

/// The sequential model of waiting on every var in order: the first wait on a var carrying an
/// error reports it and clears it for every var sharing it.
fn expected_errors(poison: &[Option<usize>]) -> Vec<Option<usize>> {
    let mut reported = HashSet::new();
    poison
        .iter()
        .map(|p| p.filter(|origin| reported.insert(*origin)))
        .collect()
}

type Completer = mpsc::Sender<(Completion, Result<(), BoxError>)>;

struct Harness {
    logs: Arc<Vec<RwLock<Vec<u64>>>>,
    overlaps: Arc<AtomicUsize>,
    completer: Completer,
}

impl Harness {
    fn body(&self, id: u64, op: &Op) -> impl FnOnce() + Send + 'static {
        let (reads, writes) = normalised(op);
        let logs = Arc::clone(&self.logs);
        let overlaps = Arc::clone(&self.overlaps);
        let spin = op.spin;
        move || {
            let read_guards: Vec<_> = reads.iter().map(|&r| logs[r].try_read()).collect();
            let mut write_guards: Vec<_> = writes.iter().map(|&w| logs[w].try_write()).collect();
            let missing = read_guards.iter().filter(|g| g.is_none()).count()
                + write_guards.iter().filter(|g| g.is_none()).count();
            if missing > 0 {
                overlaps.fetch_add(missing, Ordering::Relaxed);
                return;
            }
            let last = |g: Option<u64>, v: usize| g.unwrap_or(v as u64);
            let mut seen = Vec::new();
            for (g, &v) in read_guards.iter().zip(&reads) {
                seen.push(last(g.as_ref().and_then(|g| g.last().copied()), v));
            }
            for (g, &v) in write_guards.iter().zip(&writes) {
                seen.push(last(g.as_ref().and_then(|g| g.last().copied()), v));
            }
            for _ in 0..spin {
                std::hint::spin_loop();
            }
            let value = step(id, &seen);
            for g in write_guards.iter_mut().flatten() {
                g.push(value);
            }
        }
    }
}

fn run_on_engine(engine: &Engine, program: &[Op], harness: &Harness, vars: &[Var]) {
    for (id, op) in program.iter().enumerate() {
        let body = harness.body(id as u64, op);
        let reads: Vec<&Var> = op.reads.iter().map(|&i| &vars[i]).collect();
        let writes: Vec<&Var> = op.writes.iter().map(|&i| &vars[i]).collect();
        let (name, fails) = (format!("op-{id}"), op.fails);
        let operation = if let (Some(n), true) = (op.gpu, op.asynchronous && id % 2 == 0) {
            // Completed by the device when its stream has run everything queued so far.
            Operation::asynchronous(name, move |_rc, done| {
                if fails {
                    return done.fail("injected failure");
                }
                body();
                let device = GpuDevice::get(n).expect("emulated devices exist");
                device.when_done(move |r| done.finish(r.map_err(Into::into)));
            })
        } else if op.asynchronous {
            let completer = harness.completer.clone();
            Operation::asynchronous(name, move |_rc, done| {
                let result = if fails {
                    Err("injected failure".into())
                } else {
                    body();
                    Ok(())
                };
                completer
                    .send((done, result))
                    .expect("the completer outlives the program");
            })
        } else {
            Operation::sync(name, move |_rc| {
                if fails {
                    return Err("injected failure".into());
                }
                body();
                Ok(())
            })
        };
        engine
            .push(
                operation
                    .reads(&reads)
                    .writes(&writes)
                    .priority(op.priority)
                    .inline_if_ready(op.inline)
                    .context(op.gpu.map_or(Context::cpu(0), Context::gpu)),
            )
            .unwrap();
    }
}

/// Waits on every var in order; per var, the failing operation its wait reported.
fn observed_errors(engine: &Engine, vars: &[Var]) -> Vec<Option<usize>> {
    let id = |op: &str| {
        op.trim_start_matches("op-")
            .parse()
            .expect("operations are op-<id>")
    };
    vars.iter()
        .map(|v| match engine.wait_for_var(v) {
            Ok(()) => None,
            Err(Error::OpFailed { op, .. }) => Some(id(&op)),
            Err(other) => panic!("unexpected error {other}"),
        })
        .collect()
}

fn check_config(label: &'static str, config: EngineConfig, programs: usize, len: usize) {
    with_timeout(240, move || {
        // Two emulated GPUs: operations on them run on the per-device workers.
        gpu::emulate(2).expect("no test of this binary opens a real GPU");
        let engine = Engine::new(config).unwrap();
        let (tx, rx) = mpsc::channel::<(Completion, Result<(), BoxError>)>();
        // Completes asynchronous operations from another thread, as a GPU stream or I/O would.
        let completer = std::thread::spawn(move || {
            for (done, result) in rx {
                done.finish(result);
            }
        });
        let mut rng = Rng(0x5EED ^ label.bytes().map(u64::from).sum::<u64>());
        let (mut total_ops, mut failures) = (0, 0);
        for p in 0..programs {
            let program = random_program(&mut rng, len);
            let harness = Harness {
                logs: Arc::new((0..VARS).map(|_| RwLock::new(Vec::new())).collect()),
                overlaps: Arc::new(AtomicUsize::new(0)),
                completer: tx.clone(),
            };
            let vars: Vec<Var> = (0..VARS).map(|_| Var::new()).collect();
            run_on_engine(&engine, &program, &harness, &vars);
            // Let every operation finish before observing errors: observing one clears it for
            // every var sharing it, after which dependants still queued would run (as in MXNet),
            // which the sequential model does not describe. `pending` never under-counts.
            while engine.pending() > 0 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            let (expected, poison, raised) = sequential(&program);
            let errors = observed_errors(&engine, &vars);
            assert_eq!(
                errors,
                expected_errors(&poison),
                "{label}: program {p}: errors"
            );
            // Errors no var carries any more (overwritten by another error passed on) are still
            // reported by wait_all, as MXNet's WaitForAll does: one of them, then none.
            let unobserved: Vec<usize> = raised
                .iter()
                .copied()
                .filter(|id| !errors.contains(&Some(*id)))
                .collect();
            match engine.wait_all() {
                Ok(()) => assert!(
                    unobserved.is_empty(),
                    "{label}: program {p}: {unobserved:?} lost"
                ),
                Err(Error::OpFailed { op, .. }) => {
                    let id: usize = op.trim_start_matches("op-").parse().unwrap();
                    assert!(
                        unobserved.contains(&id),
                        "{label}: program {p}: {id} not in {unobserved:?}"
                    );
                }
                Err(other) => panic!("{label}: unexpected {other}"),
            }
            engine.wait_all().unwrap();
            assert_eq!(
                harness.overlaps.load(Ordering::Relaxed),
                0,
                "{label}: program {p} overlapped"
            );
            for (v, want) in expected.iter().enumerate() {
                let got = harness.logs[v].read();
                assert_eq!(&*got, want, "{label}: program {p}, var {v}: {program:?}");
            }
            // Every write completes (skipped ones too), so versions count all writes.
            for (v, var) in vars.iter().enumerate() {
                let writes = program
                    .iter()
                    .filter(|op| normalised(op).1.contains(&v))
                    .count();
                assert_eq!(var.version(), writes as u64, "{label}: version of var {v}");
            }
            total_ops += program.len();
            failures += program.iter().filter(|op| op.fails).count();
        }
        drop(tx);
        completer.join().unwrap();
        assert_eq!(engine.pending(), 0);
        assert_eq!(total_ops, programs * len);
        assert!(failures > 0, "{label}: no failure was injected");
    });
}

#[test]
fn random_programs_match_sequential_execution_on_every_engine() {
    let handles: Vec<_> = configs()
        .into_iter()
        .map(|(label, config)| std::thread::spawn(move || check_config(label, config, 600, 60)))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn long_random_programs() {
    // Fewer, longer programs: deep queues on every var.
    for (label, config) in configs() {
        check_config(label, config, 4, 5000);
    }
}
