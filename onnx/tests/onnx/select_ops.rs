//! The selecting and broadcasting conversions (Where, ArgMax/ArgMin, Expand, OneHot, the
//! variadic Sum/Mean/Max/Min, Gather on computed indices) and pooling with asymmetric padding: import
//! against onnxruntime, the cases mxr refuses, export of the matching registry operators, and
//! binding an imported model with the data shape alone.

use mxr_frontend::engine::Context;
use mxr_frontend::exec::GradReq;
use mxr_frontend::sym::{NamedArrays, Symbol};
use mxr_onnx::proto::TensorProto;
use mxr_onnx::proto::tensor_proto::DataType;
use prost::Message;

use super::nets::{self, assert_close, build_op as op, forward, temp_dir};
use super::python;
use super::single_ops::{
    Case, case, compare_with_onnxruntime, float, floats, int, int64s, ints, node, string, weights,
};

/// A BOOL initialiser.
fn bools(name: &str, dims: &[i64], v: &[bool]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Bool as i32),
        int32_data: v.iter().map(|&b| i32::from(b)).collect(),
        ..Default::default()
    }
}

/// ONNX's Cast to float (`to` = FLOAT): int64 results made comparable as float32.
fn to_float(input: &str, output: &str) -> mxr_onnx::proto::NodeProto {
    node("Cast", &[input], output, vec![int("to", 1)])
}

fn cases() -> Vec<Case> {
    let one = |op: &str, inputs: &[&str], attrs| vec![node(op, inputs, "y", attrs)];
    // Indices "i" (2, 3) from data (2, 3, 4): the argmax along the last axis.
    let argmax_last = || {
        let attrs = vec![int("axis", 2), int("keepdims", 0)];
        node("ArgMax", &["data"], "i", attrs)
    };
    vec![
        case(
            // Condition (3, 1), x (2, 3, 4), y (4): all three broadcast.
            "where_broadcasting",
            13,
            &[2, 3, 4],
            one("Where", &["cond", "data", "other"], vec![]),
            vec![
                bools("cond", &[3, 1], &[true, false, true]),
                weights("other", &[4], 1),
            ],
        ),
        case(
            // A condition cast to BOOL from computed data: nonzero is true.
            "where_computed_condition",
            13,
            &[2, 3, 4],
            vec![
                node("Relu", &["data"], "r", vec![]),
                node("Cast", &["r"], "c", vec![int("to", 9)]),
                node("Neg", &["data"], "neg", vec![]),
                node("Where", &["c", "neg", "data"], "y", vec![]),
            ],
            vec![],
        ),
        case(
            "argmax_keepdims",
            13,
            &[2, 3, 4],
            vec![
                node("ArgMax", &["data"], "i", vec![int("axis", 1)]),
                to_float("i", "y"),
            ],
            vec![],
        ),
        case(
            "argmin_last_axis",
            11,
            &[2, 3, 4],
            vec![
                node(
                    "ArgMin",
                    &["data"],
                    "i",
                    vec![int("axis", -1), int("keepdims", 0)],
                ),
                to_float("i", "y"),
            ],
            vec![],
        ),
        case(
            // (3, 1) expanded by (2, 1, 4): both sides broadcast, to (2, 3, 4).
            "expand_both_ways",
            13,
            &[3, 1],
            one("Expand", &["data", "shape"], vec![]),
            vec![int64s("shape", &[3], &[2, 1, 4])],
        ),
        case(
            // Computed indices (ArgMax) into OneHot with values [off, on] = [-1, 2].
            "one_hot_of_argmax",
            13,
            &[2, 3, 4],
            vec![
                argmax_last(),
                node("OneHot", &["i", "depth", "values"], "y", vec![]),
            ],
            vec![
                int64s("depth", &[], &[5]),
                floats("values", &[2], &[-1.0, 2.0]),
            ],
        ),
        case(
            // Constant indices, negative ones counting from the end; axis = the rank.
            "one_hot_constant_negative_indices",
            13,
            &[2, 3, 4],
            vec![
                node(
                    "OneHot",
                    &["idx", "depth", "values"],
                    "h",
                    vec![int("axis", 2)],
                ),
                node("Add", &["h", "data"], "y", vec![]),
            ],
            vec![
                int64s("idx", &[2, 3], &[0, -1, 3, -4, 2, 1]),
                floats("depth", &[1], &[4.0]),
                floats("values", &[2], &[0.0, 1.0]),
            ],
        ),
        case(
            "sum_and_mean_of_three",
            13,
            &[2, 3, 4],
            vec![
                node("Sum", &["data", "row", "col"], "s", vec![]),
                node("Mean", &["s", "data", "col"], "y", vec![]),
            ],
            vec![weights("row", &[4], 2), weights("col", &[3, 1], 3)],
        ),
        case(
            // Ties (data against itself) and NumPy broadcasting over three operands.
            "max_and_min_of_three",
            13,
            &[2, 3, 4],
            vec![
                node("Max", &["data", "row", "col"], "m", vec![]),
                node("Min", &["m", "data", "cap"], "y", vec![]),
            ],
            vec![
                weights("row", &[4], 4),
                weights("col", &[3, 1], 5),
                floats("cap", &[1], &[0.2]),
            ],
        ),
        case(
            "sum_of_one",
            13,
            &[2, 3],
            vec![
                node("Sum", &["data"], "s", vec![]),
                node("Tanh", &["s"], "y", vec![]),
            ],
            vec![],
        ),
        case(
            // Computed indices into computed data: take in raise mode.
            "gather_computed_indices",
            13,
            &[2, 3, 4],
            vec![
                argmax_last(),
                node("Gather", &["data", "i"], "y", vec![int("axis", 2)]),
            ],
            vec![],
        ),
        case(
            // All values negative: a zero padding would win the border windows, -inf does not.
            "maxpool_asymmetric_pads",
            13,
            &[1, 2, 6, 6],
            vec![
                node("Sub", &["data", "two"], "neg", vec![]),
                node(
                    "MaxPool",
                    &["neg"],
                    "y",
                    vec![ints("kernel_shape", &[3, 3]), ints("pads", &[0, 1, 2, 0])],
                ),
            ],
            vec![floats("two", &[], &[2.0])],
        ),
        case(
            "maxpool_same_upper_even_kernel",
            13,
            &[1, 2, 5, 5],
            one(
                "MaxPool",
                &["data"],
                vec![
                    ints("kernel_shape", &[2, 2]),
                    string("auto_pad", "SAME_UPPER"),
                ],
            ),
            vec![],
        ),
        case(
            "avgpool_asymmetric_including_pads",
            13,
            &[1, 2, 6, 6],
            one(
                "AveragePool",
                &["data"],
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("strides", &[2, 2]),
                    ints("pads", &[1, 0, 0, 2]),
                    int("count_include_pad", 1),
                ],
            ),
            vec![],
        ),
    ]
}

