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
//! Implemented: W1, W1b, W2, W3. mxr is called natively, so its W1/W1b/W2 figures are also
//! printed under MXNet's C-API workload names (`W1-capi`, ...), the fair anchor for a native
//! API. Inputs come from mxr's seeded generator rather than numpy's (the cost does not depend
//! on the values); results are checked against a reference.

use std::time::Instant;

use mxr::nd::{self, NDArray};
use mxr_kernels::cpu::gemm::gemm;
use mxr_kernels::cpu::random::Rng;
use serde_json::{Value, json};

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

struct Out {
    common: serde_json::Map<String, Value>,
}

impl Out {
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
    for workload in ["W1", "W1-capi"] {
        let p = json!({"n_ops": n, "shape": [16], "reps": reps, "frontend": "rust"});
        out.emit(
            workload,
            "ops_per_sec",
            round(median(&rates)).into(),
            "ops/s",
            merge(p.clone(), json!({"samples": rounds(&rates)})),
        );
        out.emit(
            workload,
            "us_per_op",
            round(median(&us)).into(),
            "us",
            merge(
                p,
                json!({"samples": rounds(&us), "push_us_per_op": round(median(&push_us))}),
            ),
        );
    }
    Ok(())
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
    for workload in ["W1b", "W1b-capi"] {
        let p = json!({"n_ops": rounds_n * k, "arrays": k, "rounds": rounds_n, "shape": [16],
            "reps": reps, "frontend": "rust"});
        out.emit(
            workload,
            "ops_per_sec",
            round(median(&rates)).into(),
            "ops/s",
            merge(p.clone(), json!({"samples": rounds(&rates)})),
        );
        out.emit(
            workload,
            "us_per_op",
            round(median(&us)).into(),
            "us",
            merge(
                p,
                json!({"samples": rounds(&us), "push_us_per_op": round(median(&push_us))}),
            ),
        );
    }
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
    let p = json!({"iters": iters, "ops_per_iter": 4, "shape": [1000], "reps": reps, "frontend": "rust"});
    out.emit(
        "W2",
        "ops_per_sec",
        round(median(&rates)).into(),
        "ops/s",
        merge(p.clone(), json!({"samples": rounds(&rates)})),
    );
    out.emit(
        "W2",
        "us_per_iter",
        round(median(&us)).into(),
        "us",
        merge(p.clone(), json!({"samples": rounds(&us)})),
    );
    let per_op: Vec<f64> = us.iter().map(|u| u / 4.0).collect();
    out.emit(
        "W2-capi",
        "us_per_op",
        round(median(&per_op)).into(),
        "us",
        merge(p.clone(), json!({"samples": rounds(&per_op)})),
    );
    out.emit(
        "W2-capi",
        "ops_per_sec",
        round(median(&rates)).into(),
        "ops/s",
        merge(p, json!({"samples": rounds(&rates)})),
    );
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
        let mut times = Vec::with_capacity(reps);
        let (c0, w0) = (cpu_seconds(), Instant::now());
        for _ in 0..reps {
            let t0 = Instant::now();
            nd::invoke_into("dot", &[&a, &b], &[], &[&c])?;
            c.wait_to_read()?;
            times.push(t0.elapsed().as_secs_f64());
        }
        let util = (cpu_seconds() - c0) / w0.elapsed().as_secs_f64();
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
        out.emit(
            "W3",
            "gflops",
            round(median(&g)).into(),
            "GFLOP/s",
            json!({
                "impl": "mxr.nd.dot", "N": n, "reps": reps, "samples": rounds(&g),
                "median_ms": round(median(&times) * 1e3), "cpu_util": round(util),
                "max_rel_err": max_err / max_ref,
            }),
        );
    }
    Ok(())
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

const ALL: [&str; 4] = ["W1", "W1b", "W2", "W3"];

fn main() -> mxr::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut which: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let list = args.get(i + 1).cloned().unwrap_or_default();
        which = list
            .split(',')
            .map(|s| s.trim().to_string())
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
    let out = Out { common };
    out.emit(
        "meta",
        "environment",
        json!({"impl": "mxr", "version": env!("CARGO_PKG_VERSION"),
        "gemm": "gemm 0.19 (single thread)"}),
        "info",
        json!({}),
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
    Ok(())
}
