//! The workloads of benches/mxnet/WORKLOADS.md, doing the same work as MXNet's
//! `mxnet_baseline.py` and printing the same JSON lines, so that `benches/mxnet/compare.py` can
//! join the two.
//!
//! ```text
//! cargo bench --bench workloads -- [--only W1,W3] [--quick]
//! python3 benches/mxnet/compare.py --rounds 3 --only W1,W2,W3 \
//!     --mxr 'cargo bench -q --bench workloads --' \
//!     --mxnet '.venv/bin/python benches/mxnet/mxnet_baseline.py'
//! ```
//!
//! Implemented: W1, W1b, W2, W3, W4 (the low-level executor loop, Module::fit and Gluon), W5 (the
//! low-level loop), W6 (W6 through `mxr::exec` directly: each case in a fresh
//! child process, RSS growth from before bind to after one forward (and backward) pass), W7 (the
//! local KVStore: one big key, and 100 small keys pushed and pulled as key lists).
//!
//! mxr is called natively, so its W1, W1b and W2 figures are printed only under MXNet's C-API
//! workload names (`W1-capi`, `W1b-capi`, `W2-capi`: MXNet driven from C, the fair anchor for
//! a native API), never as `W1`/`W1b`/`W2`, which are MXNet's figures through its Python
//! frontend (about 10 µs of ctypes and Python per operator); `--only W1-capi` is `--only W1`.
//! Inputs come from mxr's seeded generator rather than numpy's (the cost does not depend on the
//! values); results are checked against a reference.
//!
//! The `meta` line names the GEMM backends and the threads they use: `kernel_threads` (what
//! one kernel splits its work over: `MXR_NUM_THREADS`, else the number of CPUs), the
//! `MXR_NUM_THREADS` setting, the instruction set, and the engine's `cpu_workers`; W3's lines
//! repeat `kernel_threads`.
//!
//! A full run (not `--quick`, whose sizes are too small to be held to MXNet's figures) fails —
//! exit status 1, the reasons on stderr, a `metric: "check"` line per check — when a W3
//! product's relative error against float64 exceeds [`W3_MAX_REL_ERR`] or W4's test accuracy
//! (either API) is more than [`W4_ACCURACY_TOLERANCE`] off MXNet's [`MXNET_W4_ACCURACY`].

use std::cell::RefCell;
use std::process::ExitCode;
use std::time::Instant;

use mxr::nd::{self, NDArray};
use mxr_kernels::cpu::gemm::gemm;
use mxr_kernels::cpu::parallel;
use mxr_kernels::cpu::random::Rng;
use serde_json::{Value, json};

// The crate root is this file, so its modules are named by path.
#[path = "workloads/gluon.rs"]
mod gluon;
#[path = "workloads/training.rs"]
mod training;
#[path = "workloads/zoo.rs"]
mod zoo;

use training::{w4, w5};
use zoo::{w8, w9};

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 4 - x.abs().log10().ceil() as i32;
    let scale = 10f64.powi(digits.max(0));
    (x * scale).round() / scale
}

fn rounds(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|&x| round(x)).collect()
}

/// The largest relative error (max |C - C64| / max |C64|) W3's products may have against the
/// float64 reference (MXNet's OpenBLAS: about 4e-7).
const W3_MAX_REL_ERR: f64 = 1e-4;

/// MXNet 1.9.1's W4 test accuracy after 5 epochs, both APIs, every baseline run
/// (benches/mxnet/WORKLOADS.md and BASELINE.md).
const MXNET_W4_ACCURACY: f64 = 0.8466;

/// How far from [`MXNET_W4_ACCURACY`] a faithful implementation (same initial weights, batch
/// order and updates) may land (WORKLOADS.md: "within about ±0.005").
const W4_ACCURACY_TOLERANCE: f64 = 0.005;

struct Out {
    common: serde_json::Map<String, Value>,
    /// A `--quick` run: no checks against MXNet's figures.
    quick: bool,
    /// The checks that failed, as messages.
    failures: RefCell<Vec<String>>,
}

