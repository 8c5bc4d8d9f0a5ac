use crate::check::gpu::{compare_with_cpu, test_device};
use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{
    added, assert_close, assert_create_err, backward_graph, input, make_op, ograd, output,
    uniform_f64,
};
use crate::registry::Shape;
use mxr_kernels::DType;

/// MXNet's inputs for a normalised axis of length `n` (data of `shape`, 24 elements):
/// `x = (np.arange(24).reshape(shape) % 7) * 0.5 - 1.25`, `gamma = np.linspace(0.5, 2, n)`,
/// `beta = np.linspace(-1, 1, n)`.
fn inputs(shape: &[usize], n: usize) -> [HostTensor; 3] {
    let x = (0..24).map(|k| (k % 7) as f32 * 0.5 - 1.25).collect();
    let step = |lo: f32, hi: f32, j: usize| lo + (hi - lo) * j as f32 / (n - 1) as f32;
    [
        HostTensor::from_f32(shape, x),
        HostTensor::from_f32(&[n], (0..n).map(|j| step(0.5, 2.0, j)).collect()),
        HostTensor::from_f32(&[n], (0..n).map(|j| step(-1.0, 1.0, j)).collect()),
    ]
}

/// One MXNet case: attributes, the length of the axis, the shape of mean/std, and the
/// values of out, mean, std, data_grad, gamma_grad, beta_grad.
type Case = (
    &'static [(&'static str, &'static str)],
    usize,
    &'static [usize],
    [&'static [f64]; 6],
);

// x, gamma, beta as in `inputs`; x.attach_grad(); g.attach_grad(); b.attach_grad()
// with mx.autograd.record(): out, mean, std = mx.nd.LayerNorm(x, g, b, output_mean_var=True, ..)
// out.backward(mx.nd.array((np.arange(24).reshape(2, 3, 4) % 5) - 2.0))
const CASES: [Case; 3] = [
    (
        &[("axis", "-1")],
        4,
        &[2, 3, 1],
        [
            &[
                -1.6708096265792847,
                -0.7805397510528564,
                1.0041429996490479,
                3.6832385063171387,
                -0.9451180696487427,
                0.2154858410358429,
                1.8151451349258423,
                -2.292915105819702,
                -1.6708096265792847,
                -0.7805397510528564,
                1.0041429996490479,
                3.6832385063171387,
                -0.6077689528465271,
                0.8433598279953003,
                -1.431706428527832,
                -0.5689241886138916,
                -1.6708096265792847,
                -0.7805397510528564,
                1.0041429996490479,
                3.6832385063171387,
                -0.17677122354507446,
                -1.321207880973816,
                -0.48989543318748474,
                0.7804723381996155,
            ],
            &[-0.5, 0.625, 0.0, 0.25, 0.5, -0.125],
            &[
                0.5590259432792664,
                1.1388086080551147,
                0.5590259432792664,
                1.2747588157653809,
                0.5590259432792664,
                1.1388086080551147,
            ],
            &[
                0.8943266868591309,
                -0.894441545009613,
                -0.8943842053413391,
                0.8944990634918213,
                1.4864399433135986,
                -0.9098519682884216,
                -0.2327563762664795,
                -0.34383153915405273,
                -1.3415119647979736,
                3.5776870250701904,
                -3.1304805278778076,
                0.8943052291870117,
                -0.12068571895360947,
                0.6034335494041443,
                2.5344150066375732,
                -3.017162799835205,
                0.8942837715148926,
                -0.8944559097290039,
                -0.8943700790405273,
                0.8945417404174805,
                -0.5607237219810486,
                -1.0685429573059082,
                -0.10579566657543182,
                1.7350622415542603,
            ],
            &[
                -0.39014893770217896,
                0.6197229027748108,
                -3.7884674072265625,
                4.142398834228516,
            ],
            &[-2.0, -1.0, 0.0, 1.0],
        ],
    ),
    (
        &[("axis", "1"), ("eps", "0.1")],
        3,
        &[2, 1, 4],
        [
            &[
                -1.4595091342926025,
                -1.4595091342926025,
                -1.4595091342926025,
                -0.8161963224411011,
                1.6082818508148193,
                1.6082820892333984,
                1.6082820892333984,
                -1.6082820892333984,
                0.26478540897369385,
                0.2647853493690491,
                0.2647854685783386,
                2.83803653717041,
                -0.8161963820457458,
                -0.4070729613304138,
                -1.4595091342926025,
                -1.4595091342926025,
                -1.6082820892333984,
                0.0,
                1.6082818508148193,
                1.6082820892333984,
                2.83803653717041,
                -1.3717081546783447,
                0.26478540897369385,
                0.2647853493690491,
            ],
            &[
                -0.4166666567325592,
                0.0833333358168602,
                0.5833333134651184,
                -0.0833333358168602,
                0.9166666865348816,
                0.25,
                -0.4166666567325592,
                0.0833333358168602,
            ],
            &[
                0.9067647457122803,
                0.9067646861076355,
                0.9067647457122803,
                0.9067646861076355,
                0.9067647457122803,
                1.2649110555648804,
                0.9067647457122803,
                0.9067646861076355,
            ],
            &[
                -1.2406744956970215,
                -2.3472225666046143,
                1.883366346359253,
                1.326366901397705,
                -0.13785243034362793,
                -1.1251763105392456,
                0.6166117191314697,
                -0.2309964895248413,
                1.3785271644592285,
                3.472398519515991,
                -2.4999778270721436,
                -1.0953705310821533,
                2.209369421005249,
                -0.13587909936904907,
                0.5085647106170654,
                -1.2406744956970215,
                -0.42659807205200195,
                0.3952847421169281,
                0.2254078984260559,
                -0.13785290718078613,
                -1.782771110534668,
                -0.25940555334091187,
                -0.7339726686477661,
                1.3785276412963867,
            ],
            &[4.310516357421875, 3.8598766326904297, -2.306415319442749],
            &[-1.0, 1.0, -2.0],
        ],
    ),
    (
        &[("axis", "0")],
        2,
        &[1, 3, 4],
        [
            &[
                -1.4999983310699463,
                -1.4999983310699463,
                -0.5000100135803223,
                -0.5000100135803223,
                -0.5000100135803223,
                -0.5000100135803223,
                -0.5000100135803223,
                -1.4999983310699463,
                -1.4999983310699463,
                -0.5000100135803223,
                -0.5000100135803223,
                -0.5000100135803223,
                2.9999935626983643,
                2.9999935626983643,
                -0.9999599456787109,
                -0.9999599456787109,
                -0.9999599456787109,
                -0.9999599456787109,
                -0.9999599456787109,
                2.9999935626983643,
                2.9999935626983643,
                -0.9999599456787109,
                -0.9999599456787109,
                -0.9999599456787109,
            ],
            &[
                0.0, 0.5, -0.75, -0.25, 0.25, 0.75, 1.25, 0.0, 0.5, -0.75, -0.25, 0.25,
            ],
            &[
                1.2500040531158447,
                1.2500040531158447,
                0.5000100135803223,
                0.5000100135803223,
                0.5000100135803223,
                0.5000100135803223,
                0.5000100135803223,
                1.2500040531158447,
                1.2500040531158447,
                0.5000100135803223,
                0.5000100135803223,
                0.5000100135803223,
            ],
            // The exact data gradient is 0 here; MXNet's float32 rounding leaves ~1e-4.
            &[0.0; 24],
            &[1.0000135898590088, 0.9999967813491821],
            &[-3.0, 1.0],
        ],
    ),
];

#[test]
fn layer_norm_matches_mxnet() {
    let shape = [2, 3, 4];
    for (attrs, n, moments, want) in CASES {
        let mut all = attrs.to_vec();
        all.push(("output_mean_var", "True"));
        let op = make_op("LayerNorm", &all);
        assert_eq!(op.num_visible_outputs(), 3);
        let ins = inputs(&shape, n);
        let out = run(op.as_ref(), &mut ins.clone(), true).unwrap();
        assert_eq!(out[1].shape(), moments, "{attrs:?}");
        for (k, o) in out.iter().enumerate() {
            assert_close(&o.to_f64(), want[k], 1e-5, 1e-5);
        }
        let head = (0..24).map(|k| (k % 5) as f32 - 2.0).collect();
        let zeros = || HostTensor::zeros(moments, DType::F32);
        let heads = [HostTensor::from_f32(&shape, head), zeros(), zeros()];
        let grads = gradients(&op, &ins, &heads, true, 1).unwrap();
        for (k, g) in grads.iter().enumerate() {
            let g = g
                .as_ref()
                .unwrap_or_else(|| panic!("{attrs:?}: no gradient {k}"));
            assert_close(&g.to_f64(), want[3 + k], 1e-5, 2e-4);
        }
    }
    // One visible output by default (MXNet: list_outputs() == ['..._output']).
    assert_eq!(make_op("LayerNorm", &[]).num_visible_outputs(), 1);
}

#[test]
fn layer_norm_gradients_match_finite_differences() {
    for (shape, axis) in [
        (&[3, 5][..], "-1"),
        (&[2, 3, 4], "1"),
        (&[4, 2, 3], "0"),
        (&[2, 17], "1"),
    ] {
        let op = make_op("LayerNorm", &[("axis", axis), ("eps", "0.01")]);
        let rank = shape.len() as i64;
        let a: i64 = axis.parse().unwrap();
        let n = shape[if a < 0 { a + rank } else { a } as usize];
        let x = uniform_f64(shape, 11, -2.0, 2.0);
        let gamma = uniform_f64(&[n], 12, 0.5, 1.5);
        let beta = uniform_f64(&[n], 13, -1.0, 1.0);
        let opts = GradCheck {
            rtol: 1e-4,
            atol: 1e-6,
            ..GradCheck::default()
        };
        check_gradient(&op, &[x, gamma, beta], &opts)
            .unwrap_or_else(|e| panic!("{shape:?} axis {axis}: {e}"));
    }
    // The gradient graph: one _backward_LayerNorm on (ograd, data, gamma, mean, std).
    let (nodes, grads) = backward_graph(&make_op("LayerNorm", &[]));
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].op, "_backward_LayerNorm");
    let ins = [ograd(0), input(0), input(1), output(1), output(2)];
    assert_eq!(nodes[0].inputs, ins);
    assert_eq!(
        grads,
        [Some(added(0, 0)), Some(added(0, 1)), Some(added(0, 2))]
    );
}

