use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{assert_close, assert_create_err, make_op};
use crate::registry::{OpRef, Shape};

/// data (2, 2, 2), gamma, beta, moving_mean, moving_var: the values run through MXNet 1.9.1.
fn inputs() -> Vec<HostTensor> {
    vec![
        HostTensor::from_f32(&[2, 2, 2], vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0, 2.0, 4.0]),
        HostTensor::from_f32(&[2], vec![1.5, -0.5]),
        HostTensor::from_f32(&[2], vec![0.1, 0.2]),
        HostTensor::from_f32(&[2], vec![0.2, 0.3]),
        HostTensor::from_f32(&[2], vec![1.5, 0.8]),
    ]
}

fn head() -> HostTensor {
    HostTensor::from_f32(&[2, 2, 2], vec![0.3, -0.2, 0.1, 0.5, -0.4, 0.25, 0.6, -0.1])
}

fn zeros2() -> HostTensor {
    HostTensor::from_f32(&[2], vec![0.0; 2])
}

/// Runs forward (updating the moving statistics in `ins`) and the gradient graph.
fn step(
    op: &OpRef,
    ins: &mut [HostTensor],
    is_train: bool,
) -> (Vec<HostTensor>, Vec<Option<HostTensor>>) {
    let before = ins.to_vec();
    let out = run(op.as_ref(), ins, is_train).unwrap();
    let grads = gradients(op, &before, &[head(), zeros2(), zeros2()], is_train, 0).unwrap();
    assert!(
        grads[3].is_none() && grads[4].is_none(),
        "no gradient for moving stats"
    );
    (out, grads)
}

#[test]
fn training_matches_mxnet() {
    let op = make_op("BatchNorm", &[("fix_gamma", "False")]);
    let mut ins = inputs();
    let (out, grads) = step(&op, &mut ins, true);
    assert_close(
        &out[0].to_f64(),
        &[
            0.3533148, 2.3798327, -0.0672231, 1.0016693, -0.6599443, -1.6732033, 0.2, -0.3344462,
        ],
        0.0,
        1e-6,
    );
    // Hidden outputs: the batch mean and the inverse std.
    assert_close(&out[1].to_f64(), &[0.875, 2.0], 0.0, 1e-7);
    assert_close(&out[2].to_f64(), &[1.3510121, 0.5344462], 0.0, 1e-6);
    // Moving statistics after the step (biased variance, momentum 0.9).
    assert_close(&ins[3].to_f64(), &[0.2675, 0.47], 0.0, 1e-6);
    assert_close(&ins[4].to_f64(), &[1.4046874, 1.07], 0.0, 1e-6);
    let g = |i: usize| grads[i].as_ref().unwrap().to_f64();
    assert_close(
        &g(0),
        &[
            0.6629068, -0.1133935, 0.016233, 0.031468, -0.8741353, 0.324622, -0.0868475, 0.0391465,
        ],
        0.0,
        1e-6,
    );
    assert_close(&g(1), &[-0.3461969, -0.8551139], 0.0, 1e-6);
    assert_close(&g(2), &[-0.05, 1.1], 0.0, 1e-6);
}

#[test]
fn fix_gamma_matches_mxnet() {
    let op = make_op("BatchNorm", &[]);
    let mut ins = inputs();
    let (out, grads) = step(&op, &mut ins, true);
    assert_close(
        &out[0].to_f64(),
        &[
            0.2688765, 1.6198887, 0.7344462, -1.4033384, -0.4066295, -1.0821356, 0.2, 1.2688924,
        ],
        0.0,
        1e-6,
    );
    let g = |i: usize| grads[i].as_ref().unwrap().to_f64();
    assert_close(
        &g(0),
        &[
            0.4419379, -0.0755957, -0.032466, -0.062936, -0.5827569, 0.2164147, 0.173695,
            -0.0782931,
        ],
        0.0,
        1e-6,
    );
    assert_eq!(g(1), vec![0.0, 0.0]);
    assert_close(&g(2), &[-0.05, 1.1], 0.0, 1e-6);
    // Inference: moving statistics, gamma still ignored, nothing updated.
    let mut ins = inputs();
    let out = run(op.as_ref(), &mut ins, false).unwrap();
    assert_close(
        &out[0].to_f64(),
        &[
            0.7529796, 1.5692041, 3.2168071, -1.2525365, 0.3448674, -0.0632449, 2.099471, 4.3341427,
        ],
        0.0,
        1e-6,
    );
    assert_eq!(ins, inputs());
}