impl Out {
    /// A correctness check of a full run (nothing in a `--quick` run): a `metric: "check"`
    /// line, and, when it fails, a failure that makes the run exit with status 1.
    fn check(&self, workload: &str, passed: bool, what: String, params: Value) {
        if self.quick {
            return;
        }
        let line = merge(params, json!({ "what": what }));
        self.emit(workload, "check", passed.into(), "bool", line);
        if !passed {
            self.failures
                .borrow_mut()
                .push(format!("{workload}: {what}"));
        }
    }

    /// A line whose value is the median of `samples` (rounded), the samples (rounded) added to
    /// `params`.
    fn emit_samples(
        &self,
        workload: &str,
        metric: &str,
        samples: &[f64],
        unit: &str,
        params: Value,
    ) {
        let params = merge(params, json!({"samples": rounds(samples)}));
        self.emit(
            workload,
            metric,
            round(median(samples)).into(),
            unit,
            params,
        );
    }

    fn emit(&self, workload: &str, metric: &str, value: Value, unit: &str, params: Value) {
        let mut line = serde_json::Map::new();
        line.insert("workload".into(), workload.into());
        line.insert("metric".into(), metric.into());
        line.insert("value".into(), value);
        line.insert("unit".into(), unit.into());
        if let Value::Object(p) = params {
            line.extend(p);
        }
        line.extend(self.common.clone());
        println!("{}", Value::Object(line));
    }
}

