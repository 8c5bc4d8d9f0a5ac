use mxr_kernels::DType;

use crate::check::{
    GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run, run_seeded,
};
use crate::ops::test_util::{
    added, assert_close, assert_create_err, backward_graph, cpu_ctx, input, make_op, ograd, output,
};
use crate::registry::{OpRef, Shape, create};

const X5: [f32; 5] = [-2.0, -0.5, 0.0, 0.5, 2.0];

/// Runs `op` on [`X5`] and backward for a head gradient of ones, compares both with MXNet's
/// `want_y` and `want_dx` (within `tol * (1 + |want|)`) and checks that computing in place
/// gives the same output.
fn check_on_x5(op: &OpRef, want_y: &[f64], want_dx: &[f64], tol: f64, what: &str) {
    let x = HostTensor::from_f32(&[5], X5.to_vec());
    let ones = HostTensor::from_f32(&[5], vec![1.0; 5]);
    let y = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_close(&y[0].to_f64(), want_y, tol, tol);
    let dx = gradients(op, std::slice::from_ref(&x), &[ones], true, 0).unwrap();
    assert_close(&dx[0].as_ref().unwrap().to_f64(), want_dx, tol, tol);
    let mut z = x;
    op.forward_inplace(&mut cpu_ctx(), &mut z.view_mut())
        .unwrap()
        .unwrap();
    assert_eq!(z, y[0], "{what}");
}

#[test]
fn activation_matches_mxnet() {
    // Printed by MXNet 1.9.1: Activation(x) and its gradient for a head gradient of ones.
    let cases: [(&str, [f64; 5], [f64; 5]); 5] = [
        ("relu", [0.0, 0.0, 0.0, 0.5, 2.0], [0.0, 0.0, 0.0, 1.0, 1.0]),
        (
            "sigmoid",
            [0.119_202_92, 0.377_540_65, 0.5, 0.622_459_35, 0.880_797_1],
            [0.104_993_58, 0.235_003_71, 0.25, 0.235_003_71, 0.104_993_57],
        ),
        (
            "tanh",
            [-0.964_027_6, -0.462_117_16, 0.0, 0.462_117_16, 0.964_027_6],
            [0.070_650_816, 0.786_447_7, 1.0, 0.786_447_7, 0.070_650_816],
        ),
        (
            "softrelu",
            [
                0.126_928_09,
                0.474_076_99,
                0.693_147_24,
                0.974_077,
                2.126_927_9,
            ],
            [0.119_202_92, 0.377_540_65, 0.5, 0.622_459_35, 0.880_797_1],
        ),
        (
            "softsign",
            [-0.666_666_7, -0.333_333_34, 0.0, 0.333_333_34, 0.666_666_7],
            [0.111_111_11, 0.444_444_45, 1.0, 0.444_444_45, 0.111_111_11],
        ),
    ];
    for (act, want_y, want_dx) in cases {
        let op = make_op("Activation", &[("act_type", act)]);
        assert_eq!(op.name(), "Activation");
        assert_eq!(op.attrs(), vec![("act_type".to_string(), act.to_string())]);
        check_on_x5(&op, &want_y, &want_dx, 1e-6, act);
    }
}

#[test]
fn activation_gradients_and_graphs() {
    let x = HostTensor::from_vec(&[2, 3], vec![-1.3f64, 0.8, -0.4, 2.2, -0.6, 1.1]);
    for act in ["relu", "sigmoid", "tanh", "softrelu", "softsign"] {
        let op = make_op("Activation", &[("act_type", act)]);
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default())
            .unwrap_or_else(|e| panic!("{act}: {e}"));
        let (nodes, grads) = backward_graph(&op);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].op, "_backward_Activation");
        // MXNet 1.9.1 (MKLDNN build): relu passes (g, y), the others (g, y, x).
        let want = if act == "relu" {
            vec![ograd(0), output(0)]
        } else {
            vec![ograd(0), output(0), input(0)]
        };
        assert_eq!(nodes[0].inputs, want, "{act}");
        assert_eq!(grads, vec![Some(added(0, 0))]);
        let back = make_op("_backward_Activation", &[("act_type", act)]);
        assert_eq!(back.num_inputs(), want.len());
    }
}

