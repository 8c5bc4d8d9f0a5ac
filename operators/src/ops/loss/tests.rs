use mxr_kernels::DType;

use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{assert_close, assert_create_err, make_op, xorshift_f32};
use crate::registry::{OpRef, Shape, create, lookup};

fn x23() -> HostTensor {
    HostTensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 0.5, -1.0, 2.0])
}

fn x232() -> HostTensor {
    HostTensor::from_f32(&[2, 3, 2], (0..12).map(|i| i as f32 / 5.0).collect())
}

/// Forward output and data gradient of a loss op; the head gradient given is deliberately
/// not ones, to show it is ignored. Also checks the label gradient is zeros.
fn loss_run(op: &OpRef, data: HostTensor, label: HostTensor) -> (Vec<f64>, Vec<f64>) {
    assert!(op.is_loss());
    let out = run(op.as_ref(), &mut [data.clone(), label.clone()], true).unwrap();
    let head = HostTensor::from_f64_as(out[0].shape(), &vec![7.0; out[0].size()], out[0].dtype());
    let grads = gradients(op, &[data, label.clone()], &[head], true, 0).unwrap();
    let dlabel = grads[1].as_ref().expect("label gradient (zeros)");
    assert_eq!(dlabel.shape(), label.shape());
    assert!(dlabel.to_f64().iter().all(|&v| v == 0.0));
    (out[0].to_f64(), grads[0].as_ref().unwrap().to_f64())
}

const SOFTMAX23: [f64; 6] = [
    0.0900306, 0.2447285, 0.6652409, 0.1752904, 0.0391126, 0.785597,
];

#[test]
fn softmax_output_default_matches_mxnet() {
    let op = make_op("SoftmaxOutput", &[]);
    let label = HostTensor::from_f32(&[2], vec![2.0, 0.0]);
    let (out, dx) = loss_run(&op, x23(), label.clone());
    assert_close(&out, &SOFTMAX23, 0.0, 1e-6);
    assert_close(
        &dx,
        &[
            0.0900306, 0.2447285, -0.3347591, -0.8247096, 0.0391126, 0.785597,
        ],
        0.0,
        1e-6,
    );
    // The alias finds the same operator; batch normalisation halves the gradient here.
    assert_eq!(lookup("Softmax").unwrap().name, "SoftmaxOutput");
    let op = make_op(
        "Softmax",
        &[("normalization", "batch"), ("grad_scale", "3")],
    );
    assert_eq!(op.name(), "SoftmaxOutput");
    let (_, batch) = loss_run(&op, x23(), label);
    let want: Vec<f64> = dx.iter().map(|v| v * 1.5).collect();
    assert_close(&batch, &want, 0.0, 1e-6);
    // Loss layers cannot be checked against finite differences of Σ head·output.
    let err = check_gradient(&op, &[x23(), x23()], &GradCheck::default()).unwrap_err();
    assert!(err.to_string().contains("loss"), "{err}");
}

#[test]
fn softmax_output_ignore_valid_smoothing_and_out_grad_match_mxnet() {
    let label = HostTensor::from_f32(&[2], vec![2.0, -1.0]);
    // valid without use_ignore: one valid label; the −1 row subtracts nothing.
    let op = make_op("SoftmaxOutput", &[("normalization", "valid")]);
    let (_, dx) = loss_run(&op, x23(), label.clone());
    assert_close(
        &dx,
        &[
            0.0900306, 0.2447285, -0.3347591, 0.1752904, 0.0391126, 0.785597,
        ],
        0.0,
        1e-6,
    );
    // With use_ignore the ignored row gets nothing.
    let op = make_op(
        "SoftmaxOutput",
        &[
            ("normalization", "valid"),
            ("use_ignore", "True"),
            ("ignore_label", "-1"),
        ],
    );
    let (_, dx) = loss_run(&op, x23(), label);
    assert_close(
        &dx,
        &[0.0900306, 0.2447285, -0.3347591, 0.0, 0.0, 0.0],
        0.0,
        1e-6,
    );
    // Label smoothing α = 0.3, row 1 ignored (label 0).
    let op = make_op(
        "SoftmaxOutput",
        &[
            ("smooth_alpha", "0.3"),
            ("use_ignore", "True"),
            ("ignore_label", "0"),
        ],
    );
    let (_, dx) = loss_run(&op, x23(), HostTensor::from_f32(&[2], vec![2.0, 0.0]));
    assert_close(
        &dx,
        &[-0.0599694, 0.0947285, -0.034759, 0.0, 0.0, 0.0],
        0.0,
        1e-6,
    );
    // out_grad: MXNet 1.9.1 multiplies by the output.
    let op = make_op("SoftmaxOutput", &[("out_grad", "True")]);
    let (_, dx) = loss_run(&op, x23(), HostTensor::from_f32(&[2], vec![2.0, 0.0]));
    assert_close(
        &dx,
        &[
            0.0081055, 0.059892, -0.2226954, -0.1445637, 0.0015298, 0.6171627,
        ],
        0.0,
        1e-6,
    );
}