/// Process CPU seconds (user + system) from /proc/self/stat; 0 where unavailable.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `run` `reps` times (passing the run's number): the seconds of each run, and the CPU
/// utilisation over them all (process CPU seconds per wall-clock second).
fn timed_runs(
    reps: usize,
    mut run: impl FnMut(usize) -> mxr::Result<()>,
) -> mxr::Result<(Vec<f64>, f64)> {
    let mut times = Vec::with_capacity(reps);
    let (c0, w0) = (cpu_seconds(), Instant::now());
    for r in 0..reps {
        let t0 = Instant::now();
        run(r)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    let util = (cpu_seconds() - c0) / w0.elapsed().as_secs_f64();
    Ok((times, util))
}

fn w1(out: &Out, quick: bool, reps: usize) -> mxr::Result<()> {
    let n = if quick { 10_000 } else { 100_000 };
    let mut a = NDArray::zeros(&[16])?;
    for _ in 0..2000 {
        a += 1.0;
    }
    a.wait_to_read()?;
    let (mut rates, mut us, mut push_us) = (vec![], vec![], vec![]);
    for _ in 0..reps {
        let t0 = Instant::now();
        for _ in 0..n {
            a += 1.0;
        }
        let t1 = t0.elapsed().as_secs_f64();
        a.wait_to_read()?;
        let t2 = t0.elapsed().as_secs_f64();
        rates.push(n as f64 / t2);
        us.push(t2 / n as f64 * 1e6);
        push_us.push(t1 / n as f64 * 1e6);
    }
    let got = a.to_vec::<f32>()?[0];
    let expect = (2000 + reps * n) as f32;
    assert_eq!(got, expect, "W1 result");
    let p = json!({"n_ops": n, "shape": [16], "reps": reps, "frontend": "rust"});
    emit_dispatch(out, "W1-capi", &p, &rates, &us, &push_us);
    Ok(())
}

/// The two lines of W1 or W1b, under MXNet's C-API workload name only (see the module docs).
fn emit_dispatch(out: &Out, workload: &str, p: &Value, rates: &[f64], us: &[f64], push: &[f64]) {
    out.emit_samples(workload, "ops_per_sec", rates, "ops/s", p.clone());
    out.emit(
        workload,
        "us_per_op",
        round(median(us)).into(),
        "us",
        merge(
            p.clone(),
            json!({"samples": rounds(us), "push_us_per_op": round(median(push))}),
        ),
    );
}

fn w1b(out: &Out, quick: bool, reps: usize) -> mxr::Result<()> {
    let n = if quick { 10_000 } else { 100_000 };
    let k = 8;
    let mut arrays: Vec<NDArray> = (0..k)
        .map(|_| NDArray::zeros(&[16]))
        .collect::<Result<_, _>>()?;
    for _ in 0..250 {
        for a in &mut arrays {
            *a += 1.0;
        }
    }
    for a in &arrays {
        a.wait_to_read()?;
    }
    let rounds_n = n / k;
    let (mut rates, mut us, mut push_us) = (vec![], vec![], vec![]);
    for _ in 0..reps {
        let t0 = Instant::now();
        for _ in 0..rounds_n {
            for a in &mut arrays {
                *a += 1.0;
            }
        }
        let t1 = t0.elapsed().as_secs_f64();
        for a in &arrays {
            a.wait_to_read()?;
        }
        let t2 = t0.elapsed().as_secs_f64();
        let ops = (rounds_n * k) as f64;
        rates.push(ops / t2);
        us.push(t2 / ops * 1e6);
        push_us.push(t1 / ops * 1e6);
    }
    for a in &arrays {
        assert_eq!(
            a.to_vec::<f32>()?[0],
            (250 + reps * rounds_n) as f32,
            "W1b result"
        );
    }
    let p = json!({"n_ops": rounds_n * k, "arrays": k, "rounds": rounds_n, "shape": [16],
        "reps": reps, "frontend": "rust"});
    emit_dispatch(out, "W1b-capi", &p, &rates, &us, &push_us);
    Ok(())
}

fn w2(out: &Out, quick: bool, reps: usize) -> mxr::Result<()> {
    let iters = if quick { 2000 } else { 20_000 };
    let mut rng = Rng::seed(0);
    let mut an = vec![0f32; 1000];
    let mut bn = vec![0f32; 1000];
    rng.fill_uniform_f32(&mut an, 0.0, 1.0);
    rng.fill_uniform_f32(&mut bn, 0.0, 1.0);
    let a = NDArray::from_vec(&[1000], an.clone())?;
    let b = NDArray::from_vec(&[1000], bn.clone())?;
    let mut c = NDArray::zeros(&[1000])?;
    for _ in 0..200 {
        c = (&a * 5.0 + &b) / 2.0 + 1.0;
    }
    c.wait_to_read()?;
    let (mut rates, mut us) = (vec![], vec![]);
    for _ in 0..reps {
        let t0 = Instant::now();
        for _ in 0..iters {
            c = (&a * 5.0 + &b) / 2.0 + 1.0;
        }
        c.wait_to_read()?;
        let t = t0.elapsed().as_secs_f64();
        rates.push(4.0 * iters as f64 / t);
        us.push(t / iters as f64 * 1e6);
    }
    let got = c.to_vec::<f32>()?;
    let err = got
        .iter()
        .zip(an.iter().zip(&bn))
        .map(|(g, (a, b))| (g - ((a * 5.0 + b) / 2.0 + 1.0)).abs())
        .fold(0f32, f32::max);
    assert!(err < 1e-5, "W2 error {err}");
    // Under MXNet's C-API name only (see the module docs).
    let p = json!({"iters": iters, "ops_per_iter": 4, "shape": [1000], "reps": reps, "frontend": "rust"});
    out.emit_samples("W2-capi", "us_per_iter", &us, "us", p.clone());
    let per_op: Vec<f64> = us.iter().map(|u| u / 4.0).collect();
    out.emit_samples("W2-capi", "us_per_op", &per_op, "us", p.clone());
    out.emit_samples("W2-capi", "ops_per_sec", &rates, "ops/s", p);
    Ok(())
}

fn w3(out: &Out, quick: bool) -> mxr::Result<()> {
    let sizes: &[(usize, usize)] = if quick {
        &[(256, 30), (1024, 3)]
    } else {
        &[(256, 100), (1024, 10), (2048, 5)]
    };
    let mut rng = Rng::seed(0);
    for &(n, reps) in sizes {
        let mut an = vec![0f32; n * n];
        let mut bn = vec![0f32; n * n];
        rng.fill_uniform_f32(&mut an, -1.0, 1.0);
        rng.fill_uniform_f32(&mut bn, -1.0, 1.0);
        let a = NDArray::from_vec(&[n, n], an.clone())?;
        let b = NDArray::from_vec(&[n, n], bn.clone())?;
        let c = NDArray::zeros(&[n, n])?;
        for _ in 0..2 {
            nd::invoke_into("dot", &[&a, &b], &[], &[&c])?;
            c.wait_to_read()?;
        }
        let (times, util) = timed_runs(reps, |_| {
            nd::invoke_into("dot", &[&a, &b], &[], &[&c])?;
            c.wait_to_read()
        })?;
        // Reference in float64.
        let a64: Vec<f64> = an.iter().map(|&x| f64::from(x)).collect();
        let b64: Vec<f64> = bn.iter().map(|&x| f64::from(x)).collect();
        let mut r = vec![0f64; n * n];
        gemm(
            false, false, n, n, n, 1.0, &a64, n, &b64, n, 0.0, &mut r, n, 1,
        )
        .expect("valid reference GEMM");
        let got = c.to_vec::<f32>()?;
        let max_ref = r.iter().fold(0f64, |m, x| m.max(x.abs()));
        let max_err = got
            .iter()
            .zip(&r)
            .fold(0f64, |m, (g, r)| m.max((f64::from(*g) - r).abs()));
        let flop = 2.0 * (n as f64).powi(3);
        let g: Vec<f64> = times.iter().map(|t| flop / t / 1e9).collect();
        let rel_err = max_err / max_ref;
        out.emit(
            "W3",
            "gflops",
            round(median(&g)).into(),
            "GFLOP/s",
            json!({
                "impl": "mxr.nd.dot", "N": n, "reps": reps, "samples": rounds(&g),
                "median_ms": round(median(&times) * 1e3), "cpu_util": round(util),
                "max_rel_err": rel_err, "kernel_threads": parallel::num_threads(),
            }),
        );
        // `!(a > b)` rather than `a <= b`: a NaN error fails.
        let passed = !(rel_err > W3_MAX_REL_ERR || rel_err.is_nan());
        let what = format!("N={n}: max_rel_err {rel_err:.3e} (limit {W3_MAX_REL_ERR:e})");
        out.check("W3", passed, what, json!({ "N": n }));
    }
    Ok(())
}

/// A field of /proc/self/status in MiB (`VmRSS`, `VmHWM`); 0 where unavailable.
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// 50 × [FullyConnected(1024) → relu] → SoftmaxOutput, as W6 builds it.
fn w6_graph(depth: usize, width: usize) -> mxr::Result<mxr::exec::Graph> {
    use mxr::operators::registry::create;
    let mut g = mxr::exec::Graph::default();
    let mut x = g.variable("data");
    for i in 0..depth {
        let w = g.variable(&format!("fc{i}_weight"));
        let b = g.variable(&format!("fc{i}_bias"));
        let fc = create(
            "FullyConnected",
            &[("num_hidden", &width.to_string())],
            None,
        )?;
        x = g.add(fc, &format!("fc{i}"), &[x, w, b])?[0];
        x = g.add(
            create("Activation", &[("act_type", "relu")], None)?,
            &format!("relu{i}"),
            &[x],
        )?[0];
    }
    let label = g.variable("softmax_label");
    let out = g.add(create("SoftmaxOutput", &[], None)?, "softmax", &[x, label])?[0];
    g.outputs.push(out);
    Ok(g)
}

/// One W6 case in this (fresh) process; prints `W6RESULT {json}`.
fn w6_child(mode: &str, batch: usize) -> mxr::Result<()> {
    use mxr::engine::Context;
    use mxr::exec::{Executor, GradReq};
    let (depth, width) = (50usize, 1024usize);
    // Warm-up: engine threads and pools, with a tiny net.
    {
        let g = w6_graph(1, 4)?;
        let mut e = Executor::simple_bind(
            &g,
            Context::cpu(0),
            &[("data", &[2, 4]), ("softmax_label", &[2])],
            GradReq::Write,
            &["data", "softmax_label"],
        )?;
        e.forward(true)?;
        e.backward(&[])?;
        nd::waitall()?;
    }
    let g = w6_graph(depth, width)?;
    let r0 = status_mib("VmRSS");
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let t0 = Instant::now();
    let train = mode == "train";
    let req = if train { GradReq::Write } else { GradReq::Null };
    let mut exe = Executor::simple_bind(
        &g,
        Context::cpu(0),
        &[("data", &[batch, width]), ("softmax_label", &[batch])],
        req,
        &["data", "softmax_label"],
    )?;
    nd::waitall()?;
    let t_bind = t0.elapsed().as_secs_f64();
    let r1 = status_mib("VmRSS");
    let mut rng = Rng::seed(0);
    let mut x = vec![0f32; batch * width];
    rng.fill_uniform_f32(&mut x, 0.0, 1.0);
    exe.arg_dict()["data"].assign_slice(&x)?;
    let t0 = Instant::now();
    exe.forward(train)?;
    if train {
        exe.backward(&[])?;
    }
    nd::waitall()?;
    let t_run = t0.elapsed().as_secs_f64();
    let r2 = status_mib("VmRSS");
    let h2 = status_mib("VmHWM");
    let mib = 1024.0 * 1024.0;
    let params = (depth * (width * width + width) * 4) as f64;
    let inputs = (batch * width * 4 + batch * 4) as f64;
    let act: f64 = (2 * depth * batch * width * 4 + batch * width * 4) as f64; // fc + relu + softmax
    let act_grad = act - (batch * width * 4) as f64;
    let (naive, fixed) = if train {
        (
            inputs + 2.0 * params + act + act_grad,
            inputs + 2.0 * params,
        )
    } else {
        (inputs + params + act, inputs + params)
    };
    let m = exe.memory();
    println!(
        "W6RESULT {}",
        json!({
            "growth_MiB": r2 - r0, "bind_growth_MiB": r1 - r0,
            "peak_growth_MiB": if hwm_reset { Some(h2 - r0) } else { None },
            "planned_MiB": m.planned_bytes as f64 / mib, "planner_naive_MiB": m.naive_bytes as f64 / mib,
            "naive_MiB": naive / mib, "naive_activation_MiB": (naive - fixed) / mib,
            "params_MiB": params / mib, "fixed_MiB": fixed / mib, "bind_s": t_bind, "fwd_bwd_s": t_run,
        })
    );
    Ok(())
}

fn w6(out: &Out, quick: bool) -> mxr::Result<()> {
    let exe = std::env::current_exe().map_err(|e| mxr::Error::Io {
        path: "current executable".into(),
        source: std::sync::Arc::new(e),
    })?;
    let batches: &[usize] = if quick { &[64] } else { &[64, 1024] };
    for &batch in batches {
        for mode in ["train", "infer"] {
            let run = std::process::Command::new(&exe)
                .args(["--w6-child", mode, &batch.to_string()])
                .output()
                .map_err(|e| mxr::Error::Io {
                    path: exe.display().to_string(),
                    source: std::sync::Arc::new(e),
                })?;
            let stdout = String::from_utf8_lossy(&run.stdout);
            let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("W6RESULT ")) else {
                out.emit(
                    "W6",
                    "error",
                    String::from_utf8_lossy(&run.stderr).into_owned().into(),
                    "info",
                    json!({"mode": mode, "batch": batch, "case": "default"}),
                );
                continue;
            };
            let r: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
            out.emit("W6", "rss_growth_MiB", round(f("growth_MiB")).into(), "MiB", json!({
                "mode": mode, "batch": batch, "case": "default", "depth": 50, "width": 1024,
                "bind_growth_MiB": round(f("bind_growth_MiB")),
                "peak_growth_MiB": r["peak_growth_MiB"].as_f64().map(round),
                "planned_MiB": round(f("planned_MiB")), "planner_naive_MiB": round(f("planner_naive_MiB")),
                "naive_MiB": round(f("naive_MiB")), "ratio_naive_over_measured": round(f("naive_MiB") / f("growth_MiB")),
                "params_MiB": round(f("params_MiB")), "fixed_MiB": round(f("fixed_MiB")),
                "naive_activation_MiB": round(f("naive_activation_MiB")),
                "measured_minus_fixed_MiB": round(f("growth_MiB") - f("fixed_MiB")),
                "activation_ratio_vs_planner": round(f("naive_activation_MiB") / f("planned_MiB")),
                "bind_s": round(f("bind_s")), "fwd_bwd_s": round(f("fwd_bwd_s")),
            }));
        }
    }
    Ok(())
}