#[test]
fn activation_parameters_are_checked() {
    assert_create_err("Activation", &[], &["Activation", "act_type"]);
    // Enum names are case-sensitive, as in MXNet.
    assert_create_err("Activation", &[("act_type", "ReLU")], &["ReLU", "'relu'"]);
    let err = create("_backward_Activation", &[("act_type", "gelu")], None).unwrap_err();
    assert!(err.to_string().contains("_backward_Activation"), "{err}");
    // Integers are not activations' business, but the ops still dispatch cleanly.
    let op = make_op("Activation", &[("act_type", "relu")]);
    let xi = HostTensor::from_vec(&[2], vec![-1i32, 2]);
    assert_eq!(
        run(op.as_ref(), &mut [xi], false).unwrap()[0].to_f64(),
        vec![0.0, 2.0]
    );
}

#[test]
fn leaky_family_matches_mxnet() {
    // Printed by MXNet 1.9.1: LeakyReLU(x, act_type, slope=0.3), gradient for ones.
    let cases: [(&str, [f64; 5], [f64; 5]); 4] = [
        (
            "leaky",
            [-0.6, -0.15, 0.0, 0.5, 2.0],
            [0.3, 0.3, 0.3, 1.0, 1.0],
        ),
        (
            "elu",
            [-0.259_399_44, -0.118_040_82, 0.0, 0.5, 2.0],
            [0.040_600_587, 0.181_959_18, 0.3, 1.0, 1.0],
        ),
        (
            "selu",
            [-1.520_166_5, -0.691_758_2, 0.0, 0.525_350_5, 2.101_402],
            [0.160_858_84, 1.031_268_2, 1.758_099_3, 1.050_701, 1.050_701],
        ),
        (
            "gelu",
            [-0.045_500_096, -0.154_268_77, 0.0, 0.345_731_2, 1.954_499_8],
            [-0.085_231_87, 0.132_504_91, 0.5, 0.867_495_06, 1.085_231_9],
        ),
    ];
    for (act, want_y, want_dx) in cases {
        let op = make_op("LeakyReLU", &[("act_type", act), ("slope", "0.3")]);
        check_on_x5(&op, &want_y, &want_dx, 2e-6, act);
        assert!(op.is_inplace_unary());
        let (nodes, _) = backward_graph(&op);
        assert_eq!(nodes[0].op, "_backward_LeakyReLU");
        assert_eq!(nodes[0].inputs, vec![ograd(0), input(0), output(0)]);
    }
}

#[test]
fn leaky_gradients_match_finite_differences() {
    let x = HostTensor::from_vec(&[2, 3], vec![-1.3f64, 0.8, -0.4, 2.2, -0.6, 1.1]);
    // selu keeps MXNet's (inexact) gradient formula and is checked against MXNet above.
    for act in ["leaky", "elu", "gelu"] {
        let op = make_op("LeakyReLU", &[("act_type", act), ("slope", "0.2")]);
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default())
            .unwrap_or_else(|e| panic!("{act}: {e}"));
    }
    // Default act_type is leaky with slope 0.25.
    let op = make_op("LeakyReLU", &[]);
    let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(out[0].to_f64()[0], -1.3 * f64::from(0.25f32));
    assert!(op.attrs().is_empty());
}

