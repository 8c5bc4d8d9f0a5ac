//! ConvTranspose ↔ `Deconvolution` and LayerNormalization ↔ `LayerNorm`: import against
//! onnxruntime, the cases mxr refuses, and export of the two registry operators.

use mxr_frontend::sym::{NamedArrays, Symbol};

use super::nets::{self, assert_close, build_op as op, forward, temp_dir};
use super::python;
use super::single_ops::{Case, case, compare_with_onnxruntime, float, int, ints, node, weights};

fn cases() -> Vec<Case> {
    let one = |op: &str, inputs: &[&str], attrs| vec![node(op, inputs, "y", attrs)];
    vec![
        case(
            "conv_transpose_strided_padded",
            13,
            &[1, 2, 4, 4],
            one(
                "ConvTranspose",
                &["data", "w", "b"],
                vec![
                    ints("strides", &[2, 2]),
                    ints("pads", &[1, 1, 1, 1]),
                    ints("output_padding", &[1, 1]),
                ],
            ),
            vec![weights("w", &[2, 3, 3, 3], 1), weights("b", &[3], 2)],
        ),
        case(
            // Asymmetric pads: a Deconvolution padded by the smaller side, then a crop.
            "conv_transpose_asymmetric_dilated",
            11,
            &[1, 2, 4, 5],
            one(
                "ConvTranspose",
                &["data", "w"],
                vec![
                    ints("strides", &[2, 1]),
                    ints("dilations", &[1, 2]),
                    ints("pads", &[0, 2, 1, 0]),
                ],
            ),
            vec![weights("w", &[2, 2, 3, 3], 3)],
        ),
        case(
            "conv_transpose_grouped",
            13,
            &[1, 4, 3, 3],
            one(
                "ConvTranspose",
                &["data", "w", "b"],
                vec![int("group", 2), ints("strides", &[2, 2])],
            ),
            vec![weights("w", &[4, 3, 2, 2], 4), weights("b", &[6], 5)],
        ),
        case(
            // output_shape 8×8 from 4×4 (stride 2, kernel 3: 9 positions): one unit of
            // padding, at the beginning by ONNX's rule.
            "conv_transpose_output_shape",
            13,
            &[1, 2, 4, 4],
            one(
                "ConvTranspose",
                &["data", "w"],
                vec![ints("strides", &[2, 2]), ints("output_shape", &[8, 8])],
            ),
            vec![weights("w", &[2, 1, 3, 3], 6)],
        ),
        case(
            "conv_transpose_1d",
            13,
            &[2, 3, 5],
            one(
                "ConvTranspose",
                &["data", "w"],
                vec![ints("strides", &[3]), ints("pads", &[1, 1])],
            ),
            vec![weights("w", &[3, 2, 4], 7)],
        ),
        case(
            "layer_norm_last_axis",
            17,
            &[2, 3, 4],
            one(
                "LayerNormalization",
                &["data", "scale", "bias"],
                vec![float("epsilon", 1e-3)],
            ),
            vec![weights("scale", &[4], 8), weights("bias", &[4], 9)],
        ),
        case(
            // Normalised over axes 1 and 2 together; no bias.
            "layer_norm_two_axes",
            17,
            &[2, 3, 4],
            one(
                "LayerNormalization",
                &["data", "scale"],
                vec![int("axis", 1)],
            ),
            vec![weights("scale", &[3, 4], 10)],
        ),
    ]
}

#[test]
fn transposed_convolution_and_layer_norm_models_match_onnxruntime() {
    let Some(ort) = python::onnxruntime() else {
        return;
    };
    let dir = temp_dir("layer-ops");
    let mut models = Vec::new();
    for c in cases() {
        let path = dir.join(c.name).with_extension("onnx");
        std::fs::write(path, prost::Message::encode_to_vec(&c.model())).unwrap();
        models.push((c.name.to_owned(), c.shape.clone()));
    }
    compare_with_onnxruntime(&ort, &dir, &models);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn transposed_convolution_and_layer_norm_refusals_name_the_node() {
    let refused = |name, opset, nodes, inits, want: &str| {
        let c = case(name, opset, &[1, 2, 4, 4], nodes, inits);
        let e = mxr_onnx::import_model(c.model(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{name}: {e}");
        assert!(e.contains("y_node"), "{name} names the node: {e}");
    };
    let too_big = vec![node(
        "ConvTranspose",
        &["data", "w"],
        "y",
        vec![ints("output_shape", &[20, 20])],
    )];
    refused(
        "output_shape_too_big",
        13,
        too_big,
        vec![weights("w", &[2, 1, 3, 3], 1)],
        "is larger than the 6 positions axis 2 can produce",
    );
    let mut stats = node("LayerNormalization", &["data", "scale"], "y", vec![]);
    stats.output.push("mean".into());
    refused(
        "layer_norm_statistics",
        17,
        vec![stats],
        vec![weights("scale", &[4], 2)],
        "the Mean and InvStdDev outputs do not convert",
    );
}

/// A network of Deconvolution (one with `target_shape`) and LayerNorm (the last axis and the
/// channel axis) over data (2, 3, 4, 4).
fn layer_net() -> (Symbol, NamedArrays) {
    let data = Symbol::variable("data");
    let up = op(
        "Deconvolution",
        &[&data],
        &[
            ("kernel", "(3, 3)"),
            ("stride", "(2, 2)"),
            ("pad", "(1, 1)"),
            ("adj", "(1, 1)"),
            ("num_filter", "4"),
            ("no_bias", "False"),
        ],
        "up",
    );
    let ln = op("LayerNorm", &[&up], &[("eps", "0.001")], "ln");
    let back = op(
        "Deconvolution",
        &[&ln],
        &[
            ("kernel", "(2, 2)"),
            ("stride", "(2, 2)"),
            ("target_shape", "(15, 15)"),
            ("num_filter", "2"),
            ("num_group", "2"),
        ],
        "back",
    );
    let net = op("LayerNorm", &[&back], &[("axis", "1")], "y");
    let args = nets::params_for(&net, &[("data", &[2, 3, 4, 4])]);
    (net, args)
}

#[test]
fn deconvolution_and_layer_norm_export_and_come_back() {
    let (net, args) = layer_net();
    let shape = [2usize, 3, 4, 4];
    let dir = temp_dir("layer-export");
    let input = nets::values(96, 11, 1.0);
    let want = forward(&net, &args, &vec![], &shape, &input);
    assert_eq!(want.len(), 2 * 2 * 15 * 15);
    let model = dir.join("layers.onnx");
    mxr_onnx::export(&net, &args, &[], &[("data", &shape)], &model).unwrap();
    // LayerNorm comes back as its decomposition (ReduceMean, Sub, …): equal up to rounding.
    let (back, back_args, aux) = mxr_onnx::import(&model).unwrap();
    let got = forward(&back, &back_args, &aux, &shape, &input);
    assert_close(&got, &want, 1e-4, 1e-5, "round trip");
    if let Some(ort) = python::onnxruntime() {
        let got = python::run_onnxruntime(&ort, &model, &input, &shape);
        assert_close(&got, &want, 1e-4, 1e-5, "onnxruntime vs mxr");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
