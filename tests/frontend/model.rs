//! A model trained by MXNet 1.9.1 (tests/fixtures/conformance/model): its checkpoint runs in mxr
//! on the 10,000 Fashion-MNIST test images with MXNet's predictions and accuracy.

use mxr::engine::Context;
use mxr::exec::{Executor, GradReq};
use mxr::nd::{self, NDArray};
use serde_json::Value;

use crate::conformance::fixture;

#[test]
fn the_mxnet_checkpoint_predicts_as_mxnet_did() {
    let Some(fashion) = mxr_test_support::fashion_mnist_dir() else {
        return;
    };
    let dir = fixture("model");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let prefix = dir.join("fashion_mlp").to_string_lossy().into_owned();
    let (symbol, params, aux) = mxr::sym::load_checkpoint(&prefix, 3).unwrap();
    assert!(aux.is_empty());
    let graph = symbol.to_graph().unwrap();

    let (n, rows, cols, pixels) =
        mxr::io::read_idx_images(fashion.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let labels = mxr::io::read_idx_labels(fashion.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let data = NDArray::from_vec(&[n, rows * cols], x).unwrap();

    let args: Vec<NDArray> = graph
        .arguments()
        .iter()
        .map(|&node| match graph.nodes[node].name.as_str() {
            "data" => data.clone(),
            "softmax_label" => NDArray::zeros(&[n]).unwrap(),
            name => params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| panic!("no arg:{name} in the checkpoint")),
        })
        .collect();
    let reqs = vec![GradReq::Null; args.len()];
    let mut exe = Executor::bind(
        &graph,
        Context::cpu(0),
        args,
        vec![None; reqs.len()],
        &reqs,
        vec![],
    )
    .unwrap();
    exe.forward(false).unwrap();
    let probs = exe.outputs()[0].clone();
    let pred = nd::argmax(&probs, Some(1))
        .unwrap()
        .to_vec::<f32>()
        .unwrap();

    let want: Vec<f64> = expected["first200_pred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let got: Vec<f64> = pred[..200].iter().map(|&p| f64::from(p)).collect();
    assert_eq!(got, want, "the first 200 predicted classes");
    let correct = pred
        .iter()
        .zip(&labels)
        .filter(|(p, l)| **p == f32::from(**l))
        .count();
    let accuracy = correct as f64 / n as f64;
    let mxnet = expected["test_accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - mxnet).abs() <= 0.001,
        "accuracy {accuracy}, MXNet {mxnet}"
    );
    let probs = probs.to_vec::<f32>().unwrap();
    let tol = &expected["prob_tolerance"];
    let (rtol, atol) = (tol["rtol"].as_f64().unwrap(), tol["atol"].as_f64().unwrap());
    for (i, row) in expected["first8_prob"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (j, p) in row.as_array().unwrap().iter().enumerate() {
            let (got, want) = (f64::from(probs[i * 10 + j]), p.as_f64().unwrap());
            assert!(
                (got - want).abs() <= atol + rtol * want.abs(),
                "prob[{i}][{j}] {got} vs {want}"
            );
        }
    }
}