#[test]
fn softmax_output_probability_labels_match_mxnet() {
    let label = HostTensor::from_f32(&[2, 3], vec![0.2, 0.3, 0.5, 1.0, 0.0, 0.0]);
    // No normalisation for probability labels, even with normalization='batch'.
    let op = make_op(
        "SoftmaxOutput",
        &[("grad_scale", "2"), ("normalization", "batch")],
    );
    let (_, dx) = loss_run(&op, x23(), label.clone());
    assert_close(
        &dx,
        &[
            -0.2199389, -0.1105431, 0.3304819, -1.6494192, 0.0782251, 1.571194,
        ],
        0.0,
        1e-6,
    );
    let (ins, _) =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[2, 3])]).unwrap();
    assert_eq!(ins[1], Shape::known(&[2, 3]));
}

#[test]
fn softmax_output_modes_on_3d_data_match_mxnet() {
    // Default: softmax over all six non-batch elements; only the first N labels are read.
    let op = make_op("SoftmaxOutput", &[]);
    let label = HostTensor::from_f32(&[2, 3], vec![1.0, 0.0, 1.0, 2.0, 0.0, 1.0]);
    let (out, dx) = loss_run(&op, x232(), label);
    let p = [
        0.0954274, 0.1165553, 0.142361, 0.1738801, 0.2123776, 0.2593986,
    ];
    let want: Vec<f64> = p.iter().chain(&p).copied().collect();
    assert_close(&out, &want, 0.0, 1e-6);
    let mut want_dx = want.clone();
    want_dx[1] -= 1.0;
    want_dx[6] -= 1.0;
    assert_close(&dx, &want_dx, 0.0, 1e-6);

    // preserve_shape + batch + out_grad: rows of the last axis, batch = 6 rows.
    let op = make_op(
        "SoftmaxOutput",
        &[
            ("preserve_shape", "True"),
            ("out_grad", "True"),
            ("normalization", "batch"),
        ],
    );
    let label = HostTensor::from_f32(&[2, 3], vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    let (out, dx) = loss_run(&op, x232(), label);
    let (a, b) = (0.450166, 0.549834);
    assert_close(&out, &[a, b, a, b, a, b, a, b, a, b, a, b], 0.0, 1e-6);
    let (c, d, e) = (0.0337749, -0.0412528, 0.0503862);
    assert_close(&dx, &[c, d, d, e, c, d, d, e, d, e, c, d], 0.0, 1e-6);

    // multi_output + valid + use_ignore (ignore_label 1): classes on axis 1.
    let op = make_op(
        "SoftmaxOutput",
        &[
            ("multi_output", "True"),
            ("normalization", "valid"),
            ("use_ignore", "True"),
            ("ignore_label", "1"),
        ],
    );
    let label = HostTensor::from_f32(&[2, 2], vec![1.0, 0.0, 2.0, 1.0]);
    let (out, dx) = loss_run(&op, x232(), label);
    let (a, b, c) = (0.2119827, 0.3162411, 0.4717762);
    assert_close(&out, &[a, a, b, b, c, c, a, a, b, b, c, c], 0.0, 1e-6);
    assert_close(
        &dx,
        &[
            0.0, -0.3940086, 0.0, 0.1581205, 0.0, 0.2358881, 0.1059914, 0.0, 0.1581205, 0.0,
            -0.2641119, 0.0,
        ],
        0.0,
        1e-6,
    );

    // multi_output, null normalisation divides by the spatial size (2); smoothing is not
    // applied; an (N, 1, rest) label works too.
    let op = make_op(
        "SoftmaxOutput",
        &[("multi_output", "True"), ("smooth_alpha", "0.4")],
    );
    let label = HostTensor::from_f32(&[2, 1, 2], vec![1.0, 0.0, 2.0, 1.0]);
    let (_, dx) = loss_run(&op, x232(), label);
    assert_close(
        &dx,
        &[
            0.1059914, -0.3940086, -0.3418795, 0.1581205, 0.2358881, 0.2358881, 0.1059914,
            0.1059914, 0.1581205, -0.3418795, -0.2641119, 0.2358881,
        ],
        0.0,
        1e-6,
    );
}

#[test]
fn softmax_output_shapes_follow_mxnet() {
    let op = make_op("SoftmaxOutput", &[]);
    let (ins, outs) =
        infer_shapes(op.as_ref(), &[Shape::known(&[4, 5]), Shape::unknown()]).unwrap();
    assert_eq!(
        (ins[1].clone(), outs[0].clone()),
        (Shape::known(&[4]), Shape::known(&[4, 5]))
    );
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3, 4, 5]), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[2, 3, 4]));
    // Partial: (0, 3) gives label (0,); the label alone infers nothing.
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 3]), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::from_legacy(&[0]));
    assert_eq!(outs[0], Shape::from_legacy(&[0, 3]));
    let (ins, outs) = infer_shapes(op.as_ref(), &[Shape::unknown(), Shape::known(&[5])]).unwrap();
    assert_eq!(
        (ins[0].clone(), outs[0].clone()),
        (Shape::unknown(), Shape::unknown())
    );
    // The output back-fills the data.
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 3]), Shape::known(&[6])],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[6]));
    let err =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[2, 5])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("SoftmaxOutput") && msg.contains("label"),
        "{msg}"
    );

    let multi = make_op("SoftmaxOutput", &[("multi_output", "1")]);
    let (ins, _) = infer_shapes(
        multi.as_ref(),
        &[Shape::known(&[2, 3, 4, 5]), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[2, 20]));
    for ok in [&[2, 20][..], &[2, 4, 5], &[2, 1, 4, 5]] {
        infer_shapes(
            multi.as_ref(),
            &[Shape::known(&[2, 3, 4, 5]), Shape::known(ok)],
        )
        .unwrap();
    }
    let err = infer_shapes(
        multi.as_ref(),
        &[Shape::known(&[2, 3, 4, 5]), Shape::known(&[2, 3])],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("expecting (2, 20) or (2, 4, 5)"), "{msg}");

    // The backward op: [output, label] → [data_grad, label_grad].
    let back = make_op("_backward_SoftmaxOutput", &[]);
    assert_eq!(back.input_names(), vec!["output", "label"]);
    let (_, outs) =
        infer_shapes(back.as_ref(), &[Shape::known(&[4, 5]), Shape::known(&[4])]).unwrap();
    assert_eq!(outs, vec![Shape::known(&[4, 5]), Shape::known(&[4])]);
}