#[test]
fn global_stats_match_mxnet() {
    let want = [
        1.0794694, 2.303806, -1.3084035, 0.9262683, 0.467301, -0.1448674, -0.7497356, -1.8670714,
    ];
    let plain = make_op("BatchNorm", &[("fix_gamma", "False")]);
    let mut ins = inputs();
    let out = run(plain.as_ref(), &mut ins, false).unwrap();
    assert_close(&out[0].to_f64(), &want, 0.0, 1e-6);
    // The hidden outputs hold the statistics used: moving mean and its inverse std.
    assert_close(&out[1].to_f64(), &[0.2, 0.3], 0.0, 1e-7);
    assert_close(&out[2].to_f64(), &[0.8162245, 1.1173359], 0.0, 1e-6);

    let op = make_op(
        "BatchNorm",
        &[("fix_gamma", "False"), ("use_global_stats", "True")],
    );
    let mut ins = inputs();
    let (out, grads) = step(&op, &mut ins, true);
    assert_close(&out[0].to_f64(), &want, 0.0, 1e-6);
    assert_eq!(
        ins,
        inputs(),
        "use_global_stats leaves the moving statistics alone"
    );
    let g = |i: usize| grads[i].as_ref().unwrap().to_f64();
    assert_close(
        &g(0),
        &[
            0.367301, -0.2448674, -0.0558668, -0.279334, -0.4897347, 0.3060842, -0.3352008,
            0.0558668,
        ],
        0.0,
        1e-6,
    );
    assert_close(&g(1), &[-0.2367051, 0.3016808], 0.0, 1e-6);
    assert_close(&g(2), &[-0.05, 1.1], 0.0, 1e-6);
}

#[test]
fn last_axis_and_eps_match_mxnet() {
    let op = make_op(
        "BatchNorm",
        &[("fix_gamma", "False"), ("axis", "-1"), ("eps", "0.01")],
    );
    let mut ins = inputs();
    let (out, grads) = step(&op, &mut ins, true);
    assert_close(
        &out[0].to_f64(),
        &[
            -0.8711637, 0.0049809, 2.23656, 0.7850574, -1.6480947, 0.5250319, 0.6826982, -0.5150701,
        ],
        0.0,
        1e-6,
    );
    assert_close(&ins[3].to_f64(), &[0.3425, 0.395], 0.0, 1e-6);
    assert_close(&ins[4].to_f64(), &[1.4421874, 1.08875], 0.0, 1e-6);
    let g = |i: usize| grads[i].as_ref().unwrap().to_f64();
    assert_close(
        &g(0),
        &[
            0.395917, 0.0566993, -0.435936, -0.0270838, -0.5615163, 0.0051777, 0.6015353,
            -0.0347931,
        ],
        0.0,
        1e-6,
    );
    assert_close(&g(1), &[0.6474426, -0.968595], 0.0, 1e-6);
    assert_close(&g(2), &[0.6, 0.45], 0.0, 1e-6);
    // Momentum is a parameter.
    let op = make_op("BatchNorm", &[("momentum", "0.5")]);
    let mut ins = inputs();
    run(op.as_ref(), &mut ins, true).unwrap();
    assert_close(&ins[3].to_f64(), &[0.5375, 1.15], 0.0, 1e-6);
}

