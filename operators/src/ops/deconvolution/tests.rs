use mxr_kernels::DType;

use crate::Error;
use crate::check::{GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run};
use crate::ops::test_util::{
    GpuCheck, added, assert_close, assert_create_err, backward_graph, input, make_op, ograd,
};
use crate::registry::{Entry, OpRef, Shape, lookup};

fn deconv(attrs: &[(&str, &str)]) -> OpRef {
    make_op("Deconvolution", attrs)
}

/// `f(i)` for each element of `shape`, as float32 (`mxnet_ref.py` builds the same arrays).
fn filled(shape: &[usize], f: impl Fn(usize) -> f64) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f64_as(shape, &(0..n).map(f).collect::<Vec<_>>(), DType::F32)
}

fn t64(shape: &[usize], seed: u64) -> HostTensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| ((((i as u64 + 3) * (seed * 2 + 104_729)) % 997) as f64) / 498.5 - 1.0)
        .collect();
    HostTensor::from_f64_as(shape, &v, DType::F64)
}

/// The cases of `mxnet_ref.py`: name, attributes, data shape, weight shape.
type RefCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [usize],
    &'static [usize],
);

const REF_CASES: [RefCase; 4] = [
    (
        "stride_pad_adj_bias",
        &[
            ("kernel", "(3, 3)"),
            ("stride", "(2, 2)"),
            ("pad", "(1, 1)"),
            ("adj", "(1, 1)"),
            ("num_filter", "2"),
            ("no_bias", "False"),
        ],
        &[1, 2, 3, 3],
        &[2, 2, 3, 3],
    ),
    (
        "groups_dilate_1d",
        &[
            ("kernel", "(3,)"),
            ("stride", "(3,)"),
            ("dilate", "(2,)"),
            ("pad", "(2,)"),
            ("num_filter", "6"),
            ("num_group", "2"),
        ],
        &[2, 4, 5],
        &[4, 3, 3],
    ),
    (
        "target_shape",
        &[
            ("kernel", "(4, 4)"),
            ("stride", "(2, 2)"),
            ("target_shape", "(9, 8)"),
            ("num_filter", "3"),
        ],
        &[1, 2, 4, 4],
        &[2, 3, 4, 4],
    ),
    (
        "three_d_bias",
        &[
            ("kernel", "(2, 2, 2)"),
            ("stride", "(1, 2, 1)"),
            ("num_filter", "2"),
            ("no_bias", "False"),
        ],
        &[1, 2, 2, 3, 2],
        &[2, 2, 2, 2, 2],
    ),
];

/// The values `mxnet_ref.py` printed (`mxnet_ref.txt`) for case `name`: the output's shape,
/// then the output's values and each input's gradient.
fn mxnet_values(name: &str) -> (Vec<usize>, Vec<Vec<f64>>) {
    let text = include_str!("mxnet_ref.txt");
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{name} (")));
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("{name} not in mxnet_ref.txt"));
    let dims = header[name.len()..].trim().trim_matches(['(', ')']);
    let shape = dims.split(',').map(|d| d.trim().parse().unwrap()).collect();
    let values = lines
        .take_while(|l| l.contains(" ["))
        .map(|l| {
            let list = l.split_once(' ').unwrap().1.trim_matches(['[', ']']);
            list.split(", ").map(|v| v.parse().unwrap()).collect()
        })
        .collect();
    (shape, values)
}

