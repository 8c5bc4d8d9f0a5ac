//! The training workloads: W4 (the MXNet docs' MLP on Fashion-MNIST, through the low-level
//! executor loop, through Module and through Gluon: gluon.rs) and W5 (LeNet, the low-level loop).

use super::*;

/// Fashion-MNIST as W4 loads it: images /255 as (N, 784) float32, labels float32.
fn fmnist(dir: &std::path::Path, set: &str) -> mxr::Result<(NDArray, NDArray, Vec<f32>)> {
    let (n, rows, cols, pixels) =
        mxr::io::read_idx_images(dir.join(format!("{set}-images-idx3-ubyte.gz")))?;
    let labels = mxr::io::read_idx_labels(dir.join(format!("{set}-labels-idx1-ubyte.gz")))?;
    let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let y: Vec<f32> = labels.iter().map(|&l| f32::from(l)).collect();
    Ok((
        NDArray::from_vec(&[n, rows * cols], x)?,
        NDArray::from_vec(&[n], y.clone())?,
        y,
    ))
}

/// W4's initial parameters: numpy's `RandomState(1234).uniform(-0.07, 0.07)` for the weights in
/// argument order, zero biases.
pub(super) fn w4_init() -> mxr::Result<Vec<(String, NDArray)>> {
    let mut rs = mxr::init::NumpyRandomState::new(1234);
    let mut params = Vec::new();
    for (name, shape) in [
        ("fc1_weight", [128usize, 784]),
        ("fc2_weight", [64, 128]),
        ("fc3_weight", [10, 64]),
    ] {
        let values = rs.uniform_f32(-0.07, 0.07, shape[0] * shape[1]);
        params.push((name.to_string(), NDArray::from_vec(&shape, values)?));
    }
    for (name, n) in [("fc1_bias", 128usize), ("fc2_bias", 64), ("fc3_bias", 10)] {
        params.push((name.to_string(), NDArray::zeros(&[n])?));
    }
    Ok(params)
}

/// Test accuracy of `net` with `params`: one forward over every test image.
pub(super) fn test_accuracy(
    net: &mxr::exec::Graph,
    params: &[(String, NDArray)],
    x_test: &NDArray,
    y_test: &[f32],
) -> mxr::Result<f64> {
    use mxr::exec::{Executor, GradReq};
    let n_test = x_test.shape()[0];
    let mut args = Vec::new();
    for &n in &net.arguments() {
        args.push(match net.nodes[n].name.as_str() {
            "data" => x_test.clone(),
            "softmax_label" => NDArray::zeros(&[n_test])?,
            name => params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, a)| a.clone())
                .ok_or_else(|| mxr::Error::InvalidArgument {
                    call: "W4",
                    reason: format!("no parameter {name}"),
                })?,
        });
    }
    let reqs = vec![GradReq::Null; args.len()];
    let mut exe = Executor::bind(
        net,
        mxr::engine::Context::cpu(0),
        args,
        vec![None; reqs.len()],
        &reqs,
        vec![],
    )?;
    exe.forward(false)?;
    let pred = nd::argmax(&exe.outputs()[0], Some(1))?.to_vec::<f32>()?;
    let correct = pred.iter().zip(y_test).filter(|(p, y)| p == y).count();
    Ok(correct as f64 / n_test as f64)
}