/// W7 (a) or (b): `nkeys` keys of `size` floats, 4 values on cpu(0..4) pushed and 4 outputs
/// pulled per key, `iters` times per rep, as key lists when there are several keys.
fn w7_case(out: &Out, nkeys: usize, size: usize, iters: usize, reps: usize) -> mxr::Result<()> {
    use mxr::engine::Context;
    use mxr::kv::KVStore;
    let ndev = 4u32;
    let kv = KVStore::create("local")?;
    let keys: Vec<usize> = (0..nkeys).collect();
    let inits: Vec<NDArray> = keys
        .iter()
        .map(|_| NDArray::zeros(&[size]))
        .collect::<mxr::Result<_>>()?;
    kv.init_list(&keys, &inits.iter().collect::<Vec<_>>())?;
    let make = |value: f64| -> mxr::Result<Vec<Vec<NDArray>>> {
        keys.iter()
            .map(|_| {
                (0..ndev)
                    .map(|i| NDArray::full_on(&[size], value, Context::cpu(i)))
                    .collect()
            })
            .collect()
    };
    let (vals, outs) = (make(1.0)?, make(0.0)?);
    let val_refs: Vec<Vec<&NDArray>> = vals.iter().map(|v| v.iter().collect()).collect();
    let out_refs: Vec<Vec<&NDArray>> = outs.iter().map(|v| v.iter().collect()).collect();
    for _ in 0..5 {
        kv.push_list(&keys, &val_refs)?;
        kv.pull_list(&keys, &out_refs)?;
    }
    nd::waitall()?;
    let mut ts = vec![];
    for _ in 0..reps {
        let t0 = Instant::now();
        for _ in 0..iters {
            kv.push_list(&keys, &val_refs)?;
            kv.pull_list(&keys, &out_refs)?;
        }
        nd::waitall()?;
        ts.push(t0.elapsed().as_secs_f64());
    }
    for o in outs.iter().flatten() {
        let v = o.to_vec::<f32>()?;
        assert!(v.iter().all(|&x| x == ndev as f32), "W7 result");
    }
    let pushed = (iters * nkeys * ndev as usize * size * 4) as f64;
    let gbps: Vec<f64> = ts.iter().map(|t| pushed / t / 1e9).collect();
    let pps: Vec<f64> = ts.iter().map(|t| iters as f64 / t).collect();
    let p = json!({"keys": nkeys, "floats_per_key": size, "devices": ndev, "iters": iters,
        "reps": reps, "kvstore": "local"});
    out.emit_samples("W7", "push_GBps", &gbps, "GB/s", p.clone());
    out.emit_samples("W7", "pairs_per_sec", &pps, "push+pull/s", p);
    Ok(())
}

