//! What the tests share: the nets they build, MXNet's Python.

use std::path::{Path, PathBuf};

use mxr::engine::Context;
use mxr::gluon::nn::{
    Activation, BatchNorm, Conv2D, Conv2DTranspose, Dense, Dropout, Embedding, Flatten,
    HybridLambda, HybridSequential, LayerNorm, LeakyReLU, Pool,
};
use mxr::gluon::{Block, Parameter};
use mxr::nd::NDArray;

/// The CPU.
pub(crate) fn cpu() -> Context {
    Context::cpu(0)
}

/// Dense(4, relu), Dense(3) in the sequence's name scope (MXNet: `with net.name_scope()`).
pub(crate) fn mlp() -> HybridSequential {
    let mut net = HybridSequential::new();
    net.name_scope(|net| {
        net.add(Dense::new(4).activation("relu"));
        net.add(Dense::new(3));
    });
    net
}

/// Conv2D(2, 3, in_channels=1), BatchNorm, relu, MaxPool2D, Flatten, Dropout(0.5),
/// Dense(3, in_units=18), without a name scope.
pub(crate) fn cnn() -> HybridSequential {
    cnn_with_dropout(0.5)
}

/// [`cnn`] with another dropout rate (0: the same in training mode whatever the random state).
pub(crate) fn cnn_with_dropout(rate: f64) -> HybridSequential {
    let mut net = HybridSequential::new();
    net.add(Conv2D::new(2, &[3, 3]).in_channels(1).unwrap());
    net.add(BatchNorm::new());
    net.add(Activation::new("relu"));
    net.add(Pool::max(&[2, 2]));
    net.add(Flatten::new());
    net.add(Dropout::new(rate));
    net.add(Dense::new(3).in_units(18).unwrap());
    net
}

/// A strided Conv2D (no bias, relu), LeakyReLU, AvgPool2D, GlobalAvgPool2D, Dense(2) and
/// HybridLambda(tanh), without a name scope; inputs `(N, 2, 8, 8)`.
pub(crate) fn pools() -> HybridSequential {
    let mut net = HybridSequential::new();
    let conv = Conv2D::new(3, &[3, 3]).strides(&[2, 2]).padding(&[1, 1]);
    net.add(conv.in_channels(2).unwrap().no_bias().activation("relu"));
    net.add(LeakyReLU::new(0.1));
    net.add(Pool::avg(&[2, 2]));
    net.add(Pool::global_avg(2));
    net.add(Dense::new(2));
    net.add(HybridLambda::new("tanh", &[]));
    net
}

/// Embedding(10, 4), Dense(3, flatten=False) in the sequence's scope; inputs are indices.
pub(crate) fn embed() -> HybridSequential {
    let mut net = HybridSequential::new();
    net.name_scope(|net| {
        net.add(Embedding::new(10, 4));
        net.add(Dense::new(3).flatten(false));
    });
    net
}

/// Conv2DTranspose(4, 3, strides 2, padding 1, output_padding 1), LayerNorm,
/// Conv2DTranspose(2, 2, strides 2, groups 2, no bias, in_channels 4), LayerNorm(axis 1) in the
/// sequence's scope: the transposed convolutions and layer norms.
pub(crate) fn upsample() -> HybridSequential {
    let mut net = HybridSequential::new();
    net.name_scope(|net| {
        let up = Conv2DTranspose::transpose(4, &[3, 3]).strides(&[2, 2]);
        net.add(up.padding(&[1, 1]).output_padding(&[1, 1]));
        net.add(LayerNorm::new());
        let up = Conv2DTranspose::transpose(2, &[2, 2]).strides(&[2, 2]);
        net.add(up.groups(2).no_bias().in_channels(4).unwrap());
        net.add(LayerNorm::new().axis(1));
    });
    net
}

/// `n` values `(i % 7 - 3) / 10`, deterministic inputs and weights both sides can make.
pub(crate) fn ramp(shape: &[usize]) -> NDArray {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) / 10.0).collect();
    NDArray::from_vec(shape, values).unwrap()
}

/// Indices `i % 7` for an embedding.
pub(crate) fn indices(shape: &[usize]) -> NDArray {
    let n: usize = shape.iter().product();
    NDArray::from_vec(shape, (0..n).map(|i| (i % 7) as f32).collect()).unwrap()
}

/// Sets every parameter of `block` to `ramp` of its shape (scaled per parameter index), after
/// the shapes are known.
pub(crate) fn set_ramp_params(block: &dyn Block) {
    for (i, p) in block.collect_params().values().enumerate() {
        set_ramp(p, i);
    }
}

fn set_ramp(p: &Parameter, i: usize) {
    let d = p.data().unwrap();
    let r = ramp(d.shape());
    let scaled = mxr::nd::invoke(
        "_mul_scalar",
        &[&r],
        &[("scalar", &format!("{}", 1.0 + i as f64 / 4.0))],
    )
    .unwrap()
    .remove(0);
    p.set_data(&scaled).unwrap();
}

/// The values of every parameter of `block`, in `collect_params` order.
pub(crate) fn param_values(block: &dyn Block) -> Vec<Vec<f32>> {
    let params = block.collect_params();
    params
        .values()
        .map(|p| values(&p.data().unwrap()))
        .collect()
}

/// The values of `a`.
pub(crate) fn values(a: &NDArray) -> Vec<f32> {
    a.to_vec::<f32>().unwrap()
}

/// Asserts `a` and `b` agree within `rel` relative (plus 1e-7 absolute).
pub(crate) fn assert_close(a: &[f32], b: &[f32], rel: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = rel * x.abs().max(y.abs()) + 1e-7;
        assert!((x - y).abs() <= tol, "{what}[{i}]: {x} vs {y}");
    }
}

/// The Python that imports MXNet 1.9.1 (`MXR_MXNET_PYTHON`, else the workspace's `.venv`);
/// `None` after a skip notice when there is none.
pub(crate) fn mxnet_python() -> Option<PathBuf> {
    mxr_test_support::python::mxnet_python(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// A fresh directory under the target directory for this test's files.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mxr-gluon-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