/// W4's three lines for one API.
#[allow(clippy::too_many_arguments)]
pub(super) fn emit_w4(
    out: &Out,
    api: &str,
    optimizer: &str,
    (batch, lr, epochs, nbatch): (usize, f64, usize, usize),
    times: &[f64],
    util: f64,
    accuracy: f64,
    n_test: usize,
) {
    let sps: Vec<f64> = times.iter().map(|t| (nbatch * batch) as f64 / t).collect();
    let common = json!({"api": api, "batch": batch, "lr": lr, "epochs": epochs,
        "batches_per_epoch": nbatch, "samples_per_epoch": nbatch * batch,
        "init": "uniform(-0.07,0.07) seed 1234 (numpy's generator), bias 0",
        "optimizer": optimizer});
    out.emit(
        "W4",
        "samples_per_sec",
        round(median(&sps)).into(),
        "samples/s",
        merge(
            common.clone(),
            json!({"samples": rounds(&sps), "cpu_util": round(util)}),
        ),
    );
    out.emit_samples("W4", "epoch_time_s", times, "s", common.clone());
    out.emit(
        "W4",
        "test_accuracy",
        round(accuracy).into(),
        "fraction",
        merge(common, json!({"test_images": n_test})),
    );
    let off = (accuracy - MXNET_W4_ACCURACY).abs();
    let what = format!(
        "api={api}: test accuracy {accuracy:.4}, {off:.4} from MXNet's {MXNET_W4_ACCURACY} \
         (tolerance {W4_ACCURACY_TOLERANCE})"
    );
    // A NaN accuracy fails too.
    let passed = off <= W4_ACCURACY_TOLERANCE;
    out.check("W4", passed, what, json!({ "api": api }));
}

/// The Fashion-MNIST directory (`FMNIST_DIR`, else the system's), or `None` after a `skipped`
/// line for `workload` where it is not installed.
fn fashion_mnist_or_skip(out: &Out, workload: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(
        std::env::var("FMNIST_DIR").unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into()),
    );
    if dir.join("train-images-idx3-ubyte.gz").exists() {
        return Some(dir);
    }
    out.emit(
        workload,
        "skipped",
        "Fashion-MNIST not installed (dataset-fashion-mnist)".into(),
        "info",
        json!({}),
    );
    None
}

pub(crate) fn w4(out: &Out, quick: bool) -> mxr::Result<()> {
    use mxr::engine::Context;
    use mxr::exec::{Executor, GradReq};
    let Some(dir) = fashion_mnist_or_skip(out, "W4") else {
        return Ok(());
    };
    let (batch, lr) = (128usize, 0.1f64);
    let epochs = if quick { 1 } else { 5 };
    let (x_train, y_train, _) = fmnist(&dir, "train")?;
    let (x_test, _, y_test) = fmnist(&dir, "t10k")?;
    let n_test = x_test.shape()[0];
    let nbatch = if quick {
        100
    } else {
        x_train.shape()[0] / batch
    };
    let sizes = (batch, lr, epochs, nbatch);
    let symbol = mlp_symbol()?;
    let net = symbol.to_graph()?;
    let cpu = Context::cpu(0);
    let no_grad = ["data", "softmax_label"];

    // (a) The docs' low-level loop: simple_bind, then per batch copy in, forward, backward and
    // W[:] = W - lr/batch * G.
    let mut exe = Executor::simple_bind(
        &net,
        cpu,
        &[("data", &[batch, 784]), ("softmax_label", &[batch])],
        GradReq::Write,
        &no_grad,
    )?;
    let args = exe.arg_dict();
    let grads = exe.grad_dict();
    let mut params = Vec::new();
    for (name, value) in w4_init()? {
        args[&name].assign(&value)?;
        params.push((args[&name].clone(), grads[&name].clone()));
    }
    nd::waitall()?;
    let step = lr / batch as f64;
    let (times, util) = timed_runs(epochs, |_| {
        train_batches(
            &mut exe, &params, &x_train, &y_train, batch, 0, nbatch, step,
        )?;
        nd::waitall()
    })?;
    let trained: Vec<(String, NDArray)> = args.into_iter().collect();
    let accuracy = test_accuracy(&net, &trained, &x_test, &y_test)?;
    emit_w4(
        out,
        "lowlevel",
        "sgd lr=0.1 momentum=0 wd=0, mean gradient",
        sizes,
        &times,
        util,
        accuracy,
        n_test,
    );

    // (b) The Module API: the same network, initial weights and batches through Module::fit.
    let mut it = mxr::io::NDArrayIter::new(
        x_train.slice(0, nbatch * batch)?,
        y_train.slice(0, nbatch * batch)?,
        batch,
    )?
    .last_batch_handle(mxr::io::LastBatchHandle::Discard);
    let mut module = mxr::module::Module::new(symbol, &["data"], &["softmax_label"], cpu);
    module.bind(&it)?;
    module.set_params(&w4_init()?, &[])?;
    let (c0, w0) = (cpu_seconds(), Instant::now());
    let report = module.fit(
        &mut it,
        None,
        &mut mxr::metric::Accuracy::new(),
        &mxr::module::FitOptions::new(epochs).learning_rate(lr),
    )?;
    let util = (cpu_seconds() - c0) / w0.elapsed().as_secs_f64();
    let times: Vec<f64> = report.epochs.iter().map(|e| e.seconds).collect();
    let (trained, _) = module.get_params()?;
    let accuracy = test_accuracy(&net, &trained, &x_test, &y_test)?;
    emit_w4(
        out,
        "module",
        "sgd lr=0.1 (Module::fit, rescale 1/batch)",
        sizes,
        &times,
        util,
        accuracy,
        n_test,
    );

    // (c) Gluon, imperative and hybridized.
    super::gluon::w4_gluon(out, (&x_train, &y_train), (&net, &x_test, &y_test), sizes)
}

