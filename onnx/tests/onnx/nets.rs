//! The networks the tests convert (MXNet's docs MLP and LeNet, built with mxr's Symbol API
//! as MXNet's tests build them), a forward pass through mxr's executor, and the comparison.

use mxr_frontend::engine::Context;
use mxr_frontend::exec::GradReq;
use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::{NamedArrays, Symbol};

/// Deterministic values in [-scale, scale) (a linear congruential generator).
pub(crate) fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn op(op: &str, input: &Symbol, name: &str, params: &[(&str, &str)]) -> Symbol {
    Symbol::op(op, &[("", input)], params, Some(name)).unwrap()
}

/// The docs' MLP: 784 → 128 relu → 64 relu → 10, SoftmaxOutput.
pub(crate) fn mlp() -> Symbol {
    let data = Symbol::variable("data");
    let fc1 = op("FullyConnected", &data, "fc1", &[("num_hidden", "128")]);
    let a1 = op("Activation", &fc1, "relu1", &[("act_type", "relu")]);
    let fc2 = op("FullyConnected", &a1, "fc2", &[("num_hidden", "64")]);
    let a2 = op("Activation", &fc2, "relu2", &[("act_type", "relu")]);
    let fc3 = op("FullyConnected", &a2, "fc3", &[("num_hidden", "10")]);
    op("SoftmaxOutput", &fc3, "softmax", &[])
}

/// LeNet: two 5×5 convolutions with tanh and 2×2 max pooling, then 500 tanh → 10.
pub(crate) fn lenet() -> Symbol {
    let data = Symbol::variable("data");
    let conv = |x: &Symbol, name: &str, filters: &str| {
        op(
            "Convolution",
            x,
            name,
            &[("kernel", "(5, 5)"), ("num_filter", filters)],
        )
    };
    let tanh = |x: &Symbol, name: &str| op("Activation", x, name, &[("act_type", "tanh")]);
    let pool = |x: &Symbol, name: &str| {
        let p = [
            ("pool_type", "max"),
            ("kernel", "(2, 2)"),
            ("stride", "(2, 2)"),
        ];
        op("Pooling", x, name, &p)
    };
    let p1 = pool(&tanh(&conv(&data, "conv1", "20"), "tanh1"), "pool1");
    let p2 = pool(&tanh(&conv(&p1, "conv2", "50"), "tanh2"), "pool2");
    let f = op("Flatten", &p2, "flatten", &[]);
    let fc1 = op("FullyConnected", &f, "fc1", &[("num_hidden", "500")]);
    let fc2 = op(
        "FullyConnected",
        &tanh(&fc1, "tanh3"),
        "fc2",
        &[("num_hidden", "10")],
    );
    op("SoftmaxOutput", &fc2, "softmax", &[])
}

/// Seeded parameters for `net` with data of `shape` (the label, when there is one, is not a
/// parameter).
pub(crate) fn params(net: &Symbol, shape: &[usize]) -> NamedArrays {
    params_for(net, &[("data", shape)])
}

/// Seeded parameters for `net`, every argument but `data` and labels, with the shapes inferred
/// from `known`.
pub(crate) fn params_for(net: &Symbol, known: &[(&str, &[usize])]) -> NamedArrays {
    let (shapes, _, _) = net.infer_shape(known).unwrap();
    net.list_arguments()
        .into_iter()
        .zip(shapes)
        .enumerate()
        .filter(|(_, (name, _))| name != "data" && !name.ends_with("_label"))
        .map(|(i, (name, s))| {
            let n = s.iter().product();
            (
                name,
                NDArray::from_vec(&s, values(n, i as u64, 0.3)).unwrap(),
            )
        })
        .collect()
}

/// Registry operator `op` on `inputs` with `params`, named `name` (the test networks).
pub(crate) fn build_op(
    op: &str,
    inputs: &[&Symbol],
    params: &[(&str, &str)],
    name: &str,
) -> Symbol {
    let inputs: Vec<(&str, &Symbol)> = inputs.iter().map(|s| ("", *s)).collect();
    Symbol::op(op, &inputs, params, Some(name)).unwrap()
}

/// `net`'s first output on `data` (of `shape`) through mxr's executor, for inference.
pub(crate) fn forward(
    net: &Symbol,
    args: &NamedArrays,
    aux: &NamedArrays,
    shape: &[usize],
    data: &[f32],
) -> Vec<f32> {
    let mut shapes: Vec<(&str, &[usize])> = vec![("data", shape)];
    let label = [shape[0]];
    let labels: Vec<String> = net
        .list_arguments()
        .into_iter()
        .filter(|n| n.ends_with("_label"))
        .collect();
    for l in &labels {
        shapes.push((l, &label));
    }
    // Parameters' shapes too: not every operator infers its operands' shapes backwards from
    // the data (dot with transpose_a).
    for (name, a) in args.iter().chain(aux) {
        shapes.push((name, a.shape()));
    }
    let mut exe = net
        .simple_bind(Context::cpu(0), &shapes, GradReq::Null, &[])
        .unwrap();
    let dict = exe.arg_dict();
    for (name, a) in args {
        dict[name].assign(a).unwrap();
    }
    let aux_dict = exe.aux_dict();
    for (name, a) in aux {
        aux_dict[name].assign(a).unwrap();
    }
    dict["data"]
        .assign(&NDArray::from_vec(shape, data.to_vec()).unwrap())
        .unwrap();
    exe.forward(false).unwrap();
    exe.outputs()[0].to_vec::<f32>().unwrap()
}

/// Asserts `got` within `rtol` (relative) and `atol` of `want`, element by element.
pub(crate) fn assert_close(got: &[f32], want: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let mut worst = 0.0f32;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= atol + rtol * w.abs(),
            "{what}: element {i}: {g} vs {w} (error {err})"
        );
        worst = worst.max(err / (atol + rtol * w.abs()));
    }
    eprintln!(
        "{what}: {} values, worst error {worst:.3} of the tolerance",
        got.len()
    );
}

/// A fresh directory for one test's files.
pub(crate) fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mxr-onnx-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
