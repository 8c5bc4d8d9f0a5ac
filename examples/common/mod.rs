//! What the MNIST training examples (`train_mlp`, `train_mlp_dist`, `train_module`) share: the
//! MLP of MXNet's docs and the settings of their MNIST iterators.

use std::path::Path;

use mxr::io::{LastBatchHandle, MNISTIter, MNISTIterBuilder};
use mxr::sym::{self, Symbol};

/// The MLP of MXNet's docs: data → fc1(128) → relu → fc2(64) → relu → fc3(10) →
/// SoftmaxOutput("softmax"), as written there with `mx.sym`.
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