#[test]
fn layer_norm_infers_shapes_both_ways() {
    let op = make_op("LayerNorm", &[("axis", "1")]);
    let unknown = Shape::unknown;
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 3, 4]), unknown(), unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[3]));
    assert_eq!(ins[2], Shape::known(&[3]));
    assert_eq!(outs[0], Shape::known(&[2, 3, 4]));
    assert_eq!(outs[1], Shape::known(&[2, 1, 4]));
    // From gamma and a partial data shape.
    let data = Shape::partial(vec![Some(2), None, Some(4)]);
    let (ins, _) = infer_shapes(op.as_ref(), &[data, Shape::known(&[3]), unknown()]).unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 3, 4]));
    // The backward op: gradients of data, gamma and beta.
    let back = make_op("_backward_LayerNorm", &[]);
    let ins = [
        unknown(),
        Shape::known(&[5, 6]),
        unknown(),
        unknown(),
        unknown(),
    ];
    let (ins, outs) = infer_shapes(back.as_ref(), &ins).unwrap();
    assert_eq!(ins[3], Shape::known(&[5, 1]));
    assert_eq!(
        outs,
        [
            Shape::known(&[5, 6]),
            Shape::known(&[6]),
            Shape::known(&[6])
        ]
    );
}

#[test]
fn layer_norm_errors_name_the_op_and_argument() {
    let op = make_op("LayerNorm", &[("axis", "2")]);
    let err = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[3, 4]), Shape::unknown(), Shape::unknown()],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("LayerNorm") && err.contains("axis=2"), "{err}");
    let op = make_op("LayerNorm", &[]);
    let ins = [Shape::known(&[3, 4]), Shape::known(&[3]), Shape::unknown()];
    let err = infer_shapes(op.as_ref(), &ins).unwrap_err().to_string();
    assert!(
        err.contains("LayerNorm") && err.contains("gamma") && err.contains("(3, 4)"),
        "{err}"
    );
    // Mean and std of another rank than the data (a graph the fuzzer made) are an error.
    let back = make_op("_backward_LayerNorm", &[]);
    let ins = [
        Shape::unknown(),
        Shape::known(&[5, 6]),
        Shape::unknown(),
        Shape::known(&[5, 1, 1]),
        Shape::unknown(),
    ];
    let err = infer_shapes(back.as_ref(), &ins).unwrap_err().to_string();
    assert!(
        err.contains("_backward_LayerNorm") && err.contains("rank 3") && err.contains("rank 2"),
        "{err}"
    );
    assert_create_err("LayerNorm", &[("eps", "-1")], &["LayerNorm", "eps"]);
    assert_create_err(
        "_backward_LayerNorm",
        &[("eps", "nan")],
        &["_backward_LayerNorm", "eps"],
    );
    assert_create_err(
        "LayerNorm",
        &[("output_mean_var", "maybe")],
        &["LayerNorm", "output_mean_var"],
    );
    // Integer data is refused by the kernel, naming the op and the dtype.
    let ints = |s: &[usize]| HostTensor::zeros(s, DType::I32);
    let err = run(
        op.as_ref(),
        &mut [ints(&[2, 3]), ints(&[3]), ints(&[3])],
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("LayerNorm") && err.contains("int32"), "{err}");
    // A gamma that does not fit reaches the kernel's check.
    let [x, _, beta] = inputs(&[2, 3, 4], 4);
    let err = run(
        op.as_ref(),
        &mut [x, HostTensor::from_f32(&[3], vec![1.0; 3]), beta],
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("LayerNorm") && err.contains("gamma"), "{err}");
}