/// The docs MLP as a symbol (W4's Module API).
fn mlp_symbol() -> mxr::Result<mxr::sym::Symbol> {
    use mxr::sym::{self, Symbol};
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 128).name("fc1").build()?;
    let act1 = sym::activation(&fc1, "relu").name("relu1").build()?;
    let fc2 = sym::fully_connected(&act1, 64).name("fc2").build()?;
    let act2 = sym::activation(&fc2, "relu").name("relu2").build()?;
    let fc3 = sym::fully_connected(&act2, 10).name("fc3").build()?;
    sym::softmax_output(&fc3).name("softmax").build()
}

/// LeNet as W5 builds it.
fn lenet_graph() -> mxr::Result<mxr::exec::Graph> {
    use mxr::operators::registry::create;
    let mut g = mxr::exec::Graph::default();
    let mut x = g.variable("data");
    let layer = |g: &mut mxr::exec::Graph,
                 x,
                 op: &str,
                 name: &str,
                 attrs: &[(&str, &str)],
                 params: &[&str]|
     -> mxr::Result<mxr::operators::registry::Entry> {
        let mut inputs = vec![x];
        for p in params {
            inputs.push(g.variable(&format!("{name}_{p}")));
        }
        Ok(g.add(create(op, attrs, None)?, name, &inputs)?[0])
    };
    let conv = |f: &'static str| [("kernel", "(5, 5)"), ("num_filter", f)];
    let pool = [
        ("pool_type", "max"),
        ("kernel", "(2, 2)"),
        ("stride", "(2, 2)"),
    ];
    x = layer(
        &mut g,
        x,
        "Convolution",
        "conv1",
        &conv("20"),
        &["weight", "bias"],
    )?;
    x = layer(
        &mut g,
        x,
        "Activation",
        "tanh1",
        &[("act_type", "tanh")],
        &[],
    )?;
    x = layer(&mut g, x, "Pooling", "pool1", &pool, &[])?;
    x = layer(
        &mut g,
        x,
        "Convolution",
        "conv2",
        &conv("50"),
        &["weight", "bias"],
    )?;
    x = layer(
        &mut g,
        x,
        "Activation",
        "tanh2",
        &[("act_type", "tanh")],
        &[],
    )?;
    x = layer(&mut g, x, "Pooling", "pool2", &pool, &[])?;
    x = layer(&mut g, x, "Flatten", "flatten", &[], &[])?;
    x = layer(
        &mut g,
        x,
        "FullyConnected",
        "fc1",
        &[("num_hidden", "500")],
        &["weight", "bias"],
    )?;
    x = layer(
        &mut g,
        x,
        "Activation",
        "tanh3",
        &[("act_type", "tanh")],
        &[],
    )?;
    x = layer(
        &mut g,
        x,
        "FullyConnected",
        "fc2",
        &[("num_hidden", "10")],
        &["weight", "bias"],
    )?;
    let x = layer(&mut g, x, "SoftmaxOutput", "softmax", &[], &["label"])?;
    g.outputs.push(x);
    Ok(g)
}

