//! Export of `Cast`, `Pad`, `_maximum`/`_minimum`, `ones_like`/`zeros_like`, `pick`,
//! `reshape_like`, `slice`, `squeeze`, `take`, `MakeLoss` and `MAERegressionOutput`: networks
//! of them exported, run in onnxruntime against mxr's own output, and imported back; the
//! operators ONNX cannot express are refused by name.

use mxr_frontend::nd::NDArray;
use mxr_frontend::sym::{NamedArrays, Symbol};

use super::nets::{self, assert_close, build_op as op, forward, temp_dir};
use super::python;
use super::single_ops::{case, floats, int, int64s, node};

/// `x` cast to `dtype` and back to float32.
fn cast_round(x: &Symbol, dtype: &str, name: &str) -> Symbol {
    let there = op("Cast", &[x], &[("dtype", dtype)], &format!("{name}_to"));
    op("Cast", &[&there], &[("dtype", "float32")], name)
}

/// A float32 parameter of `dims` holding `v` (indices for pick and take).
fn param(name: &str, dims: &[usize], v: &[f32]) -> (String, NDArray) {
    (
        name.to_owned(),
        NDArray::from_vec(dims, v.to_vec()).unwrap(),
    )
}

/// The network over data (2, 3, 4, 5): casts through every integer dtype and float64
/// combined by `_maximum`/`_minimum`, the three Pad modes, a strided slice with None and
/// negative bounds, `pick` (clip and keepdims; wrap with the index holding the axis),
/// `squeeze`, `take` in its three modes, `reshape_like` (whole and by ranges), `ones_like`,
/// `zeros_like`, and `MakeLoss` at the head.
fn more_net() -> (Symbol, NamedArrays) {
    let data = Symbol::variable("data");
    let big = op("_mul_scalar", &[&data], &[("scalar", "10")], "big");
    let positive = op("abs", &[&big], &[], "positive");
    let i32s = cast_round(&big, "int32", "i32s");
    let u8s = cast_round(&positive, "uint8", "u8s");
    let i8s = cast_round(&big, "int8", "i8s");
    let i64s = cast_round(&big, "int64", "i64s");
    let f64s = cast_round(&data, "float64", "f64s");
    let hi = op("_maximum", &[&i32s, &u8s], &[], "hi");
    let lo = op("_minimum", &[&i8s, &i64s], &[], "lo");
    let both = op("elemwise_add", &[&hi, &lo], &[], "both");
    let mixed = op("elemwise_add", &[&both, &f64s], &[], "mixed");
    let pad = |x: &Symbol, mode: &str, width: &str, name: &str| {
        let params = [
            ("mode", mode),
            ("pad_width", width),
            ("constant_value", "0.5"),
        ];
        op("Pad", &[x], &params, name)
    };
    let padded = pad(&mixed, "constant", "(0, 0, 0, 0, 1, 2, 2, 1)", "padded");
    let edged = pad(&padded, "edge", "(0, 0, 0, 0, 0, 1, 1, 0)", "edged");
    let reflected = pad(&edged, "reflect", "(0, 0, 0, 0, 2, 1, 1, 2)", "reflected");
    // (2, 3, 11, 11) sliced to (2, 2, 5, 5).
    let sliced = op(
        "slice",
        &[&reflected],
        &[
            ("begin", "(None, 1, -10, None)"),
            ("end", "(None, None, None, 1)"),
            ("step", "(1, 1, 2, -2)"),
        ],
        "sliced",
    );
    let pick_clip = Symbol::variable("pick_clip");
    let kept = op(
        "pick",
        &[&sliced, &pick_clip],
        &[("axis", "1"), ("keepdims", "True")],
        "kept",
    );
    let squeezed = op("squeeze", &[&kept], &[("axis", "(1,)")], "squeezed");
    let pick_wrap = Symbol::variable("pick_wrap");
    let wrapped = op(
        "pick",
        &[&squeezed, &pick_wrap],
        &[("axis", "-1"), ("mode", "wrap")],
        "wrapped",
    );
    let (t1, t2, t3) = (
        Symbol::variable("take_clip"),
        Symbol::variable("take_wrap"),
        Symbol::variable("take_raise"),
    );
    let taken = op("take", &[&wrapped, &t1], &[("axis", "1")], "taken");
    let taken = op(
        "take",
        &[&taken, &t2],
        &[("axis", "-1"), ("mode", "wrap")],
        "taken_wrap",
    );
    let taken = op("take", &[&taken, &t3], &[("mode", "raise")], "taken_raise");
    // taken is (2, 2): reshaped like a (1, 4) parameter, then its last axis split as
    // ones_like(taken), (2, 2), says: (1, 2, 2).
    let like = Symbol::variable("like");
    let flat = op("reshape_like", &[&taken, &like], &[], "flat");
    let ones = op("ones_like", &[&taken], &[], "ones");
    let split = op(
        "reshape_like",
        &[&flat, &ones],
        &[("lhs_begin", "-1"), ("rhs_begin", "0")],
        "split",
    );
    let zeros = op("zeros_like", &[&split], &[], "zeros");
    let sum = op("broadcast_add", &[&split, &ones], &[], "sum");
    let sum = op("elemwise_add", &[&sum, &zeros], &[], "sum2");
    let net = op("MakeLoss", &[&sum], &[], "y");
    let picks: Vec<f32> = (0..50).map(|i| (i % 5) as f32 - 1.0).collect();
    let args = vec![
        // Out of range both ways: clipped to 0 and 1.
        param("pick_clip", &[2, 5, 5], &picks),
        // Negative and past the end: wrapped.
        param(
            "pick_wrap",
            &[2, 5, 1],
            &[-1.0, 5.0, 7.0, 2.0, -6.0, 0.0, 3.0, 4.0, -2.0, 9.0],
        ),
        param("take_clip", &[3], &[-1.0, 9.0, 2.0]),
        param("take_wrap", &[2], &[-1.0, 7.0]),
        param("take_raise", &[2], &[1.0, 0.0]),
        param("like", &[1, 4], &[0.0; 4]),
    ];
    (net, args)
}