#[test]
fn mxnet_values_forward_and_backward() {
    for (name, attrs, dshape, wshape) in REF_CASES {
        let op = deconv(attrs);
        let mut ins = vec![
            filled(dshape, |i| ((i % 7) as f64 - 3.0) / 2.0),
            filled(wshape, |i| ((i * 5 % 11) as f64 - 5.0) / 4.0),
        ];
        if op.input_names().len() == 3 {
            ins.push(HostTensor::from_f32(&[2], vec![0.5, -1.0]));
        }
        let (shape, want) = mxnet_values(name);
        assert_eq!(want.len(), ins.len() + 1, "{name}");
        let out = run(op.as_ref(), &mut ins.clone(), false).unwrap();
        assert_eq!(out[0].shape(), &shape[..], "{name}");
        assert_close(&out[0].to_f64(), &want[0], 1e-6, 1e-5);
        let head = filled(&shape, |i| ((i * 3 % 5) as f64 - 2.0) / 2.0);
        let grads = gradients(&op, &ins, &[head], true, 0).unwrap();
        for (i, g) in grads.iter().enumerate() {
            let g = g.as_ref().unwrap().to_f64();
            assert_close(&g, &want[i + 1], 1e-6, 1e-5);
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let opts = GradCheck::default();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<HostTensor>);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("kernel", "(4, 4)"),
                ("stride", "(2, 2)"),
                ("pad", "(1, 1)"),
                ("num_filter", "3"),
                ("no_bias", "False"),
            ],
            vec![t64(&[2, 2, 3, 3], 1), t64(&[2, 3, 4, 4], 2), t64(&[3], 3)],
        ),
        (
            vec![
                ("kernel", "(3, 2)"),
                ("stride", "(2, 3)"),
                ("dilate", "(1, 2)"),
                ("adj", "(1, 2)"),
                ("num_filter", "4"),
                ("num_group", "2"),
            ],
            vec![t64(&[1, 4, 3, 3], 4), t64(&[4, 2, 3, 2], 5)],
        ),
        (
            vec![
                ("kernel", "(3,)"),
                ("stride", "(2,)"),
                ("target_shape", "(8,)"),
                ("num_filter", "2"),
                ("no_bias", "False"),
            ],
            vec![t64(&[2, 3, 4], 6), t64(&[3, 2, 3], 7), t64(&[2], 8)],
        ),
        (
            vec![("kernel", "(1, 1)"), ("num_filter", "2")],
            vec![t64(&[2, 3, 2, 3], 9), t64(&[3, 2, 1, 1], 10)],
        ),
        (
            vec![
                ("kernel", "(2, 2, 2)"),
                ("stride", "(2, 1, 1)"),
                ("pad", "(0, 1, 0)"),
                ("num_filter", "2"),
                ("no_bias", "False"),
            ],
            vec![
                t64(&[1, 2, 2, 3, 2], 11),
                t64(&[2, 2, 2, 2, 2], 12),
                t64(&[2], 13),
            ],
        ),
    ];
    for (attrs, inputs) in cases {
        check_gradient(&deconv(&attrs), &inputs, &opts)
            .unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
    }
}

#[test]
fn gradient_graph_is_one_backward_node() {
    let op = deconv(&[("kernel", "(2, 2)"), ("num_filter", "2"), ("no_bias", "0")]);
    let (nodes, grads) = backward_graph(&op);
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].op, "_backward_Deconvolution");
    assert_eq!(nodes[0].inputs, [ograd(0), input(0), input(1), input(2)]);
    let want: Vec<Option<Entry>> = (0..3).map(|k| Some(added(0, k))).collect();
    assert_eq!(grads, want);
}

