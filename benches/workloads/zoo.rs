//! The model-zoo workloads on MXNet's Gluon checkpoints (`export_zoo.py`): W8 (inference) and
//! W9 (ResNet-18 training steps).

use super::*;

/// The directory of the model-zoo checkpoints (W8, W9): `MXR_ZOO_DIR`, else the system temp
/// dir's `mxr-zoo/`, as `mxnet_baseline.py` has it.
fn zoo_dir() -> std::path::PathBuf {
    std::env::var_os("MXR_ZOO_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mxr-zoo"))
}

/// The checkpoint prefix of a model-zoo network, exporting it with MXNet (`.venv/bin/python
/// benches/mxnet/export_zoo.py`) when its files are missing; `Err` with the reason when they are
/// missing and cannot be made.
fn zoo_prefix(name: &str) -> Result<String, String> {
    let dir = zoo_dir();
    let prefix = dir.join(name);
    let have = |p: &std::path::Path| {
        p.with_file_name(format!("{name}-symbol.json")).exists()
            && p.with_file_name(format!("{name}-0000.params")).exists()
    };
    if !have(&prefix) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        let script = root.join("benches/mxnet/export_zoo.py");
        let status = std::process::Command::new(&python)
            .arg(&script)
            .arg(&dir)
            .arg(name)
            .stdout(std::process::Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) || !have(&prefix) {
            return Err(format!(
                "{name} is not in {} and {} could not export it (needs MXNet in .venv)",
                dir.display(),
                script.display()
            ));
        }
    }
    Ok(prefix.to_string_lossy().into_owned())
}