#[test]
fn softmax_output_rejects_bad_parameters_and_labels() {
    assert_create_err(
        "SoftmaxOutput",
        &[("normalization", "mean")],
        &["normalization", "valid"],
    );
    assert_create_err(
        "SoftmaxOutput",
        &[("smooth_alpha", "1.5")],
        &["smooth_alpha"],
    );
    assert_create_err("SoftmaxOutput", &[("grad_scale", "inf")], &["grad_scale"]);
    // Too few labels for the backward op run directly is an error, not a panic.
    let back = make_op("_backward_SoftmaxOutput", &[]);
    let out = HostTensor::from_f32(&[3, 2], vec![0.5; 6]);
    let label = HostTensor::from_f32(&[2], vec![0.0, 1.0]);
    let err = run(back.as_ref(), &mut [out, label], true).unwrap_err();
    assert!(err.to_string().contains("labels"), "{err}");
    // A class label out of range is an error naming it (MXNet's CPU kernel trains on it).
    let op = make_op("SoftmaxOutput", &[]);
    let head = HostTensor::from_f32(&[2, 3], vec![1.0; 6]);
    for bad in [3.0f32, -2.0] {
        let label = HostTensor::from_f32(&[2], vec![0.0, bad]);
        let err = gradients(&op, &[x23(), label], std::slice::from_ref(&head), true, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "label {bad} at position 1 is not a class index in 0..3"
            )),
            "{err}"
        );
    }
    // ... unless it is the ignored label.
    let op = make_op(
        "SoftmaxOutput",
        &[("use_ignore", "true"), ("ignore_label", "-1")],
    );
    let label = HostTensor::from_f32(&[2], vec![0.0, -1.0]);
    assert!(gradients(&op, &[x23(), label], &[head], true, 0).is_ok());
}