#[test]
fn casting_padding_slicing_and_picking_export_and_come_back() {
    let (net, args) = more_net();
    let shape = [2usize, 3, 4, 5];
    let dir = temp_dir("more-export");
    let input = nets::values(120, 21, 1.0);
    let want = forward(&net, &args, &vec![], &shape, &input);
    assert_eq!(want.len(), 4);
    let model = dir.join("more.onnx");
    mxr_onnx::export(&net, &args, &[], &[("data", &shape)], &model).unwrap();
    let ort = python::onnxruntime().expect("onnxruntime");
    let got = python::run_onnxruntime(&ort, &model, &input, &shape);
    assert_eq!(got, want, "onnxruntime vs mxr");
    let (back, back_args, aux) = mxr_onnx::import(&model).unwrap();
    let got = forward(&back, &back_args, &aux, &shape, &input);
    assert_eq!(got, want, "round trip");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mae_regression_output_and_float16_casts_export() {
    let data = Symbol::variable("data");
    let total = op("sum", &[&data], &[("axis", "(1, 2)")], "total");
    let net = op("MAERegressionOutput", &[&total], &[], "y");
    let shape = [2usize, 3, 4];
    let input = nets::values(24, 5, 1.0);
    let dir = temp_dir("more-mae");
    let want = forward(&net, &vec![], &vec![], &shape, &input);
    let model = dir.join("mae.onnx");
    mxr_onnx::export(&net, &[], &[], &[("data", &shape)], &model).unwrap();
    let ort = python::onnxruntime().expect("onnxruntime");
    assert_eq!(python::run_onnxruntime(&ort, &model, &input, &shape), want);
    let (back, args, aux) = mxr_onnx::import(&model).unwrap();
    assert_eq!(
        forward(&back, &args, &aux, &shape, &input),
        want,
        "round trip"
    );
    // Through float16 and back: each value rounded to the nearest float16 (ties to even).
    // onnxruntime's graph optimizer drops such a pair of Casts, so its output is only within
    // float16's 2^-11 of the input; import keeps the casts.
    let half = cast_round(&data, "float16", "y");
    let want = forward(&half, &vec![], &vec![], &shape, &input);
    let rounded: Vec<f32> = input
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    assert_eq!(want, rounded, "float16 round in mxr");
    let model = dir.join("half.onnx");
    mxr_onnx::export(&half, &[], &[], &[("data", &shape)], &model).unwrap();
    let got = python::run_onnxruntime(&ort, &model, &input, &shape);
    assert_close(&got, &input, 4.9e-4, 0.0, "float16 round in onnxruntime");
    let (back, args, aux) = mxr_onnx::import(&model).unwrap();
    assert_eq!(
        forward(&back, &args, &aux, &shape, &input),
        want,
        "float16 round trip"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn operators_onnx_cannot_express_are_refused_by_name() {
    let data = Symbol::variable("data");
    let noise = op("_random_uniform", &[], &[("shape", "(2, 3)")], "noise");
    let net = op("elemwise_add", &[&data, &noise], &[], "y");
    let e = mxr_onnx::export_model(&net, &[], &[], &[("data", &[2, 3])])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("_random_uniform") && e.contains("random generator"),
        "{e}"
    );
    let refused = |name, nodes, inits, want: &str| {
        let c = case(name, 13, &[2, 3, 4], nodes, inits);
        let e = mxr_onnx::import_model(c.model(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{name}: {e}");
        assert!(e.contains("y_node"), "{name} names the node: {e}");
    };
    // GatherElements with two positions per lane: pick reads one.
    refused(
        "gather_elements_two_per_lane",
        vec![node(
            "GatherElements",
            &["data", "idx"],
            "y",
            vec![int("axis", 1)],
        )],
        vec![int64s("idx", &[2, 2, 4], &[0; 16])],
        "do not convert: mxr's pick reads indices of the data's dims [2, 3, 4] with size 1",
    );
    refused(
        "gather_elements_out_of_range",
        vec![node(
            "GatherElements",
            &["data", "idx"],
            "y",
            vec![int("axis", -1)],
        )],
        vec![int64s("idx", &[2, 3, 1], &[0, 1, 2, 3, -4, 4])],
        "index 4 is out of range for axis 2 of size 4",
    );
    refused(
        "mod_of_computed_values",
        vec![node("Mod", &["data", "m"], "y", vec![int("fmod", 1)])],
        vec![floats("m", &[], &[2.0])],
        "Mod of computed values does not convert",
    );
}

#[test]
fn squeeze_without_axes_exports_as_mxnet_squeezes() {
    let data = Symbol::variable("data");
    // (2, 3, 4) with size-1 axes added at 0 and 2, squeezed back; and all of (1, 1, 1)
    // squeezed, which MXNet leaves as (1,).
    let wide = op("expand_dims", &[&data], &[("axis", "0")], "wide");
    let wide = op("expand_dims", &[&wide], &[("axis", "2")], "wider");
    let back = op("squeeze", &[&wide], &[], "y");
    let total = op(
        "sum",
        &[&data],
        &[("axis", "(1, 2)"), ("keepdims", "True")],
        "total",
    );
    let first = op(
        "slice_axis",
        &[&total],
        &[("axis", "0"), ("begin", "0"), ("end", "1")],
        "first",
    );
    let single = op("squeeze", &[&first], &[], "y");
    let shape = [2usize, 3, 4];
    let input = nets::values(24, 9, 1.0);
    let dir = temp_dir("more-squeeze");
    let ort = python::onnxruntime().expect("onnxruntime");
    for (name, net, len) in [("back", back, 24), ("single", single, 1)] {
        let want = forward(&net, &vec![], &vec![], &shape, &input);
        assert_eq!(want.len(), len, "{name}");
        let model = dir.join(name).with_extension("onnx");
        mxr_onnx::export(&net, &[], &[], &[("data", &shape)], &model).unwrap();
        // The values alone cannot tell (1,) from a 0-D result: the last node says.
        let proto = mxr_onnx::export_model(&net, &[], &[], &[("data", &shape)]).unwrap();
        let last = proto.graph.unwrap().node.pop().unwrap();
        let want_op = if len == 1 { "Reshape" } else { "Squeeze" };
        assert_eq!(last.op_type(), want_op, "{name}");
        let got = python::run_onnxruntime(&ort, &model, &input, &shape);
        assert_eq!(got, want, "{name}: onnxruntime vs mxr");
        let (back, args, aux) = mxr_onnx::import(&model).unwrap();
        let got = forward(&back, &args, &aux, &shape, &input);
        assert_eq!(got, want, "{name}: round trip");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
