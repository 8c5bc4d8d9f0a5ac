//! Malformed and unsupported models: each a clear error, never a panic.

use mxr_onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, ValueInfoProto,
};
use prost::Message;

fn model(
    opset: i64,
    nodes: Vec<NodeProto>,
    init: Vec<TensorProto>,
    outputs: &[&str],
) -> ModelProto {
    let value = |n: &str| ValueInfoProto {
        name: Some(n.into()),
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(GraphProto {
            node: nodes,
            initializer: init,
            input: vec![value("x")],
            output: outputs.iter().map(|n| value(n)).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn import_err(m: &ModelProto) -> String {
    mxr_onnx::import_model(m.clone(), None)
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_operators_name_the_node() {
    let m = model(
        13,
        vec![node("Einsum", "mix", &["x"], &["y"])],
        vec![],
        &["y"],
    );
    let e = import_err(&m);
    assert!(
        e.contains("node \"mix\" (Einsum)") && e.contains("not supported"),
        "{e}"
    );
}

#[test]
fn opsets_outside_11_to_19_are_refused() {
    for opset in [10, 20] {
        let m = model(
            opset,
            vec![node("Relu", "r", &["x"], &["y"])],
            vec![],
            &["y"],
        );
        let e = import_err(&m);
        assert!(e.contains(&format!("opset {opset}")), "{e}");
    }
}

#[test]
fn missing_inputs_and_outputs_are_errors() {
    let m = model(
        13,
        vec![node("Relu", "r", &["nowhere"], &["y"])],
        vec![],
        &["y"],
    );
    let e = import_err(&m);
    assert!(e.contains("\"nowhere\""), "{e}");
    let m = model(13, vec![node("Relu", "r", &["x"], &["y"])], vec![], &["z"]);
    assert!(import_err(&m).contains("\"z\" is produced by no node"));
}

#[test]
fn unsupported_attributes_are_named() {
    let mut n = node("Relu", "r", &["x"], &["y"]);
    n.attribute.push(mxr_onnx::proto::AttributeProto {
        name: Some("extra".into()),
        ..Default::default()
    });
    let e = import_err(&model(13, vec![n], vec![], &["y"]));
    assert!(e.contains("attribute `extra`"), "{e}");
}

#[test]
fn initializers_whose_size_differs_from_their_dims_are_errors() {
    let w = TensorProto {
        name: Some("w".into()),
        dims: vec![2, 2],
        data_type: Some(1),
        float_data: vec![1.0; 3],
        ..Default::default()
    };
    let m = model(
        13,
        vec![node("Add", "a", &["x", "w"], &["y"])],
        vec![w],
        &["y"],
    );
    let e = import_err(&m);
    assert!(
        e.contains("tensor \"w\"") && e.contains("3 values for dims [2, 2]"),
        "{e}"
    );
}

#[test]
fn truncated_and_corrupt_files_are_errors() {
    let m = model(13, vec![node("Relu", "r", &["x"], &["y"])], vec![], &["y"]);
    let bytes = m.encode_to_vec();
    let dir = std::env::temp_dir().join(format!("mxr-onnx-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.onnx");
    for cut in 1..bytes.len() {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        // Every prefix either decodes to a smaller model (and imports or fails cleanly) or is
        // a decode error; none panics.
        let _ = mxr_onnx::import(&path);
    }
    std::fs::write(&path, b"\xff\xff\xff\xff garbage").unwrap();
    let e = mxr_onnx::import(&path).unwrap_err().to_string();
    assert!(e.contains("not a valid ONNX model"), "{e}");
    let e = mxr_onnx::import(dir.join("absent.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent.onnx"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conversions_mxr_cannot_express_are_refused_by_name() {
    use super::single_ops::{Case, int, ints, node, string, weights};
    let refused = |c: Case, want: &str| {
        let e = mxr_onnx::import_model(c.model(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{}: {e}", c.name);
    };
    let case = |name, nodes, inits| Case {
        name,
        opset: 13,
        shape: vec![1, 2, 6, 6],
        nodes,
        inits,
    };
    let conv = |attrs| vec![node("Conv", &["data", "w"], "y", attrs)];
    // Average pooling without the padding counted refuses asymmetric padding (max pooling
    // and Convolution take a Pad before them).
    let avg_pool = |attrs| vec![node("AveragePool", &["data"], "y", attrs)];
    refused(
        case(
            "asymmetric",
            avg_pool(vec![
                ints("kernel_shape", &[3, 3]),
                ints("pads", &[0, 0, 1, 1]),
            ]),
            vec![],
        ),
        "attribute `count_include_pad`: 0 (the default) with asymmetric padding [0, 0, 1, 1]",
    );
    refused(
        case(
            "same_even",
            avg_pool(vec![
                ints("kernel_shape", &[2, 2]),
                string("auto_pad", "SAME_UPPER"),
            ]),
            vec![],
        ),
        "asymmetric padding",
    );
    refused(
        case(
            "auto_pad",
            conv(vec![string("auto_pad", "MIDDLE")]),
            vec![weights("w", &[2, 2, 3, 3], 1)],
        ),
        "attribute `auto_pad`: \"MIDDLE\"",
    );
    let pool = vec![node(
        "MaxPool",
        &["data"],
        "y",
        vec![ints("kernel_shape", &[2, 2]), ints("dilations", &[2, 2])],
    )];
    refused(
        case("dilated_pool", pool, vec![]),
        "MXNet's Pooling has no dilation",
    );
    let bn = vec![node(
        "BatchNormalization",
        &["data", "w", "w", "w", "w"],
        "y",
        vec![int("training_mode", 1)],
    )];
    refused(
        case("bn_training", bn, vec![weights("w", &[2], 1)]),
        "attribute `training_mode`",
    );
}

/// Squeeze and Unsqueeze of an input of unknown shape become mxr's squeeze and expand_dims.
#[test]
fn squeeze_and_unsqueeze_without_known_shapes() {
    use super::single_ops::{Case, int64s, node};
    let c = Case {
        name: "squeeze_unknown",
        opset: 13,
        shape: vec![1, 3, 1],
        nodes: vec![
            node("Squeeze", &["data", "sq"], "s", vec![]),
            node("Unsqueeze", &["s", "un"], "y", vec![]),
        ],
        inits: vec![int64s("sq", &[2], &[0, -1]), int64s("un", &[2], &[2, 0])],
    };
    let mut m = c.model();
    let graph = m.graph.as_mut().unwrap();
    graph.input[0].r#type = None; // the shape is unknown at import
    let (sym, _, _) = mxr_onnx::import_model(m, None).unwrap();
    let json = sym.to_json().unwrap();
    assert!(
        json.contains("\"squeeze\"") && json.contains("(0, -1)"),
        "{json}"
    );
    assert_eq!(json.matches("\"expand_dims\"").count(), 2, "{json}");
}