#[test]
fn softmax_output_runs_in_f64() {
    let op = make_op("SoftmaxOutput", &[]);
    let (out, dx) = loss_run(
        &op,
        x23().cast(DType::F64),
        HostTensor::from_vec(&[2], vec![2.0f64, 0.0]),
    );
    assert_close(&out, &SOFTMAX23, 0.0, 1e-7);
    assert!((dx[2] + 0.334_759_1).abs() < 1e-7);
}

#[test]
fn regression_outputs_match_mxnet() {
    let label = HostTensor::from_f32(&[2, 3], vec![0.0, 1.0, 2.0, 1.0, 1.0, 1.0]);
    let op = make_op("LinearRegressionOutput", &[("grad_scale", "3")]);
    let (out, dx) = loss_run(&op, x23(), label);
    assert_close(&out, &x23().to_f64(), 0.0, 0.0);
    assert_close(&dx, &[1.0, 1.0, 1.0, -0.5, -2.0, 1.0], 0.0, 1e-6);
    assert_eq!(
        op.attrs(),
        vec![("grad_scale".to_string(), "3.0".to_string())]
    );

    // (N, 1) data with an (N,) label.
    let op = make_op("LogisticRegressionOutput", &[]);
    let data = HostTensor::from_f32(&[2, 1], vec![0.5, -1.0]);
    let (out, dx) = loss_run(&op, data, HostTensor::from_f32(&[2], vec![1.0, 0.0]));
    assert_close(&out, &[0.6224594, 0.2689414], 0.0, 1e-6);
    assert_close(&dx, &[-0.3775406, 0.2689414], 0.0, 1e-6);

    // MAE: sign(out − label)/num_output, a tie counts as −1.
    let op = make_op("MAERegressionOutput", &[]);
    let label = HostTensor::from_f32(&[2, 3], vec![0.0, 2.0, 2.0, 1.0, 1.0, 1.0]);
    let (_, dx) = loss_run(&op, x23(), label);
    let t = 1.0 / 3.0;
    assert_close(&dx, &[t, -t, t, -t, -t, t], 0.0, 1e-6);

    for (fwd, back) in [
        ("LinearRegressionOutput", "_backward_linear_reg_out"),
        ("LogisticRegressionOutput", "_backward_logistic_reg_out"),
        ("MAERegressionOutput", "_backward_mae_reg_out"),
    ] {
        let b = make_op(back, &[]);
        assert_eq!(
            (b.name(), b.input_names()),
            (back, vec!["label".to_string(), "output".to_string()])
        );
        assert_eq!(make_op(fwd, &[]).name(), fwd);
    }
}

#[test]
fn regression_shapes_follow_mxnet() {
    let op = make_op("LinearRegressionOutput", &[]);
    let (ins, outs) =
        infer_shapes(op.as_ref(), &[Shape::known(&[2, 1]), Shape::unknown()]).unwrap();
    assert_eq!(
        (ins[1].clone(), outs[0].clone()),
        (Shape::known(&[2]), Shape::known(&[2, 1]))
    );
    let (ins, _) = infer_shapes(op.as_ref(), &[Shape::known(&[4, 3]), Shape::unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[4, 3]));
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[0, 1]), Shape::unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::from_legacy(&[0]));
    // Same first dimension and size: accepted; otherwise an error naming the shapes.
    infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3]), Shape::known(&[2, 3, 1])],
    )
    .unwrap();
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[2, 3]), Shape::known(&[6])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("LinearRegressionOutput") && msg.contains("(6,)"),
        "{msg}"
    );
    let err = create("LogisticRegressionOutput", &[("scale", "1")], None).unwrap_err();
    assert!(
        err.to_string().contains("LogisticRegressionOutput"),
        "{err}"
    );
}