/// W8/W9's input: `((arange(n) * 7919) % 1000) / 1000 - 0.5` in C order.
fn zoo_ramp(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// Copies a checkpoint's arrays into an executor's arguments and auxiliary states by name
/// (MXNet's `copy_params_from(..., allow_extra_params=True)`).
fn zoo_copy_params(
    exe: &mxr::exec::Executor,
    args: &[(String, NDArray)],
    aux: &[(String, NDArray)],
) -> mxr::Result<()> {
    let (arg_dict, aux_dict) = (exe.arg_dict(), exe.aux_dict());
    for (name, value) in args {
        if let Some(dst) = arg_dict.get(name) {
            dst.assign(value)?;
        }
    }
    for (name, value) in aux {
        if let Some(dst) = aux_dict.get(name) {
            dst.assign(value)?;
        }
    }
    Ok(())
}

/// W8: inference on the model-zoo networks (MXNet checkpoints from `export_zoo.py`).
pub(crate) fn w8(out: &Out, quick: bool) -> mxr::Result<()> {
    use mxr::engine::Context;
    use mxr::exec::GradReq;
    // `W8_ITERS=N` times N calls per case (for profiling one network).
    let iters = std::env::var("W8_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 10 });
    let cases = [
        ("resnet18_v1", 1usize),
        ("resnet18_v1", 32),
        ("mobilenet1_0", 32),
        ("resnet50_v2", 1),
    ];
    // `W8_CASES=net:batch,...` runs those cases instead (for profiling one network).
    let only = std::env::var("W8_CASES").unwrap_or_default();
    let chosen: Vec<(&str, usize)> = only
        .split(',')
        .filter_map(|c| {
            let (net, batch) = c.trim().split_once(':')?;
            Some((net, batch.parse().ok()?))
        })
        .collect();
    let cases = if chosen.is_empty() {
        cases.to_vec()
    } else {
        chosen
    };
    for (name, batch) in cases {
        let prefix = match zoo_prefix(name) {
            Ok(p) => p,
            Err(reason) => {
                out.emit("W8", "skipped", reason.into(), "info", json!({"net": name}));
                continue;
            }
        };
        let (symbol, args, aux) = mxr::sym::load_checkpoint(&prefix, 0)?;
        let shape = [batch, 3, 224, 224];
        let mut exe =
            symbol.simple_bind(Context::cpu(0), &[("data", &shape)], GradReq::Null, &[])?;
        zoo_copy_params(&exe, &args, &aux)?;
        exe.arg_dict()["data"].assign_slice(&zoo_ramp(shape.iter().product()))?;
        for _ in 0..2 {
            exe.forward(false)?;
            exe.outputs()[0].wait_to_read()?;
        }
        let timed = timed_runs(iters, |_| {
            exe.forward(false)?;
            exe.outputs()[0].wait_to_read()
        })?;
        let checksum: f64 = exe.outputs()[0]
            .to_vec::<f32>()?
            .iter()
            .map(|&v| f64::from(v))
            .sum();
        let params = json!({"net": name, "checksum": round(checksum)});
        emit_throughput(
            out,
            "W8",
            "images_per_sec",
            "images/s",
            batch,
            &timed,
            params,
        );
    }
    Ok(())
}

/// A throughput line of W8 and W9: `batch` items per run over the runs `timed` measured (see
/// [`timed_runs`]): the rate at the median time as the value, with each run's rate, the median
/// time and the CPU utilisation added to `params`.
fn emit_throughput(
    out: &Out,
    workload: &str,
    metric: &str,
    unit: &str,
    batch: usize,
    (times, util): &(Vec<f64>, f64),
    params: Value,
) {
    let rates: Vec<f64> = times.iter().map(|t| batch as f64 / t).collect();
    let measured = json!({
        "batch": batch, "samples": rounds(&rates),
        "median_ms": round(median(times) * 1e3), "cpu_util": round(*util),
    });
    let value = round(batch as f64 / median(times));
    out.emit(
        workload,
        metric,
        value.into(),
        unit,
        merge(params, measured),
    );
}

/// W9: one ResNet-18 training step (forward, backward, `w = w - (lr/B)·g` per parameter).
pub(crate) fn w9(out: &Out, quick: bool) -> mxr::Result<()> {
    use mxr::engine::Context;
    use mxr::exec::GradReq;
    let steps = if quick { 3 } else { 10 };
    let (batch, lr) = (16usize, 0.01f64);
    let prefix = match zoo_prefix("resnet18_v1") {
        Ok(p) => p,
        Err(reason) => {
            out.emit(
                "W9",
                "skipped",
                reason.into(),
                "info",
                json!({"net": "resnet18_v1"}),
            );
            return Ok(());
        }
    };
    let (symbol, args, aux) = mxr::sym::load_checkpoint(&prefix, 0)?;
    let net = mxr::sym::softmax_output(&symbol).name("softmax").build()?;
    let shape = [batch, 3, 112, 112];
    let mut exe = net.simple_bind(
        Context::cpu(0),
        &[("data", &shape), ("softmax_label", &[batch])],
        GradReq::Write,
        &["data", "softmax_label"],
    )?;
    zoo_copy_params(&exe, &args, &aux)?;
    let arg_dict = exe.arg_dict();
    arg_dict["data"].assign_slice(&zoo_ramp(shape.iter().product()))?;
    // RandomState(0).randint(0, 1000, 16), as float32.
    let labels = mxr::init::NumpyRandomState::new(0).randint(0, 1000, batch);
    let labels: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    arg_dict["softmax_label"].assign_slice(&labels)?;
    let params: Vec<(NDArray, NDArray)> = exe
        .arg_arrays()
        .iter()
        .zip(exe.grad_arrays())
        .filter_map(|(w, g)| g.clone().map(|g| (w.clone(), g)))
        .collect();
    let step_size = lr / batch as f64;
    let step = |exe: &mut mxr::exec::Executor| -> mxr::Result<()> {
        exe.forward(true)?;
        exe.backward(&[])?;
        for (w, g) in &params {
            let updated = w - &(g * step_size);
            w.assign(&updated)?;
        }
        nd::waitall()
    };
    for _ in 0..2 {
        step(&mut exe)?;
    }
    let timed = timed_runs(steps, |_| step(&mut exe))?;
    let params = json!({"net": "resnet18_v1", "side": 112});
    emit_throughput(
        out,
        "W9",
        "samples_per_sec",
        "samples/s",
        batch,
        &timed,
        params,
    );
    Ok(())
}