#[test]
fn shape_inference() {
    // MXNet: data (2,4,5,5), k3 s2 p1 adj1 d2 g2 f6 → output (2,6,12,12), weight (4,3,3,3).
    let op = deconv(&[
        ("kernel", "(3, 3)"),
        ("stride", "(2, 2)"),
        ("pad", "(1, 1)"),
        ("adj", "(1, 1)"),
        ("dilate", "(2, 2)"),
        ("num_filter", "6"),
        ("num_group", "2"),
        ("no_bias", "false"),
    ]);
    let unknown = || Shape::unknown();
    let (ins, outs) = infer_shapes(
        op.as_ref(),
        &[Shape::known(&[2, 4, 5, 5]), unknown(), unknown()],
    )
    .unwrap();
    assert_eq!(ins[1], Shape::known(&[4, 3, 3, 3]));
    assert_eq!(ins[2], Shape::known(&[6]));
    assert_eq!(outs[0], Shape::known(&[2, 6, 12, 12]));
    // Partial data: unknown batch and height.
    let data = Shape::from_legacy(&[0, 4, 0, 5]);
    let (ins, outs) = infer_shapes(op.as_ref(), &[data, unknown(), unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[4, 3, 3, 3]));
    assert_eq!(outs[0], Shape::from_legacy(&[0, 6, 0, 12]));
    // Unknown channels come from the weight.
    let data = Shape::from_legacy(&[2, 0, 5, 5]);
    let weight = Shape::known(&[8, 3, 3, 3]);
    let (ins, _) = infer_shapes(op.as_ref(), &[data, weight, unknown()]).unwrap();
    assert_eq!(ins[0], Shape::known(&[2, 8, 5, 5]));
    // The default has no bias; a target shape sets the output (MXNet: (1, 2, 7, 8)).
    let op = deconv(&[
        ("kernel", "(3, 3)"),
        ("stride", "(2, 2)"),
        ("target_shape", "(7, 8)"),
        ("num_filter", "2"),
    ]);
    assert_eq!(op.input_names(), ["data", "weight"]);
    let (ins, outs) = infer_shapes(op.as_ref(), &[Shape::known(&[1, 3, 4, 4]), unknown()]).unwrap();
    assert_eq!(ins[1], Shape::known(&[3, 2, 3, 3]));
    assert_eq!(outs[0], Shape::known(&[1, 2, 7, 8]));
}

#[test]
fn data_comes_back_from_the_output_where_the_rule_inverts() {
    use crate::registry::{Operator, ShapeCtx};
    let op = deconv(&[
        ("kernel", "(4, 3)"),
        ("stride", "(2, 2)"),
        ("pad", "(1, 0)"),
        ("num_filter", "2"),
    ]);
    let names = op.input_names();
    let mut ins = vec![Shape::from_legacy(&[0, 3, 0, 0]), Shape::unknown()];
    // Height 8 = 2·(4−1) + 4 − 2 comes back as 4; width 8 is no 2·(x−1) + 3.
    let mut outs = vec![Shape::known(&[5, 2, 8, 8])];
    Operator::infer_shape(
        op.as_ref(),
        &mut ShapeCtx::new("Deconvolution", &names, &mut ins, &mut outs),
    )
    .unwrap();
    assert_eq!(ins[0], Shape::from_legacy(&[5, 3, 4, 0]));
}

#[test]
fn shape_errors() {
    let infer_err = |attrs: &[(&str, &str)], shapes: &[Shape], words: &[&str]| {
        let op = deconv(attrs);
        let err = infer_shapes(op.as_ref(), shapes).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Shape { .. }), "{msg}");
        for w in words {
            assert!(msg.contains(w), "{attrs:?}: {msg}");
        }
    };
    let k3 = [
        ("kernel", "(3, 3)"),
        ("num_filter", "4"),
        ("num_group", "2"),
    ];
    let data = |s: &[usize]| Shape::known(s);
    // Input channels not divisible by the groups.
    infer_err(
        &k3,
        &[data(&[1, 3, 5, 5]), Shape::unknown()],
        &["Deconvolution", "num_group = 2"],
    );
    // A weight of the wrong shape (MXNet: (4, 2, 3, 3) for 4 channels, 4 filters, 2 groups).
    infer_err(
        &k3,
        &[data(&[1, 4, 5, 5]), data(&[4, 4, 3, 3])],
        &["weight", "(4, 4, 3, 3)"],
    );
    infer_err(&k3, &[data(&[4, 5, 5]), Shape::unknown()], &["must be 4-D"]);
    // A target larger than the full output (MXNet: "too big target shape").
    let target = [
        ("kernel", "(3,)"),
        ("num_filter", "1"),
        ("target_shape", "(6,)"),
    ];
    infer_err(
        &target,
        &[data(&[1, 1, 3]), Shape::unknown()],
        &["target_shape (6,)", "at most 5"],
    );
    // A target needing an adjustment the stride does not allow (MXNet checks adj < stride).
    let target = [
        ("kernel", "(3,)"),
        ("num_filter", "1"),
        ("target_shape", "(4,)"),
    ];
    infer_err(
        &target,
        &[data(&[1, 1, 3]), Shape::unknown()],
        &["adjustment of 1", "stride 1"],
    );
    // Sizes past usize are an error, not an overflow.
    let huge = [
        ("kernel", "(3,)"),
        ("num_filter", "1"),
        ("stride", "(9223372036854775807,)"),
    ];
    infer_err(
        &huge,
        &[data(&[1, 1, 3]), Shape::unknown()],
        &["axis 2 overflows"],
    );
    infer_err(
        &huge,
        &[data(&[1, 1, 0]), Shape::unknown()],
        &["no positions on axis 2"],
    );
    // Padding that leaves no output.
    let pad = [("kernel", "(3,)"), ("num_filter", "1"), ("pad", "(3,)")];
    infer_err(
        &pad,
        &[data(&[1, 1, 3]), Shape::unknown()],
        &["pad 3", "no output"],
    );
}