#[test]
fn make_loss_matches_mxnet() {
    let data = HostTensor::from_f32(&[2, 2], vec![1.0, 0.2, 0.6, 0.5]);
    let grad_of = |attrs: &[(&str, &str)], data: &HostTensor| {
        let op = make_op("MakeLoss", attrs);
        assert!(op.is_loss());
        let out = run(op.as_ref(), &mut [data.clone()], true).unwrap();
        assert_eq!(out[0], *data, "identity forward");
        let head = HostTensor::from_f32(data.shape(), vec![5.0; data.size()]);
        gradients(&op, std::slice::from_ref(data), &[head], true, 0).unwrap()[0]
            .as_ref()
            .unwrap()
            .to_f64()
    };
    assert_eq!(grad_of(&[("grad_scale", "2.0")], &data), vec![2.0; 4]);
    // valid: 3 / count(x > 0.5) = 3 / 2.
    let valid = [
        ("normalization", "valid"),
        ("valid_thresh", "0.5"),
        ("grad_scale", "3"),
    ];
    assert_eq!(grad_of(&valid, &data), vec![1.5; 4]);
    // Nothing valid: divided by 1.
    let zeros = HostTensor::from_f32(&[2, 2], vec![0.0; 4]);
    assert_eq!(grad_of(&valid, &zeros), vec![3.0; 4]);
    let three = HostTensor::from_f32(&[3, 2], vec![1.0; 6]);
    assert_eq!(
        grad_of(&[("normalization", "batch"), ("grad_scale", "3")], &three),
        vec![1.0; 6]
    );
    let back = make_op("_backward_MakeLoss", &[]);
    assert_eq!(back.ignore_inputs(), vec![0]);
    let back = make_op("_backward_MakeLoss", &[("normalization", "valid")]);
    assert!(back.ignore_inputs().is_empty());
    assert_create_err("MakeLoss", &[("normalization", "sum")], &["normalization"]);
}

