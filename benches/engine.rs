//! Engine scheduling overhead (issue 2's targets, on this 2-core machine, release build):
//! - `dependent`: 1,000,000 no-op operations, each reading 2 and writing 1 of 1,000 vars chosen
//!   at random, then `wait_all` — target at most 300 ns per operation;
//! - `independent`: 1,000,000 no-op operations, each writing its own var — target at most 150 ns.
//!
//! Run: `cargo bench --bench engine`. Criterion reports the time of 1,000,000 operations (so
//! ms per iteration = ns per operation) and the throughput in operations per second.
//! `MXR_CPU_WORKERS` and `MXR_ENGINE` choose the engine, as everywhere.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mxr::engine::{Engine, EngineConfig, Operation, Var};

const OPS: usize = 1_000_000;
const VARS: usize = 1_000;

struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn engine() -> Engine {
    Engine::new(EngineConfig::from_env().expect("valid MXR_* environment")).expect("engine starts")
}

/// Times `push_all` (pushing `OPS` operations) and the `wait_all` after it as the bench `name`
/// of the group `engine`; `prepare` makes, untimed, what each iteration pushes.
fn bench_pushes<T>(
    c: &mut Criterion,
    name: &str,
    prepare: impl Fn() -> T,
    push_all: impl Fn(&Engine, &T),
) {
    let engine = engine();
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(OPS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let input = prepare();
                let start = Instant::now();
                push_all(&engine, &input);
                engine.wait_all().expect("no-ops do not fail");
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn dependent(c: &mut Criterion) {
    let vars: Vec<Var> = (0..VARS).map(|_| Var::new()).collect();
    let mut rng = SplitMix(42);
    let picks: Vec<[usize; 3]> = (0..OPS)
        .map(|_| [rng.below(VARS), rng.below(VARS), rng.below(VARS)])
        .collect();
    bench_pushes(
        c,
        "dependent_1M_r2w1_of_1000",
        || (),
        |engine, ()| {
            for [r1, r2, w] in &picks {
                engine
                    .push(
                        Operation::sync("noop", |_| Ok(()))
                            .reads(&[&vars[*r1], &vars[*r2]])
                            .writes(&[&vars[*w]]),
                    )
                    .expect("push");
            }
        },
    );
}

fn independent(c: &mut Criterion) {
    bench_pushes(
        c,
        "independent_1M",
        || (0..OPS).map(|_| Var::new()).collect::<Vec<Var>>(),
        |engine, vars| {
            for v in vars {
                engine
                    .push(Operation::sync("noop", |_| Ok(())).writes(&[v]))
                    .expect("push");
            }
        },
    );
}

criterion_group!(benches, dependent, independent);
criterion_main!(benches);