#[test]
fn selecting_broadcasting_and_padded_pooling_models_match_onnxruntime() {
    let Some(ort) = python::onnxruntime() else {
        return;
    };
    let dir = temp_dir("select-ops");
    let mut models = Vec::new();
    for c in cases() {
        let path = dir.join(c.name).with_extension("onnx");
        std::fs::write(path, c.model().encode_to_vec()).unwrap();
        models.push((c.name.to_owned(), c.shape.clone()));
    }
    compare_with_onnxruntime(&ort, &dir, &models);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn selecting_conversions_mxr_cannot_express_are_refused_by_name() {
    let refused = |name, shape: &[usize], nodes, inits, want: &str| {
        let c = case(name, 13, shape, nodes, inits);
        let e = mxr_onnx::import_model(c.model(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{name}: {e}");
        assert!(e.contains("y_node"), "{name} names the node: {e}");
    };
    let one_hot = |attrs, depth| {
        (
            vec![node("OneHot", &["idx", depth, "values"], "y", attrs)],
            vec![
                int64s("idx", &[2], &[0, 1]),
                int64s("depth", &[], &[3]),
                floats("values", &[2], &[0.0, 1.0]),
            ],
        )
    };
    let argmax = vec![node(
        "ArgMax",
        &["data"],
        "y",
        vec![int("select_last_index", 1)],
    )];
    refused(
        "last_index",
        &[2, 3],
        argmax,
        vec![],
        "attribute `select_last_index`",
    );
    let (nodes, inits) = one_hot(vec![int("axis", 0)], "depth");
    refused("one_hot_axis", &[2], nodes, inits, "attribute `axis`: 0");
    let (mut nodes, inits) = one_hot(vec![], "r");
    nodes.insert(0, node("Relu", &["data"], "r", vec![]));
    refused(
        "one_hot_depth",
        &[2],
        nodes,
        inits,
        "depth (input 1) must be a constant",
    );
    let expand = vec![node("Expand", &["data", "shape"], "y", vec![])];
    refused(
        "expand_unknown",
        &[0, 3],
        expand,
        vec![int64s("shape", &[2], &[2, 3])],
        "must be known to compute Expand's output shape",
    );
    let avg = vec![node(
        "AveragePool",
        &["data"],
        "y",
        vec![ints("kernel_shape", &[3, 3]), ints("pads", &[0, 0, 1, 1])],
    )];
    refused(
        "avg_excluding_asymmetric",
        &[1, 2, 6, 6],
        avg,
        vec![],
        "attribute `count_include_pad`: 0 (the default) with asymmetric padding [0, 0, 1, 1]",
    );
    let gather = vec![
        node("Relu", &["data"], "r", vec![]),
        node("Gather", &["r", "idx"], "y", vec![int("axis", 1)]),
    ];
    refused(
        "gather_out_of_range",
        &[2, 3],
        gather,
        vec![int64s("idx", &[2], &[1, -4])],
        "index -4 is out of range for an axis of size 3",
    );
    let bool_read = vec![
        node("Cast", &["data"], "c", vec![int("to", 9)]),
        node("Cast", &["c"], "y", vec![int("to", 1)]),
    ];
    refused("bool_elsewhere", &[2, 3], bool_read, vec![], "Cast to BOOL");
    let c = case(
        "bool_output",
        13,
        &[2, 3],
        vec![node("Cast", &["data"], "y", vec![int("to", 9)])],
        vec![],
    );
    let e = mxr_onnx::import_model(c.model(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("graph output \"y\" is a Cast to BOOL"), "{e}");
}

/// A network of the registry operators the selecting exports convert, over data (2, 3, 4).
fn select_net() -> (Symbol, NamedArrays) {
    let data = Symbol::variable("data");
    let w2 = Symbol::variable("w2");
    let am = op("argmax", &[&data], &[("axis", "2")], "am");
    let oh = op(
        "one_hot",
        &[&am],
        &[("depth", "4"), ("on_value", "2"), ("off_value", "-1")],
        "oh",
    );
    let emb = op(
        "Embedding",
        &[&am],
        &[("input_dim", "4"), ("output_dim", "5")],
        "emb",
    );
    let cond = op("one_hot", &[&am], &[("depth", "4")], "cond");
    let bt = op("broadcast_to", &[&w2], &[("shape", "(2, 0, 4)")], "bt");
    let wh = op("where", &[&cond, &data, &bt], &[], "wh");
    let amin = op(
        "argmin",
        &[&data],
        &[("axis", "1"), ("keepdims", "True")],
        "amin",
    );
    let all = op("argmax", &[&data], &[], "all");
    let hi = op("broadcast_maximum", &[&wh, &bt], &[], "hi");
    let lo = op("broadcast_minimum", &[&hi, &amin], &[], "lo");
    let a1 = op("broadcast_add", &[&lo, &amin], &[], "a1");
    let a2 = op("broadcast_add", &[&a1, &oh], &[], "a2");
    let a3 = op("broadcast_add", &[&a2, &all], &[], "a3");
    let cat = op("Concat", &[&a3, &emb], &[("dim", "2")], "cat");
    let sums = op("sum", &[&data], &[("axis", "2")], "sums");
    let rows = op("argmax", &[&sums], &[("axis", "1")], "rows");
    let neg = op("negative", &[&cat], &[], "neg");
    let net = op("where", &[&rows, &cat, &neg], &[], "y");
    let args = nets::params_for(&net, &[("data", &[2, 3, 4]), ("w2", &[1, 3, 1])]);
    (net, args)
}

#[test]
fn selecting_registry_operators_export_and_come_back() {
    let (net, args) = select_net();
    let shape = [2usize, 3, 4];
    let dir = temp_dir("select-export");
    let input = nets::values(24, 8, 1.0);
    let want = forward(&net, &args, &vec![], &shape, &input);
    let model = dir.join("select.onnx");
    mxr_onnx::export(&net, &args, &[], &[("data", &shape)], &model).unwrap();
    let (back, back_args, aux) = mxr_onnx::import(&model).unwrap();
    let got = forward(&back, &back_args, &aux, &shape, &input);
    assert_eq!(got, want, "round trip");
    if let Some(ort) = python::onnxruntime() {
        let got = python::run_onnxruntime(&ort, &model, &input, &shape);
        assert_close(&got, &want, 1e-5, 1e-6, "onnxruntime vs mxr");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Imported parameters carry `__shape__`: `dot` with `transpose_a` (Gemm's transA) cannot infer
/// its weight's shape from the data's, yet binding with the data shape alone works.
#[test]
fn imported_models_bind_with_the_data_shape_alone() {
    let c = case(
        "gemm_transposed",
        13,
        &[4, 3],
        vec![node(
            "Gemm",
            &["data", "w", "c"],
            "y",
            vec![int("transA", 1), float("alpha", 0.5)],
        )],
        vec![weights("w", &[4, 5], 9), weights("c", &[5], 10)],
    );
    let (net, args, _) = mxr_onnx::import_model(c.model(), None).unwrap();
    assert_eq!(net.attr_dict()["w"]["__shape__"], "(4, 5)");
    let mut exe = net
        .simple_bind(Context::cpu(0), &[("data", &[4, 3])], GradReq::Null, &[])
        .unwrap();
    let dict = exe.arg_dict();
    for (name, a) in &args {
        dict[name].assign(a).unwrap();
    }
    exe.forward(false).unwrap();
    assert_eq!(exe.outputs()[0].shape(), &[3, 5]);
}