/// W7: KVStore 'local', one key of 1e6 floats and 100 keys of 1e4 floats (WORKLOADS.md).
fn w7(out: &Out, quick: bool) -> mxr::Result<()> {
    let (iters, reps) = if quick { (20, 1) } else { (200, 5) };
    w7_case(out, 1, 1_000_000, iters, reps)?;
    w7_case(out, 100, 10_000, iters, reps)
}

fn merge(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            a.extend(b);
            Value::Object(a)
        }
        (a, _) => a,
    }
}

const ALL: [&str; 10] = ["W1", "W1b", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"];

fn main() -> ExitCode {
    let failures = match run() {
        Ok(failures) => failures,
        Err(e) => vec![format!("error: {e}")],
    };
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("workloads: {} check(s) failed:", failures.len());
    for f in &failures {
        eprintln!("  {f}");
    }
    ExitCode::FAILURE
}

/// Runs the selected workloads; returns the failed checks.
fn run() -> mxr::Result<Vec<String>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--w6-child") {
        let mode = args.get(i + 1).map_or("train", String::as_str);
        let batch = args.get(i + 2).and_then(|b| b.parse().ok()).unwrap_or(64);
        return w6_child(mode, batch).map(|()| Vec::new());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let mut which: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let list = args.get(i + 1).cloned().unwrap_or_default();
        which = list
            .split(',')
            // MXNet's C-API names select the workloads that print them.
            .map(|s| s.trim().trim_end_matches("-capi").to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if which.iter().any(|w| w == "W1") && !which.iter().any(|w| w == "W1b") {
            which.push("W1b".into());
        }
    }
    let engine = std::env::var("MXR_ENGINE").unwrap_or_else(|_| "threaded".into());
    let workers = mxr::engine::Engine::global()?.config().cpu_workers;
    let mut common = serde_json::Map::new();
    common.insert("run".into(), format!("mxr-{}", std::process::id()).into());
    common.insert("engine".into(), engine.into());
    common.insert("cpu_workers".into(), workers.into());
    common.insert("quick".into(), quick.into());
    let out = Out {
        common,
        quick,
        failures: RefCell::new(Vec::new()),
    };
    let kernel_threads = parallel::num_threads();
    let isa = mxr_kernels::cpu::isa::Isa::current().name();
    out.emit(
        "meta",
        "environment",
        json!({"impl": "mxr", "version": env!("CARGO_PKG_VERSION"),
        "gemm": format!("mxr's BLIS-style f32 kernels ({isa}), few-row kernel, gemm 0.19 crate \
                         (f64, small products); a product split over {kernel_threads} kernel \
                         thread(s)")}),
        "info",
        json!({"kernel_threads": kernel_threads,
               "mxr_num_threads": std::env::var("MXR_NUM_THREADS").ok(), "cpu_isa": isa}),
    );
    let reps = if quick { 1 } else { 5 };
    let t_all = Instant::now();
    for w in ALL {
        if !which.iter().any(|x| x == w) {
            continue;
        }
        let t0 = Instant::now();
        match w {
            "W1" => w1(&out, quick, reps)?,
            "W1b" => w1b(&out, quick, reps)?,
            "W2" => w2(&out, quick, reps)?,
            "W3" => w3(&out, quick)?,
            "W4" => w4(&out, quick)?,
            "W5" => w5(&out, quick)?,
            "W6" => w6(&out, quick)?,
            "W7" => w7(&out, quick)?,
            "W8" => w8(&out, quick)?,
            "W9" => w9(&out, quick)?,
            _ => {}
        }
        nd::waitall()?;
        out.emit(
            w,
            "wall_time_s",
            round(t0.elapsed().as_secs_f64()).into(),
            "s",
            json!({}),
        );
    }
    for w in &which {
        if !ALL.contains(&w.as_str()) {
            out.emit(
                w,
                "skipped",
                "not implemented in mxr yet".into(),
                "info",
                json!({}),
            );
        }
    }
    out.emit(
        "all",
        "wall_time_s",
        round(t_all.elapsed().as_secs_f64()).into(),
        "s",
        json!({}),
    );
    Ok(out.failures.into_inner())
}
