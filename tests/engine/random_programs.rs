//! Randomised programs against sequential execution (MXNet's `RandSumExpr` idea): thousands of
//! random operation sequences over a few dozen vars; every operation reads and writes random
//! subsets and appends to the written vars' logs a value mixed from everything it read. Any
//! ordering violation changes some log. Each var's data sits behind an `RwLock` taken with
//! `try_*`: a failure to lock means two operations overlapped where the engine must keep them
//! apart (a write alongside any other access).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use mxr::engine::{Completion, Engine, EngineConfig, Operation, Var};
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
            }
        })
        .collect()
}

/// The engine's normalisation: written vars once each; read vars once each, minus written ones.
fn normalised(op: &Op) -> (Vec<usize>, Vec<usize>) {
    let mut writes = op.writes.clone();
    writes.sort_unstable();
    writes.dedup();
    let mut reads: Vec<usize> = op
        .reads
        .iter()
        .copied()
        .filter(|r| !writes.contains(r))
        .collect();
    reads.sort_unstable();
    reads.dedup();
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

fn sequential(program: &[Op]) -> Vec<Vec<u64>> {
    let mut logs = vec![Vec::new(); VARS];
    for (id, op) in program.iter().enumerate() {
        let (reads, writes) = normalised(op);
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
    logs
}

struct Harness {
    logs: Arc<Vec<RwLock<Vec<u64>>>>,
    overlaps: Arc<AtomicUsize>,
    completer: mpsc::Sender<Completion>,
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
            let mut seen = Vec::new();
            for (g, &v) in read_guards.iter().zip(&reads) {
                seen.push(
                    g.as_ref()
                        .and_then(|g| g.last().copied())
                        .unwrap_or(v as u64),
                );
            }
            for (g, &v) in write_guards.iter().zip(&writes) {
                seen.push(
                    g.as_ref()
                        .and_then(|g| g.last().copied())
                        .unwrap_or(v as u64),
                );
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
        let operation = if op.asynchronous {
            let completer = harness.completer.clone();
            Operation::asynchronous("random_async", move |_rc, done| {
                body();
                completer
                    .send(done)
                    .expect("the completer thread outlives the program");
            })
        } else {
            Operation::sync("random_sync", move |_rc| {
                body();
                Ok(())
            })
        };
        engine
            .push(
                operation
                    .reads(&reads)
                    .writes(&writes)
                    .priority(op.priority),
            )
            .unwrap();
    }
    engine.wait_all().unwrap();
}

fn check_config(label: &'static str, config: EngineConfig, programs: usize, len: usize) {
    with_timeout(240, move || {
        let engine = Engine::new(config).unwrap();
        let (tx, rx) = mpsc::channel::<Completion>();
        // Completes asynchronous operations from another thread, as a GPU stream or I/O would.
        let completer = std::thread::spawn(move || {
            for done in rx {
                done.done();
            }
        });
        let mut rng = Rng(0x5EED ^ label.len() as u64);
        let mut total_ops = 0;
        for p in 0..programs {
            let program = random_program(&mut rng, len);
            let harness = Harness {
                logs: Arc::new((0..VARS).map(|_| RwLock::new(Vec::new())).collect()),
                overlaps: Arc::new(AtomicUsize::new(0)),
                completer: tx.clone(),
            };
            let vars: Vec<Var> = (0..VARS).map(|_| Var::new()).collect();
            run_on_engine(&engine, &program, &harness, &vars);
            assert_eq!(
                harness.overlaps.load(Ordering::Relaxed),
                0,
                "{label}: program {p} overlapped"
            );
            let expected = sequential(&program);
            for (v, want) in expected.iter().enumerate() {
                let got = harness.logs[v].read();
                assert_eq!(&*got, want, "{label}: program {p}, var {v}: {program:?}");
                assert_eq!(
                    vars[v].version(),
                    want.len() as u64,
                    "{label}: version of var {v}"
                );
            }
            total_ops += program.len();
        }
        drop(tx);
        completer.join().unwrap();
        assert_eq!(engine.pending(), 0);
        assert!(total_ops >= programs * len);
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