#[test]
fn output_mean_var_makes_the_statistics_visible() {
    let op = make_op("BatchNorm", &[("output_mean_var", "True")]);
    assert_eq!((op.num_outputs(), op.num_visible_outputs()), (3, 3));
    assert_eq!(op.output_names(), vec!["output", "mean", "var"]);
    let plain = make_op("BatchNorm", &[]);
    assert_eq!((plain.num_outputs(), plain.num_visible_outputs()), (3, 1));
    assert_eq!(plain.mutate_inputs(), vec![3, 4]);
    let out = run(op.as_ref(), &mut inputs(), true).unwrap();
    assert_close(&out[1].to_f64(), &[0.875, 2.0], 0.0, 1e-7);
    assert_close(&out[2].to_f64(), &[1.3510121, 0.5344462], 0.0, 1e-6);
}

#[test]
fn gradients_match_finite_differences() {
    let data = HostTensor::from_vec(
        &[3, 2, 2, 2],
        (0..24).map(|i| ((i * 7 % 13) as f64 - 6.0) / 4.0).collect(),
    );
    let gamma = HostTensor::from_vec(&[2], vec![1.3, -0.7]);
    let beta = HostTensor::from_vec(&[2], vec![0.2, -0.1]);
    let mm = HostTensor::from_vec(&[2], vec![0.1, -0.3]);
    let mv = HostTensor::from_vec(&[2], vec![0.9, 1.7]);
    let ins = [data, gamma, beta, mm, mv];
    for (attrs, is_train) in [
        (vec![("fix_gamma", "False")], true),
        (vec![("fix_gamma", "True")], true),
        (vec![("fix_gamma", "False"), ("axis", "3")], true),
        (
            vec![("fix_gamma", "False"), ("axis", "-2"), ("eps", "1e-5")],
            true,
        ),
        (vec![("fix_gamma", "False")], false),
        (
            vec![("fix_gamma", "False"), ("use_global_stats", "True")],
            true,
        ),
    ] {
        let op = make_op("BatchNorm", &attrs);
        let opts = GradCheck {
            skip: vec![3, 4],
            is_train,
            rtol: 1e-5,
            atol: 1e-6,
            ..GradCheck::default()
        };
        check_gradient(&op, &ins, &opts)
            .unwrap_or_else(|e| panic!("{attrs:?} train={is_train}: {e}"));
    }
}

#[test]
fn shapes_are_inferred_both_ways() {
    let op = make_op("BatchNorm", &[]);
    let u = Shape::unknown;
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 5, 3, 3]), u(), u(), u(), u()],
    )
    .unwrap();
    for s in &ins[1..] {
        assert_eq!(*s, Shape::known(&[5]));
    }
    assert_eq!(
        outs,
        vec![
            Shape::known(&[2, 5, 3, 3]),
            Shape::known(&[5]),
            Shape::known(&[5])
        ]
    );
    // Unknown channel dim: stays unknown, but rank 1 is known; gamma back-fills it.
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[Shape::from_legacy(&[2, 0, 4]), u(), u(), u(), u()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::of_rank(1));
    let (ins, _) = infer_shapes(
        op.as_ref(),
        &[
            Shape::from_legacy(&[2, 0, 4]),
            u(),
            u(),
            Shape::known(&[6]),
            u(),
        ],
    )
    .unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 6, 4]));
    assert_eq!(ins[4], Shape::known(&[6]));
    let last = make_op("BatchNorm", &[("axis", "-1")]);
    let (ins, _) = infer_shapes(
        last.as_ref(),
        &[Shape::known(&[2, 3, 4]), u(), u(), u(), u()],
    )
    .unwrap();
    assert_eq!(ins[2], Shape::known(&[4]));
    // Errors: a conflicting channel count, an axis out of range.
    let err = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 5]), Shape::known(&[4]), u(), u(), u()],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("BatchNorm") && msg.contains("gamma") && msg.contains("(4,)"),
        "{msg}"
    );
    let far = make_op("BatchNorm", &[("axis", "3")]);
    let err = infer_shapes(far.as_ref(), &[Shape::known(&[2, 5]), u(), u(), u(), u()]).unwrap_err();
    assert!(err.to_string().contains("axis 3"), "{err}");
    // The backward op derives its outputs from its inputs.
    let back = make_op("_backward_BatchNorm", &[("fix_gamma", "False")]);
    assert_eq!(back.input_names().len(), 8);
    assert!(back.mutate_inputs().is_empty());
    let mut shapes = vec![Shape::unknown(); 8];
    shapes[0] = Shape::known(&[2, 3, 4]);
    let (ins, outs) = infer_shapes(back.as_ref(), &shapes).unwrap();
    assert_eq!(ins[3], Shape::known(&[2, 3, 4]));
    assert_eq!(
        outs,
        vec![
            Shape::known(&[2, 3, 4]),
            Shape::known(&[3]),
            Shape::known(&[3])
        ]
    );
}