/// W4's update loop over `nbatch` batches starting at batch `first`.
#[allow(clippy::too_many_arguments)]
fn train_batches(
    exe: &mut mxr::exec::Executor,
    params: &[(NDArray, NDArray)],
    x: &NDArray,
    y: &NDArray,
    batch: usize,
    first: usize,
    nbatch: usize,
    step: f64,
) -> mxr::Result<()> {
    let args = exe.arg_dict();
    let (data, label) = (args["data"].clone(), args["softmax_label"].clone());
    for i in first..first + nbatch {
        data.assign(&x.slice(i * batch, (i + 1) * batch)?)?;
        label.assign(&y.slice(i * batch, (i + 1) * batch)?)?;
        exe.forward(true)?;
        exe.backward(&[])?;
        for (w, g) in params {
            let updated = w - &(g * step);
            w.assign(&updated)?;
        }
    }
    Ok(())
}

pub(crate) fn w5(out: &Out, quick: bool) -> mxr::Result<()> {
    use mxr::engine::Context;
    use mxr::exec::{Executor, GradReq};
    let Some(dir) = fashion_mnist_or_skip(out, "W5") else {
        return Ok(());
    };
    let (batch, lr) = (64usize, 0.1f64);
    let (warm, per_rep, reps) = if quick { (3, 20, 1) } else { (10, 100, 5) };
    let (x_all, y_all, _) = fmnist(&dir, "train")?;
    let need = (warm + per_rep * reps) * batch;
    let x = x_all.slice(0, need)?.reshape(&[-1, 1, 28, 28])?;
    let y = y_all.slice(0, need)?;
    let net = lenet_graph()?;
    let no_grad = ["data", "softmax_label"];
    let mut exe = Executor::simple_bind(
        &net,
        Context::cpu(0),
        &[("data", &[batch, 1, 28, 28]), ("softmax_label", &[batch])],
        GradReq::Write,
        &no_grad,
    )?;
    let mut rs = mxr::init::NumpyRandomState::new(1234);
    let mut params = Vec::new();
    let mut n_params = 0;
    for (i, &node) in net.arguments().iter().enumerate() {
        let name = net.nodes[node].name.as_str();
        let (w, g) = (exe.arg_arrays()[i].clone(), exe.grad_arrays()[i].clone());
        if name.ends_with("_weight") {
            w.assign_slice(&rs.uniform_f32(-0.07, 0.07, w.size()))?;
        } else if name.ends_with("_bias") {
            w.assign_scalar(0.0)?;
        }
        if let Some(g) = g {
            n_params += w.size();
            params.push((w, g));
        }
    }
    let step = lr / batch as f64;
    train_batches(&mut exe, &params, &x, &y, batch, 0, warm, step)?;
    nd::waitall()?;
    let (times, util) = timed_runs(reps, |r| {
        train_batches(
            &mut exe,
            &params,
            &x,
            &y,
            batch,
            warm + r * per_rep,
            per_rep,
            step,
        )?;
        nd::waitall()
    })?;
    let sps: Vec<f64> = times.iter().map(|t| (per_rep * batch) as f64 / t).collect();
    out.emit("W5", "samples_per_sec", round(median(&sps)).into(), "samples/s", json!({
        "api": "lowlevel", "batch": batch, "batches_per_rep": per_rep, "warmup_batches": warm,
        "reps": reps, "samples": rounds(&sps), "ms_per_batch": round(median(&times) / per_rep as f64 * 1e3),
        "cpu_util": round(util), "n_params": n_params,
    }));
    Ok(())
}