/// On the GPU (float32) the forward (outputs and statistics) and the backward agree with the
/// CPU, over rows, strided lanes, an axis of length 1 and empty data.
#[test]
fn gpu_matches_cpu() {
    let dev = test_device().unwrap();
    for (shape, axis) in [
        (&[4, 128][..], "-1"),
        (&[3, 5, 7], "1"),
        (&[3, 5, 7], "0"),
        (&[6, 1], "1"),
        (&[0, 4], "1"),
    ] {
        let rank = shape.len() as i64;
        let a: i64 = axis.parse().unwrap();
        let n = shape[if a < 0 { a + rank } else { a } as usize];
        let f32s = |t: HostTensor| t.cast(DType::F32);
        let x = f32s(uniform_f64(shape, 21, -3.0, 3.0));
        let gamma = f32s(uniform_f64(&[n], 22, 0.5, 1.5));
        let beta = f32s(uniform_f64(&[n], 23, -1.0, 1.0));
        let attrs = [("axis", axis), ("output_mean_var", "1")];
        let op = make_op("LayerNorm", &attrs);
        let ins = [x.clone(), gamma.clone(), beta];
        compare_with_cpu(op.as_ref(), &dev, &ins, true, 1e-5, 1e-5)
            .unwrap_or_else(|e| panic!("{shape:?} axis {axis}: {e}"));
        let out = run(op.as_ref(), &mut ins.clone(), true).unwrap();
        let g = f32s(uniform_f64(shape, 24, -1.0, 1.0));
        let back = make_op("_backward_LayerNorm", &attrs);
        let ins = [g, x, gamma, out[1].clone(), out[2].clone()];
        compare_with_cpu(back.as_ref(), &dev, &ins, true, 1e-4, 1e-5)
            .unwrap_or_else(|e| panic!("backward {shape:?} axis {axis}: {e}"));
    }
}