#[test]
fn parameters_are_parsed_and_checked() {
    let op = make_op(
        "BatchNorm",
        &[
            ("eps", "0.0001"),
            ("fix_gamma", "True"),
            ("momentum", "0.8"),
            ("cudnn_off", "1"),
        ],
    );
    assert_eq!(
        op.attrs(),
        vec![
            ("eps".to_string(), "0.0001".to_string()),
            ("momentum".to_string(), "0.8".to_string()),
            ("cudnn_off".to_string(), "True".to_string()),
        ]
    );
    assert_create_err("BatchNorm", &[("eps", "-1")], &["eps"]);
    assert_create_err("BatchNorm", &[("momentum", "nan")], &["momentum"]);
    assert_create_err("BatchNorm", &[("fix_gama", "0")], &["fix_gama"]);
}

fn wave(shape: &[usize], salt: f32) -> HostTensor {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|i| (i as f32 * 0.37 + salt).sin() * 2.0 + 0.3)
        .collect();
    HostTensor::from_f32(shape, v)
}

#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    let cases: &[(&[usize], &str)] = &[
        (&[4, 3, 5, 2], "1"),
        (&[6, 5], "1"),
        (&[2, 3, 7], "-1"),
        (&[3, 4, 2], "0"),
        (&[1, 2, 1, 1], "1"),
        (&[0, 3, 2], "1"),
    ];
    for (shape, axis) in cases {
        let c = shape[resolve(axis, shape.len())];
        for (fix_gamma, global) in [("true", "false"), ("false", "false"), ("false", "true")] {
            let attrs = [
                ("axis", *axis),
                ("fix_gamma", fix_gamma),
                ("use_global_stats", global),
                ("eps", "0.001"),
                ("momentum", "0.8"),
                ("output_mean_var", "true"),
            ];
            let fwd = make_op("BatchNorm", &attrs);
            let mut var = wave(&[c], 3.0);
            var = HostTensor::from_f32(
                &[c],
                var.to_f64()
                    .iter()
                    .map(|v| (v.abs() + 0.5) as f32)
                    .collect(),
            );
            let ins = vec![
                wave(shape, 0.0),
                wave(&[c], 1.0),
                wave(&[c], 2.0),
                wave(&[c], 4.0),
                var,
            ];
            for train in [true, false] {
                // Summation in double on both sides, in a different order: 1e-5.
                compare_with_cpu(fwd.as_ref(), &dev, &ins, train, 1e-5, 1e-5)
                    .unwrap_or_else(|e| panic!("{shape:?} {attrs:?} train={train}: {e}"));
                let outs = run(fwd.as_ref(), &mut ins.clone(), train).unwrap();
                let back = make_op("_backward_BatchNorm", &attrs);
                let mut bins = vec![wave(shape, 5.0), outs[1].clone(), outs[2].clone()];
                bins.extend(ins.iter().cloned());
                compare_with_cpu(back.as_ref(), &dev, &bins, train, 1e-5, 1e-5)
                    .unwrap_or_else(|e| panic!("backward {shape:?} {attrs:?} train={train}: {e}"));
            }
        }
    }
}

fn resolve(axis: &str, rank: usize) -> usize {
    let a: i64 = axis.parse().unwrap();
    if a < 0 {
        (a + rank as i64) as usize
    } else {
        a as usize
    }
}