#[test]
fn parameters() {
    let bad = |attrs: &[(&str, &str)], words: &[&str]| {
        assert_create_err("Deconvolution", attrs, words);
    };
    bad(&[("num_filter", "2")], &["kernel", "missing"]);
    bad(&[("kernel", "(3, 3)")], &["num_filter", "missing"]);
    bad(
        &[("kernel", "(3, 3, 3, 3)"), ("num_filter", "2")],
        &["kernel", "1, 2 or 3"],
    );
    let k = ("kernel", "(3, 3)");
    let f2 = ("num_filter", "2");
    bad(
        &[k, f2, ("stride", "(2,)")],
        &["stride", "as many dimensions"],
    );
    bad(
        &[k, f2, ("adj", "(1, 0)")],
        &["adj", "smaller than the stride (1, 1)"],
    );
    bad(
        &[k, f2, ("stride", "(2, 2)"), ("adj", "(2, 1)")],
        &["adj", "smaller"],
    );
    bad(
        &[k, f2, ("target_shape", "(8,)")],
        &["target_shape", "as many dimensions"],
    );
    bad(
        &[k, ("num_filter", "3"), ("num_group", "2")],
        &["num_filter", "divisible"],
    );
    bad(&[k, ("num_filter", "0")], &["num_filter", "at least 1"]);
    bad(
        &[k, f2, ("layout", "NHWC")],
        &["Deconvolution", "NHWC", "not supported"],
    );
    bad(&[k, f2, ("layout", "NCW")], &["layout", "NCHW"]);
    assert_create_err(
        "_backward_Deconvolution",
        &[k],
        &["_backward_Deconvolution", "num_filter"],
    );
    // An all-zero target shape is unused, so adj is checked.
    bad(
        &[k, f2, ("target_shape", "(0, 0)"), ("adj", "(1, 1)")],
        &["adj"],
    );
    assert_eq!(lookup("_npx_deconvolution").unwrap().name, "Deconvolution");
    let back = make_op("_backward_Deconvolution", &[k, f2, ("no_bias", "False")]);
    assert_eq!(back.input_names(), ["ograd", "data", "weight", "bias"]);
    assert_eq!(back.num_outputs(), 3);
}

/// The attributes as MXNet's symbol JSON stores them (`mx.sym.Deconvolution(x, kernel=(3, 3),
/// num_filter=4, stride=(2, 2), adj=(1, 1), target_shape=(8, 8), workspace=256,
/// cudnn_off=True).tojson()`: the given ones, in MXNet's formatting), read back to the same
/// operator.
#[test]
fn attributes_round_trip_as_mxnet_prints_them() {
    let mxnet = [
        ("adj", "(1, 1)"),
        ("cudnn_off", "True"),
        ("kernel", "(3, 3)"),
        ("num_filter", "4"),
        ("stride", "(2, 2)"),
        ("target_shape", "(8, 8)"),
        ("workspace", "256"),
    ];
    let op = deconv(&mxnet);
    let mut attrs = op.attrs();
    attrs.sort();
    let want: Vec<(String, String)> = mxnet
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(attrs, want);
    let pairs: Vec<(&str, &str)> = attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(deconv(&pairs).attrs(), op.attrs());
    // The target shape wins over pad and adj: (4 − 1)·2 + 3 = 9 → 8 needs pad 1, adj 1.
    let data = Shape::known(&[1, 2, 4, 4]);
    let (_, outs) = infer_shapes(op.as_ref(), &[data, Shape::unknown()]).unwrap();
    assert_eq!(outs[0], Shape::known(&[1, 4, 8, 8]));
}

