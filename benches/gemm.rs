//! Square f32 GEMM on one thread (workload W3's `C = A · B`, N = 256, 1024, 2048). Rows:
//!
//! - `mxr_gemm`: `mxr_kernels::cpu::gemm::gemm`, what every caller gets (mxr's AVX-512 kernel
//!   for large products on CPUs that have it, else the `gemm` crate);
//! - `mxr_native`: mxr's own kernel forced at every size (the `gemm` crate where the CPU has
//!   no AVX-512F);
//! - `gemm_crate`: the `gemm` crate (0.19) forced, the previous backend;
//! - `matrixmultiply`: `matrixmultiply::sgemm` (ndarray's backend).
//!
//! Run: `cargo bench -p mxr --bench gemm`. Criterion reports the time per call and a throughput
//! in elements per second where one element is one floating-point operation (2·N³ per call), so
//! `Gelem/s` reads as GFLOP/s. At the end the bench prints a table of the **median** GFLOP/s
//! over every timed call (the first, cold call of each case dropped), which is what W3 compares
//! (MXNet's figures are in `shared/bench/BASELINE.md`). W3 asks for at least 190 GFLOP/s at
//! N = 1024 and 2048. Inputs are uniform in [-1, 1) as in W3; each case checks its result
//! against `matrixmultiply` once before timing. Rows run one after another, so compare on a
//! quiet machine over several runs; `GEMM_BENCH_REVERSE=1` runs the rows in reverse order, to
//! alternate.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use mxr_kernels::cpu::gemm::{Backend, batched_gemm_with};

#[path = "common/uniform.rs"]
mod uniform;
use uniform::uniform;

const SIZES: [usize; 3] = [256, 1024, 2048];

/// The backends compared, by name.
const BACKENDS: [&str; 4] = ["mxr_gemm", "mxr_native", "gemm_crate", "matrixmultiply"];

thread_local! {
    /// Per-call seconds, for each (backend, N), in the order run.
    static CALLS: RefCell<Vec<(&'static str, usize, Vec<f64>)>> = const { RefCell::new(Vec::new()) };
}

/// `c = a · b` for square row-major `n × n` matrices with the named backend.
fn multiply(backend: &str, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(
        a.len() >= n * n && b.len() >= n * n && c.len() >= n * n,
        "n × n inputs"
    );
    match backend {
        "mxr_gemm" | "mxr_native" | "gemm_crate" => {
            let chosen = match backend {
                "mxr_gemm" => Backend::Auto,
                "mxr_native" => Backend::Native,
                _ => Backend::Crate,
            };
            batched_gemm_with(
                chosen, false, false, n, n, n, 1.0, a, n, 0, b, n, 0, 0.0, c, n, 0, 1, 1,
            )
            .expect("valid");
        }
        "matrixmultiply" => {
            let n_i = isize::try_from(n).expect("n fits in isize");
            // SAFETY: the assert above shows each slice holds n × n elements, and row-major
            // strides (n, 1) address exactly those; `c` is a unique borrow, so it aliases
            // neither input.
            unsafe {
                matrixmultiply::sgemm(
                    n,
                    n,
                    n,
                    1.0,
                    a.as_ptr(),
                    n_i,
                    1,
                    b.as_ptr(),
                    n_i,
                    1,
                    0.0,
                    c.as_mut_ptr(),
                    n_i,
                    1,
                );
            }
        }
        _ => unreachable!("BACKENDS lists every name"),
    }
}

fn square_f32(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_f32_1thread");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat);
    for n in SIZES {
        let a = uniform(n * n, 1);
        let b = uniform(n * n, 2);
        let mut theirs = vec![0.0; n * n];
        multiply("matrixmultiply", n, &a, &b, &mut theirs);
        for backend in BACKENDS {
            let mut ours = vec![f32::NAN; n * n];
            multiply(backend, n, &a, &b, &mut ours);
            let worst = ours
                .iter()
                .zip(&theirs)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= 1e-5 * n as f32,
                "N = {n}: {backend} differs from matrixmultiply by {worst}"
            );
        }

        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        let mut order = BACKENDS;
        if std::env::var_os("GEMM_BENCH_REVERSE").is_some() {
            order.reverse();
        }
        for backend in order {
            let mut out = vec![0.0f32; n * n];
            group.bench_function(BenchmarkId::new(backend, n), |bench| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut times = Vec::with_capacity(usize::try_from(iters).unwrap_or(0));
                    for _ in 0..iters {
                        let start = Instant::now();
                        multiply(backend, n, &a, &b, &mut out);
                        let dt = start.elapsed();
                        total += dt;
                        times.push(dt.as_secs_f64());
                    }
                    record(backend, n, times);
                    total
                });
            });
        }
    }
    group.finish();
    summary();
}

/// Adds per-call times to the (backend, n) record.
fn record(backend: &'static str, n: usize, times: Vec<f64>) {
    CALLS.with_borrow_mut(|calls| {
        match calls.iter_mut().find(|(b, m, _)| *b == backend && *m == n) {
            Some((_, _, all)) => all.extend(times),
            None => calls.push((backend, n, times)),
        }
    });
}

/// Prints the median GFLOP/s table.
fn summary() {
    println!("\nmedian GFLOP/s per call, 1 thread (first call of each case dropped):");
    println!(
        "{:>16} {:>6} {:>9} {:>10} {:>7}",
        "backend", "N", "GFLOP/s", "median ms", "calls"
    );
    CALLS.with_borrow(|calls| {
        for (backend, n, times) in calls {
            let mut warm: Vec<f64> = times.iter().skip(1).copied().collect();
            if warm.is_empty() {
                continue;
            }
            warm.sort_by(f64::total_cmp);
            let median = warm[warm.len() / 2];
            let gflops = 2.0 * (*n as f64).powi(3) / median / 1e9;
            let ms = median * 1e3;
            println!(
                "{backend:>16} {n:>6} {gflops:>9.1} {ms:>10.3} {:>7}",
                warm.len()
            );
        }
    });
}

criterion_group!(benches, square_f32);
criterion_main!(benches);