#[test]
fn prelu_matches_mxnet() {
    let op = make_op("LeakyReLU", &[("act_type", "prelu")]);
    assert_eq!(op.input_names(), ["data", "gamma"]);
    assert!(!op.is_inplace_unary());
    assert!(
        op.forward_inplace(
            &mut cpu_ctx(),
            &mut HostTensor::zeros(&[3], DType::F32).view_mut()
        )
        .is_none()
    );
    // MXNet 1.9.1: data (2, 3), gamma (0.1, 0.2, 0.3), head gradient [[1,2,3],[4,5,6]].
    let x = HostTensor::from_f32(&[2, 3], vec![-1.0, 2.0, -3.0, 4.0, -5.0, 6.0]);
    let gamma = HostTensor::from_f32(&[3], vec![0.1, 0.2, 0.3]);
    let g = HostTensor::from_f32(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let y = run(op.as_ref(), &mut [x.clone(), gamma.clone()], false).unwrap();
    assert_close(
        &y[0].to_f64(),
        &[-0.1, 2.0, -0.9, 4.0, -1.0, 6.0],
        1e-6,
        1e-6,
    );
    let d = gradients(&op, &[x.clone(), gamma], std::slice::from_ref(&g), true, 0).unwrap();
    assert_close(
        &d[0].as_ref().unwrap().to_f64(),
        &[0.1, 2.0, 0.9, 4.0, 1.0, 6.0],
        1e-6,
        1e-6,
    );
    assert_eq!(d[1].as_ref().unwrap().to_f64(), vec![-1.0, -25.0, -9.0]);
    // One gamma for everything: dgamma = -35.
    let one = HostTensor::from_f32(&[1], vec![0.5]);
    let d = gradients(&op, &[x, one], &[g], true, 0).unwrap();
    assert_eq!(d[1].as_ref().unwrap().to_f64(), vec![-35.0]);
    // 4-D: (2, 3, 2, 2) of -12..12, gamma (0.1, 0.2, 0.3), ones → dgamma (-42, -26, -10).
    let x4 = HostTensor::from_vec(&[2, 3, 2, 2], (-12i16..12).map(f32::from).collect());
    let gamma = HostTensor::from_f32(&[3], vec![0.1, 0.2, 0.3]);
    let ones = HostTensor::from_f32(&[2, 3, 2, 2], vec![1.0; 24]);
    let y = run(op.as_ref(), &mut [x4.clone(), gamma.clone()], false).unwrap();
    assert_close(&y[0].to_f64()[..4], &[-1.2, -1.1, -1.0, -0.9], 1e-6, 1e-6);
    let d = gradients(&op, &[x4, gamma], &[ones], true, 0).unwrap();
    assert_close(
        &d[1].as_ref().unwrap().to_f64(),
        &[-42.0, -26.0, -10.0],
        1e-6,
        1e-6,
    );
    let (nodes, grads) = backward_graph(&op);
    assert_eq!(
        nodes[0].inputs,
        vec![ograd(0), input(0), input(1), output(0)]
    );
    assert_eq!(grads, vec![Some(added(0, 0)), Some(added(0, 1))]);
}

#[test]
fn prelu_shapes_and_gradient() {
    let op = make_op("LeakyReLU", &[("act_type", "prelu")]);
    let s = |d: &[usize]| Shape::from_legacy(d);
    let (ins, outs) = infer_shapes(op.as_ref(), &[s(&[2, 3, 4]), Shape::unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[3]));
    assert_eq!(outs[0], Shape::known(&[2, 3, 4]));
    let (ins, _) = infer_shapes(op.as_ref(), &[s(&[2, 0, 4]), Shape::unknown()]).unwrap();
    assert_eq!(ins[1], Shape::partial(vec![None]));
    let (ins, _) = infer_shapes(op.as_ref(), &[s(&[2, 0, 4]), s(&[5])]).unwrap();
    assert_eq!(ins[1], Shape::known(&[5]));
    infer_shapes(op.as_ref(), &[s(&[2, 3, 4]), s(&[1])]).unwrap();
    let err = infer_shapes(op.as_ref(), &[s(&[2, 3, 4]), s(&[4])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("LeakyReLU") && msg.contains("gamma (4,)"),
        "{msg}"
    );
    let err = infer_shapes(op.as_ref(), &[s(&[2, 3]), s(&[3, 1])]).unwrap_err();
    assert!(err.to_string().contains("1-D"), "{err}");
    // The backward op infers dgamma from gamma.
    let back = make_op("_backward_LeakyReLU", &[("act_type", "prelu")]);
    assert_eq!(back.input_names(), ["ograd", "data", "gamma", "output"]);
    let (_, outs) = infer_shapes(
        back.as_ref(),
        &[
            s(&[2, 3]),
            Shape::unknown(),
            Shape::unknown(),
            Shape::unknown(),
        ],
    )
    .unwrap();
    assert_eq!(outs, vec![Shape::known(&[2, 3]), Shape::known(&[3])]);

    let x = HostTensor::from_vec(
        &[2, 3, 2],
        vec![
            -1.3f64, 0.8, -0.4, 2.2, -0.6, 1.1, 0.3, -0.9, 1.7, -2.1, 0.45, -0.05,
        ],
    );
    let gamma = HostTensor::from_vec(&[3], vec![0.1f64, 0.25, -0.2]);
    check_gradient(&op, &[x.clone(), gamma], &GradCheck::default()).unwrap();
    let one = HostTensor::from_vec(&[1], vec![0.4f64]);
    check_gradient(&op, &[x, one], &GradCheck::default()).unwrap();
    // 1-D data: one gamma per element.
    let x1 = HostTensor::from_f32(&[3], vec![-1.0, 2.0, -3.0]);
    let g1 = HostTensor::from_f32(&[3], vec![0.1, 0.2, 0.3]);
    let y = run(op.as_ref(), &mut [x1, g1], false).unwrap();
    assert_close(&y[0].to_f64(), &[-0.1, 2.0, -0.9], 1e-6, 1e-6);
}

#[test]
fn rrelu_inference_and_training() {
    let op = make_op("LeakyReLU", &[("act_type", "rrelu")]);
    assert_eq!(op.num_outputs(), 2);
    assert_eq!(op.output_names(), ["output", "mask"]);
    assert_eq!(
        op.num_visible_outputs(),
        2,
        "MXNet lists the mask as an output"
    );
    // Inference: slope (0.125 + 0.334)/2 = 0.2295 (MXNet 1.9.1: [-0.2295, 2, -0.6885]).
    let x = HostTensor::from_f32(&[2, 3], vec![-1.0, 2.0, -3.0, 4.0, -5.0, 6.0]);
    let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_close(&out[0].to_f64()[..3], &[-0.2295, 2.0, -0.6885], 1e-6, 1e-6);
    assert_close(&out[1].to_f64(), &[0.2295; 6], 1e-6, 1e-6);
    // Training: a slope per element in [lower, upper], drawn from the seeded state.
    let op = make_op(
        "LeakyReLU",
        &[
            ("act_type", "rrelu"),
            ("lower_bound", "0.1"),
            ("upper_bound", "0.5"),
        ],
    );
    let a = run_seeded(op.as_ref(), &mut [x.clone()], true, 7).unwrap();
    let b = run_seeded(op.as_ref(), &mut [x.clone()], true, 7).unwrap();
    assert_eq!(a, b);
    let mask = a[1].to_f64();
    assert!(mask.iter().all(|m| (0.1..=0.5).contains(m)), "{mask:?}");
    assert!(
        mask.windows(2).any(|w| w[0] != w[1]),
        "slopes differ: {mask:?}"
    );
    let xs = x.to_f64();
    for ((y, m), v) in a[0].to_f64().iter().zip(&mask).zip(&xs) {
        let want = if *v > 0.0 { *v } else { m * v };
        assert!((y - want).abs() < 1e-6);
    }
    let x64 = HostTensor::from_vec(&[2, 3], vec![-1.3f64, 0.8, -0.4, 2.2, -0.6, 1.1]);
    check_gradient(&op, &[x64], &GradCheck::default()).unwrap();
    let (nodes, grads) = backward_graph(&op);
    assert_eq!(
        nodes[0].inputs,
        vec![ograd(0), ograd(1), input(0), output(0), output(1)]
    );
    assert_eq!(grads, vec![Some(added(0, 0))]);
    // Bounds in the wrong order are rejected.
    let err = create(
        "LeakyReLU",
        &[
            ("act_type", "rrelu"),
            ("lower_bound", "0.5"),
            ("upper_bound", "0.1"),
        ],
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("upper_bound"), "{err}");
}

#[test]
fn leaky_parameters_are_checked() {
    assert_create_err(
        "LeakyReLU",
        &[("act_type", "swish")],
        &["LeakyReLU", "swish", "'gelu'"],
    );
    assert_create_err("LeakyReLU", &[("slope", "steep")], &["slope"]);
    let err = create("_backward_LeakyReLU", &[("alpha", "1")], None).unwrap_err();
    assert!(err.to_string().contains("_backward_LeakyReLU"), "{err}");
    let op = make_op("LeakyReLU", &[]);
    let h = HostTensor::zeros(&[2], DType::I32);
    let err = run(op.as_ref(), &mut [h], false).unwrap_err();
    assert!(err.to_string().contains("int32"), "{err}");
}

/// The GPU kernels (on a real GPU, else the emulator) agree with the CPU kernels, forward and
/// backward, for every activation.
#[test]
fn gpu_matches_cpu() {
    use crate::check::HostTensor;
    use crate::ops::test_util::GpuCheck;
    let gpu = GpuCheck::new(1e-5, 1e-6);
    let x: Vec<f32> = (0..300).map(|i| (i as f32 - 150.0) * 0.17).collect();
    let g: Vec<f32> = (0..300)
        .map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.5)
        .collect();
    for act in ["relu", "sigmoid", "tanh", "softrelu", "softsign"] {
        let fwd = make_op("Activation", &[("act_type", act)]);
        let xs = HostTensor::from_f32(&[3, 100], x.clone());
        let y = gpu.forward(fwd.as_ref(), &xs, act);
        let back = make_op("_backward_Activation", &[("act_type", act)]);
        let gs = HostTensor::from_f32(&[3, 100], g.clone());
        let ins = if act == "relu" {
            vec![gs, y]
        } else {
            vec![gs, y, xs]
        };
        gpu.check(back.as_ref(), &ins, &format!("backward {act}"));
    }
}