#[test]
fn f32_matches_f64() {
    let op = deconv(&[
        ("kernel", "(4, 4)"),
        ("pad", "(1, 1)"),
        ("stride", "(2, 2)"),
        ("num_filter", "5"),
        ("no_bias", "false"),
    ]);
    let ins = [t64(&[2, 3, 7, 6], 1), t64(&[3, 5, 4, 4], 2), t64(&[5], 3)];
    let want = run(op.as_ref(), &mut ins.clone(), false).unwrap();
    let mut ins32: Vec<HostTensor> = ins.iter().map(|t| t.cast(DType::F32)).collect();
    let got = run(op.as_ref(), &mut ins32, false).unwrap();
    assert_eq!(got[0].dtype(), DType::F32);
    assert_close(&got[0].to_f64(), &want[0].to_f64(), 0.0, 1e-5);
}

fn wave(shape: &[usize], salt: f32) -> HostTensor {
    let n: usize = shape.iter().product();
    let v = (0..n).map(|i| (i as f32 * 0.61 + salt).sin()).collect();
    HostTensor::from_f32(shape, v)
}

#[test]
fn gpu_matches_cpu() {
    let gpu = GpuCheck::new(1e-4, 1e-5);
    // (data shape, weight shape, attributes)
    type Case<'a> = (&'a [usize], &'a [usize], &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (
            &[2, 3, 5, 4],
            &[3, 4, 4, 4],
            &[
                ("kernel", "(4, 4)"),
                ("stride", "(2, 2)"),
                ("pad", "(1, 1)"),
                ("num_filter", "4"),
            ],
        ),
        (
            &[1, 4, 4, 3],
            &[4, 3, 3, 2],
            &[
                ("kernel", "(3, 2)"),
                ("stride", "(2, 3)"),
                ("dilate", "(2, 1)"),
                ("adj", "(1, 2)"),
                ("num_filter", "6"),
                ("num_group", "2"),
                ("no_bias", "false"),
            ],
        ),
        (
            &[3, 2, 6],
            &[2, 3, 3],
            &[
                ("kernel", "(3,)"),
                ("target_shape", "(12,)"),
                ("stride", "(2,)"),
                ("num_filter", "3"),
            ],
        ),
        (
            &[1, 2, 2, 3, 2],
            &[2, 2, 2, 2, 2],
            &[
                ("kernel", "(2, 2, 2)"),
                ("num_filter", "2"),
                ("no_bias", "false"),
            ],
        ),
    ];
    for (shape, wshape, attrs) in cases {
        let fwd = deconv(attrs);
        let mut ins = vec![wave(shape, 0.0), wave(wshape, 1.0)];
        if fwd.input_names().len() == 3 {
            let f = attrs.iter().find(|(k, _)| *k == "num_filter").unwrap().1;
            ins.push(wave(&[f.parse().unwrap()], 2.0));
        }
        gpu.check(fwd.as_ref(), &ins, &format!("{attrs:?}"));
        let y = run(fwd.as_ref(), &mut ins.clone(), true).unwrap().remove(0);
        let back = make_op("_backward_Deconvolution", attrs);
        let mut bins = vec![wave(y.shape(), 3.0)];
        bins.extend(ins.iter().cloned());
        gpu.check(back.as_ref(), &bins, &format!("backward {attrs:?}"));
    }
}
