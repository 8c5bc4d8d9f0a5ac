//! What the MNIST training examples (`train_mlp`, `train_mlp_dist`, `train_module`,
//! `gluon_mnist`) share: the
//! MLP of MXNet's docs, the settings of their MNIST iterators, the dataset check and the
//! evaluation of an executor's accuracy.

use std::path::Path;

use mxr::exec::Executor;
use mxr::io::{DataIter, LastBatchHandle, MNISTIter, MNISTIterBuilder};
use mxr::metric::{Accuracy, EvalMetric};
use mxr::nd;
use mxr::sym::{self, Symbol};

/// The MLP of MXNet's docs: data → fc1(128) → relu → fc2(64) → relu → fc3(10) →
/// SoftmaxOutput("softmax"), as written there with `mx.sym`.
#[allow(dead_code)] // gluon_mnist builds its network with Gluon
pub(crate) fn mlp() -> mxr::Result<Symbol> {
    let data = Symbol::variable("data");
    let fc1 = sym::fully_connected(&data, 128).name("fc1").build()?;
    let act1 = sym::activation(&fc1, "relu").name("relu1").build()?;
    let fc2 = sym::fully_connected(&act1, 64).name("fc2").build()?;
    let act2 = sym::activation(&fc2, "relu").name("relu2").build()?;
    let fc3 = sym::fully_connected(&act2, 10).name("fc3").build()?;
    sym::softmax_output(&fc3).name("softmax").build()
}

/// An iterator over the MNIST-format set `set` (`train` or `t10k`) in `dir`, `batch` images a
/// batch: for training shuffled (seed 42) with the last partial batch dropped, otherwise in
/// file order with it padded.
pub(crate) fn mnist(dir: &Path, set: &str, batch: usize, train: bool) -> MNISTIterBuilder {
    MNISTIter::builder(
        dir.join(format!("{set}-images-idx3-ubyte.gz")),
        dir.join(format!("{set}-labels-idx1-ubyte.gz")),
    )
    .batch_size(batch)
    .shuffle(train)
    .seed(42)
    .last_batch_handle(if train {
        LastBatchHandle::Discard
    } else {
        LastBatchHandle::Pad
    })
}

/// An error unless Fashion-MNIST's training images are in `dir`; `hint` says how to get them.
pub(crate) fn require_data(dir: &Path, hint: &str) -> Result<(), Box<dyn std::error::Error>> {
    if !dir.join("train-images-idx3-ubyte.gz").exists() {
        return Err(format!("Fashion-MNIST is not in {} ({hint})", dir.display()).into());
    }
    Ok(())
}

/// The accuracy of `exe` (inputs `data` and `softmax_label`) over `test`, padding excluded;
/// with `predictions`, every test image's predicted class is pushed to it.
#[allow(dead_code)] // train_module evaluates through its Module instead
pub(crate) fn evaluate(
    exe: &mut Executor,
    test: &mut dyn DataIter,
    mut predictions: Option<&mut Vec<u8>>,
) -> mxr::Result<f64> {
    test.reset()?;
    let mut metric = Accuracy::new();
    let (data, label) = (
        exe.arg_dict()["data"].clone(),
        exe.arg_dict()["softmax_label"].clone(),
    );
    while let Some(batch) = test.next_batch()? {
        data.assign(&batch.data[0])?;
        label.assign(&batch.label[0])?;
        exe.forward(false)?;
        let keep = test.batch_size() - batch.pad;
        let pred = exe.outputs()[0].slice(0, keep)?;
        metric.update(&[&batch.label[0].slice(0, keep)?], &[&pred])?;
        if let Some(out) = predictions.as_deref_mut() {
            let classes = nd::argmax(&pred, Some(1))?.to_vec::<f32>()?;
            out.extend(classes.iter().map(|&c| c as u8));
        }
    }
    Ok(metric.get().1)
}