fn owned(attrs: &[(&str, String)]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn borrowed(attrs: &[(String, String)]) -> Vec<(&str, &str)> {
    attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn gpu_softmax_output_matches_cpu() {
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-6);
    // (data shape, mode, labels: class indices with -1 and 2 among them, the ignore values
    // used below).
    let cases: &[(&[usize], &str, &[f32])] = &[
        (&[4, 5], "", &[1.0, -1.0, 4.0, 2.0]),
        (&[3, 2, 2], "", &[3.0, 0.0, 2.0, 1.0, 0.0, 2.0]),
        (
            &[2, 3, 4],
            "preserve_shape",
            &[0.0, 3.0, -1.0, 2.0, 1.0, 2.0],
        ),
        (
            &[2, 3, 4],
            "multi_output",
            &[0.0, 2.0, -1.0, 1.0, 2.0, 2.0, 0.0, 1.0],
        ),
        (&[2, 1, 3], "multi_output", &[0.0, 0.0, -1.0, 0.0, 0.0, 0.0]),
        (&[1, 1], "", &[0.0]),
        (&[0, 3], "", &[]),
    ];
    for &(shape, mode, labels) in cases {
        let x = xorshift_f32(shape, 1, -2.0, 2.0);
        let mut base = vec![];
        if !mode.is_empty() {
            base.push((mode, "True".to_string()));
        }
        let fwd = create("SoftmaxOutput", &borrowed(&owned(&base)), None).unwrap();
        let lshape = infer_label_shape(shape, mode);
        let label = HostTensor::from_f32(&lshape, labels.to_vec());
        let ins = [x.clone(), label.clone()];
        gpu.check(fwd.as_ref(), &ins, &format!("forward {shape:?} {mode}"));
        let y = run(fwd.as_ref(), &mut ins.clone(), true).unwrap().remove(0);
        for norm in ["null", "batch", "valid"] {
            for (use_ignore, ignore) in [(false, "-1"), (true, "-1"), (true, "2")] {
                for (alpha, out_grad, scale) in [("0", false, "1"), ("0.1", true, "0.5")] {
                    let mut attrs = base.clone();
                    attrs.push(("normalization", norm.to_string()));
                    attrs.push(("use_ignore", use_ignore.to_string()));
                    attrs.push(("ignore_label", ignore.to_string()));
                    attrs.push(("smooth_alpha", alpha.to_string()));
                    attrs.push(("out_grad", out_grad.to_string()));
                    attrs.push(("grad_scale", scale.to_string()));
                    let attrs = owned(&attrs);
                    let back = create("_backward_SoftmaxOutput", &borrowed(&attrs), None).unwrap();
                    // The padding labels (-1 above) take the ignored value.
                    let ign: f32 = ignore.parse().unwrap();
                    let l = labels
                        .iter()
                        .map(|&v| if v == -1.0 { ign } else { v })
                        .collect();
                    let ins = [y.clone(), HostTensor::from_f32(&lshape, l)];
                    let what = format!("backward {shape:?} {attrs:?}");
                    gpu.check(back.as_ref(), &ins, &what);
                }
            }
        }
        // Probability labels, shaped like the output.
        for out_grad in ["false", "true"] {
            let attrs = [("grad_scale", "0.7"), ("out_grad", out_grad)];
            let back = make_op("_backward_SoftmaxOutput", &attrs);
            let ins = [y.clone(), xorshift_f32(shape, 5, -2.0, 2.0)];
            let what = format!("backward {shape:?} probabilities");
            gpu.check(back.as_ref(), &ins, &what);
        }
    }
}

/// The class-index label shape of `SoftmaxOutput` data.
fn infer_label_shape(shape: &[usize], mode: &str) -> Vec<usize> {
    match mode {
        "multi_output" => {
            let mut s = vec![shape[0]];
            s.extend_from_slice(&shape[2..]);
            s
        }
        _ => shape[..shape.len() - 1].to_vec(),
    }
}

#[test]
fn gpu_softmax_output_rejects_bad_labels_like_cpu() {
    use crate::check::gpu::{run_gpu_seeded, test_device};
    let dev = test_device().unwrap();
    let back = make_op("_backward_SoftmaxOutput", &[]);
    let y = xorshift_f32(&[4, 3], 1, -2.0, 2.0);
    for labels in [
        [0.0, 3.0, 1.0, 7.0],
        [0.0, 1.0, -2.0, 1.0],
        [f32::NAN, 1.0, 0.0, 1.0],
    ] {
        let label = HostTensor::from_f32(&[4], labels.to_vec());
        let cpu = run(back.as_ref(), &mut [y.clone(), label.clone()], true).unwrap_err();
        let gpu =
            run_gpu_seeded(back.as_ref(), &dev, &mut [y.clone(), label], true, 7).unwrap_err();
        assert_eq!(gpu.to_string(), cpu.to_string(), "labels {labels:?}");
    }
}

#[test]
fn gpu_regression_and_make_loss_match_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let cases: &[(&[usize], &[usize])] = &[
        (&[4, 3], &[4, 3]),
        (&[5, 1], &[5]),
        (&[1], &[1]),
        (&[0, 2], &[0, 2]),
    ];
    for kind in ["Linear", "Logistic", "MAE"] {
        let (fwd, back) = match kind {
            "Linear" => ("LinearRegressionOutput", "_backward_linear_reg_out"),
            "Logistic" => ("LogisticRegressionOutput", "_backward_logistic_reg_out"),
            _ => ("MAERegressionOutput", "_backward_mae_reg_out"),
        };
        for &(shape, lshape) in cases {
            let attrs = [("grad_scale", "0.3")];
            let x = xorshift_f32(shape, 1, -2.0, 2.0);
            let mut label = xorshift_f32(lshape, 2, -2.0, 2.0);
            let fop = make_op(fwd, &attrs);
            let ins = [x.clone(), label.clone()];
            compare_with_cpu(fop.as_ref(), &dev, &ins, true, 1e-6, 1e-7)
                .unwrap_or_else(|e| panic!("{fwd} {shape:?}: {e}"));
            let y = run(fop.as_ref(), &mut ins.clone(), true).unwrap().remove(0);
            if kind == "MAE" && !y.to_f32().is_empty() {
                // A tie (out == label) gives −1, as MXNet.
                let mut l = label.to_f32();
                l[0] = y.to_f32()[0];
                label = HostTensor::from_f32(lshape, l);
            }
            let bop = make_op(back, &attrs);
            compare_with_cpu(bop.as_ref(), &dev, &[label, y], true, 1e-6, 1e-7)
                .unwrap_or_else(|e| panic!("{back} {shape:?}: {e}"));
        }
    }
    for &(shape, _) in cases {
        let x = xorshift_f32(shape, 3, -2.0, 2.0);
        let fop = make_op("MakeLoss", &[]);
        compare_with_cpu(fop.as_ref(), &dev, std::slice::from_ref(&x), true, 0.0, 0.0)
            .unwrap_or_else(|e| panic!("MakeLoss {shape:?}: {e}"));
        for norm in ["null", "batch", "valid"] {
            for thresh in ["0", "0.5", "10"] {
                let attrs = [
                    ("grad_scale", "0.7"),
                    ("normalization", norm),
                    ("valid_thresh", thresh),
                ];
                let bop = make_op("_backward_MakeLoss", &attrs);
                compare_with_cpu(bop.as_ref(), &dev, std::slice::from_ref(&x), true, 0.0, 0.0)
                    .unwrap_or_else(|e| panic!("_backward_MakeLoss {shape:?} {attrs:?}: {e}"));
            }
        }
    }
}
