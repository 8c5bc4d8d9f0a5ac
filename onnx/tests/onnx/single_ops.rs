//! Single-operator ONNX models (built here with the protobuf types), one per conversion rule:
//! mxr's import and executor against onnxruntime on the same file.

use mxr_onnx::proto::attribute_proto::AttributeType;
use mxr_onnx::proto::tensor_proto::DataType;
use mxr_onnx::proto::tensor_shape_proto::{Dimension, dimension};
use mxr_onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
};
use prost::Message;

use super::nets::{assert_close, forward, temp_dir, values};
use super::python;

/// One model: nodes reading `data` (of `shape`) and writing `y`, with initialisers.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) opset: i64,
    pub(crate) shape: Vec<usize>,
    pub(crate) nodes: Vec<NodeProto>,
    pub(crate) inits: Vec<TensorProto>,
}

pub(crate) fn node(
    op: &str,
    inputs: &[&str],
    output: &str,
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{output}_node")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    }
}

/// A node with several outputs.
fn node_multi(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..node(op, inputs, outputs[0], attrs)
    }
}

fn attr(name: &str, t: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(t as i32),
        ..Default::default()
    }
}

pub(crate) fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        i: Some(i),
        ..attr(name, AttributeType::Int)
    }
}

pub(crate) fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: v.to_vec(),
        ..attr(name, AttributeType::Ints)
    }
}

pub(crate) fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        f: Some(f),
        ..attr(name, AttributeType::Float)
    }
}

pub(crate) fn string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        s: Some(s.as_bytes().to_vec()),
        ..attr(name, AttributeType::String)
    }
}

/// A float32 initialiser of seeded values.
pub(crate) fn weights(name: &str, dims: &[i64], seed: u64) -> TensorProto {
    let n = dims.iter().product::<i64>() as usize;
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        float_data: values(n, seed, 0.5),
        ..Default::default()
    }
}

/// A float32 initialiser of given values.
pub(crate) fn floats(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        float_data: v.to_vec(),
        ..weights(name, dims, 0)
    }
}

/// An int64 initialiser.
pub(crate) fn int64s(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Int64 as i32),
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

fn value(name: &str, dims: Option<&[usize]>) -> ValueInfoProto {
    let shape = dims.map(|d| TensorShapeProto {
        dim: d
            .iter()
            .map(|&x| Dimension {
                value: Some(dimension::Value::DimValue(x as i64)),
                ..Default::default()
            })
            .collect(),
    });
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Case {
    pub(crate) fn model(&self) -> ModelProto {
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(self.opset),
            }],
            graph: Some(GraphProto {
                name: Some(self.name.into()),
                node: self.nodes.clone(),
                initializer: self.inits.clone(),
                input: vec![value("data", Some(&self.shape))],
                output: vec![value("y", None)],
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

pub(crate) fn case(
    name: &'static str,
    opset: i64,
    shape: &[usize],
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
) -> Case {
    Case {
        name,
        opset,
        shape: shape.to_vec(),
        nodes,
        inits,
    }
}

/// Every conversion rule, one model each.
fn cases() -> Vec<Case> {
    let one = |op: &str, inputs: &[&str], attrs| vec![node(op, inputs, "y", attrs)];
    vec![
        case(
            // Computed data through Cast: to INT32 truncates toward zero, back to FLOAT.
            "cast_computed_to_int_and_back",
            13,
            &[2, 3],
            vec![
                node("Mul", &["data", "k"], "scaled", vec![]),
                node("Cast", &["scaled"], "ints", vec![int("to", 6)]),
                node("Cast", &["ints"], "y", vec![int("to", 1)]),
            ],
            vec![floats("k", &[1], &[7.5])],
        ),
        case(
            // Computed data through Gather: mxr's take, negative indices wrapping.
            "gather_computed_axis1",
            13,
            &[2, 3, 4],
            vec![
                node("Mul", &["data", "k"], "scaled", vec![]),
                node("Gather", &["scaled", "idx"], "y", vec![int("axis", 1)]),
            ],
            vec![
                floats("k", &[1], &[2.0]),
                int64s("idx", &[2, 2], &[2, -1, 0, 1]),
            ],
        ),
        case(
            // Steps other than 1 (one negative, ends past the axis): mxr's slice.
            "slice_with_steps",
            13,
            &[2, 3, 5],
            one(
                "Slice",
                &["data", "starts", "ends", "axes", "steps"],
                vec![],
            ),
            vec![
                int64s("starts", &[2], &[4, 0]),
                int64s("ends", &[2], &[-100, 3]),
                int64s("axes", &[2], &[-1, 1]),
                int64s("steps", &[2], &[-2, 2]),
            ],
        ),
        case(
            "pad_reflect_spatial",
            13,
            &[1, 2, 3, 4],
            one("Pad", &["data", "pads"], vec![string("mode", "reflect")]),
            vec![int64s("pads", &[8], &[0, 0, 1, 2, 0, 0, 1, 1])],
        ),
        case(
            "pad_constant_value",
            13,
            &[1, 1, 2, 3],
            one("Pad", &["data", "pads", "c"], vec![]),
            vec![
                int64s("pads", &[8], &[0, 0, 2, 0, 0, 0, 1, 3]),
                floats("c", &[], &[1.5]),
            ],
        ),
        case(
            "conv_asymmetric_pads",
            13,
            &[1, 2, 5, 6],
            one("Conv", &["data", "w"], vec![ints("pads", &[0, 1, 2, 0])]),
            vec![weights("w", &[3, 2, 3, 3], 4)],
        ),
        case(
            "conv_same_upper",
            13,
            &[1, 2, 6, 6],
            one(
                "Conv",
                &["data", "w"],
                vec![string("auto_pad", "SAME_UPPER")],
            ),
            vec![weights("w", &[4, 2, 3, 3], 1)],
        ),
        case(
            "conv_grouped_strided_dilated",
            11,
            &[1, 2, 9, 9],
            one(
                "Conv",
                &["data", "w", "b"],
                vec![
                    int("group", 2),
                    ints("pads", &[2, 1, 2, 1]),
                    ints("strides", &[2, 1]),
                    ints("dilations", &[2, 1]),
                    ints("kernel_shape", &[3, 3]),
                ],
            ),
            vec![weights("w", &[4, 1, 3, 3], 2), weights("b", &[4], 3)],
        ),
        case(
            "maxpool_ceil_mode",
            13,
            &[1, 2, 8, 8],
            one(
                "MaxPool",
                &["data"],
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("strides", &[2, 2]),
                    int("ceil_mode", 1),
                ],
            ),
            vec![],
        ),
        case(
            "maxpool_padded",
            19,
            &[1, 2, 7, 7],
            one(
                "MaxPool",
                &["data"],
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("strides", &[2, 2]),
                    ints("pads", &[1, 1, 1, 1]),
                ],
            ),
            vec![],
        ),
        case(
            "avgpool_excluding_pads",
            13,
            &[1, 2, 6, 6],
            one(
                "AveragePool",
                &["data"],
                vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
            ),
            vec![],
        ),
        case(
            "avgpool_including_pads",
            13,
            &[1, 2, 6, 6],
            one(
                "AveragePool",
                &["data"],
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("pads", &[1, 1, 1, 1]),
                    int("count_include_pad", 1),
                ],
            ),
            vec![],
        ),
        case(
            "global_average_pool",
            13,
            &[2, 3, 5, 5],
            one("GlobalAveragePool", &["data"], vec![]),
            vec![],
        ),
        case(
            "batch_normalization",
            15,
            &[2, 3, 4, 4],
            one(
                "BatchNormalization",
                &["data", "g", "b", "m", "v"],
                vec![float("epsilon", 1e-3)],
            ),
            vec![
                weights("g", &[3], 4),
                weights("b", &[3], 5),
                weights("m", &[3], 6),
                floats("v", &[3], &[0.5, 1.0, 1.5]),
            ],
        ),
        case(
            "gemm_dense_row_bias",
            13,
            &[3, 4],
            one("Gemm", &["data", "w", "c"], vec![int("transB", 1)]),
            vec![weights("w", &[5, 4], 7), weights("c", &[1, 5], 8)],
        ),
        case(
            "gemm_transposed_scaled",
            11,
            &[4, 3],
            one(
                "Gemm",
                &["data", "w", "c"],
                vec![int("transA", 1), float("alpha", 0.5), float("beta", 2.0)],
            ),
            vec![weights("w", &[4, 5], 9), weights("c", &[5], 10)],
        ),
        case(
            "matmul_batched",
            13,
            &[2, 3, 4],
            one("MatMul", &["data", "w"], vec![]),
            vec![weights("w", &[2, 4, 5], 11)],
        ),
        case(
            "matmul_nd_by_2d",
            13,
            &[2, 3, 4],
            one("MatMul", &["data", "w"], vec![]),
            vec![weights("w", &[4, 5], 12)],
        ),
        case(
            "flatten_axis_2",
            13,
            &[2, 3, 4, 5],
            one("Flatten", &["data"], vec![int("axis", 2)]),
            vec![],
        ),
        case(
            "softmax_opset_11_flattens",
            11,
            &[2, 3, 4],
            one("Softmax", &["data"], vec![]),
            vec![],
        ),
        case(
            "softmax_opset_13_axis_1",
            13,
            &[2, 3, 4],
            one("Softmax", &["data"], vec![int("axis", 1)]),
            vec![],
        ),
        case(
            "log_softmax",
            13,
            &[2, 5],
            one("LogSoftmax", &["data"], vec![]),
            vec![],
        ),
        case(
            "clip_constant_bounds",
            13,
            &[2, 5],
            one("Clip", &["data", "lo", "hi"], vec![]),
            vec![floats("lo", &[], &[-0.2]), floats("hi", &[], &[0.3])],
        ),
        case(
            "clip_max_only",
            12,
            &[2, 5],
            one("Clip", &["data", "", "hi"], vec![]),
            vec![floats("hi", &[], &[0.1])],
        ),
        case(
            "transpose",
            13,
            &[2, 3, 4],
            one("Transpose", &["data"], vec![ints("perm", &[1, 0, 2])]),
            vec![],
        ),
        case(
            "leaky_relu",
            13,
            &[2, 5],
            one("LeakyRelu", &["data"], vec![float("alpha", 0.2)]),
            vec![],
        ),
        case(
            "arithmetic_broadcast_and_scalars",
            13,
            &[2, 3, 4],
            vec![
                node("Add", &["data", "row"], "a", vec![]),
                node("Mul", &["a", "col"], "m", vec![]),
                node("Sub", &["two", "m"], "s", vec![]),
                node("Div", &["s", "four"], "d", vec![]),
                node("Sigmoid", &["d"], "y", vec![]),
            ],
            vec![
                weights("row", &[4], 13),
                weights("col", &[3, 1], 14),
                floats("two", &[], &[2.0]),
                floats("four", &[1], &[4.0]),
            ],
        ),
        case(
            "constant_dropout_identity_tanh",
            13,
            &[2, 4],
            vec![
                NodeProto {
                    attribute: vec![AttributeProto {
                        t: Some(floats("", &[4], &[0.1, -0.2, 0.3, -0.4])),
                        ..attr("value", AttributeType::Tensor)
                    }],
                    ..node("Constant", &[], "k", vec![])
                },
                node("Add", &["data", "k"], "a", vec![]),
                node("Dropout", &["a", "ratio"], "dr", vec![]),
                node("Identity", &["dr"], "i", vec![]),
                node("Tanh", &["i"], "y", vec![]),
            ],
            vec![floats("ratio", &[], &[0.3])],
        ),
        case(
            "reduce_mean_keepdims",
            13,
            &[2, 3, 4],
            one("ReduceMean", &["data"], vec![ints("axes", &[1, -1])]),
            vec![],
        ),
        case(
            "reduce_sum_axes_input",
            13,
            &[2, 3, 4],
            one("ReduceSum", &["data", "axes"], vec![int("keepdims", 0)]),
            vec![int64s("axes", &[1], &[1])],
        ),
        case(
            "reduce_max_all",
            13,
            &[2, 3, 4],
            one("ReduceMax", &["data"], vec![int("keepdims", 1)]),
            vec![],
        ),
        case(
            "reduce_min_opset_18",
            18,
            &[2, 3, 4],
            one("ReduceMin", &["data", "axes"], vec![int("keepdims", 0)]),
            vec![int64s("axes", &[1], &[2])],
        ),
        case(
            "slice_computed",
            13,
            &[2, 6, 5],
            one("Slice", &["data", "starts", "ends", "axes"], vec![]),
            vec![
                int64s("starts", &[2], &[1, -4]),
                int64s("ends", &[2], &[i64::MAX, 4]),
                int64s("axes", &[2], &[1, 2]),
            ],
        ),
        case(
            "split_second_half",
            13,
            &[2, 6],
            vec![node_multi(
                "Split",
                &["data"],
                &["a", "y"],
                vec![int("axis", 1)],
            )],
            vec![],
        ),
        case(
            "softsign",
            13,
            &[2, 5],
            one("Softsign", &["data"], vec![]),
            vec![],
        ),
        case(
            "softplus",
            13,
            &[2, 5],
            one("Softplus", &["data"], vec![]),
            vec![],
        ),
        case(
            "hard_sigmoid",
            13,
            &[2, 5],
            one(
                "HardSigmoid",
                &["data"],
                vec![float("alpha", 0.3), float("beta", 0.4)],
            ),
            vec![],
        ),
        case(
            "pow_square_and_cube",
            13,
            &[2, 5],
            vec![
                node("Pow", &["data", "two"], "sq", vec![]),
                node("Pow", &["sq", "three"], "y", vec![]),
            ],
            vec![floats("two", &[], &[2.0]), floats("three", &[], &[3.0])],
        ),
        // PyTorch's dynamic reshape: x.view(x.size(0), -1).
        case(
            "pytorch_reshape_chain",
            13,
            &[2, 3, 2, 2],
            vec![
                node("Shape", &["data"], "shape", vec![]),
                node("Gather", &["shape", "zero"], "batch", vec![int("axis", 0)]),
                node("Unsqueeze", &["batch", "axes"], "batch1", vec![]),
                node(
                    "Concat",
                    &["batch1", "minus_one"],
                    "target",
                    vec![int("axis", 0)],
                ),
                node("Reshape", &["data", "target"], "flat", vec![]),
                node("Gemm", &["flat", "w", "b"], "y", vec![int("transB", 1)]),
            ],
            vec![
                int64s("zero", &[], &[0]),
                int64s("axes", &[1], &[0]),
                int64s("minus_one", &[1], &[-1]),
                weights("w", &[3, 12], 15),
                weights("b", &[3], 16),
            ],
        ),
    ]
}

/// Runs every model `dir/NAME.onnx` of `models` (NAME, input shape) in onnxruntime and
/// through mxr's import and executor, on the same seeded input, and compares.
pub(crate) fn compare_with_onnxruntime(
    ort: &std::path::Path,
    dir: &std::path::Path,
    models: &[(String, Vec<usize>)],
) {
    let mut inputs = Vec::new();
    for (i, (name, shape)) in models.iter().enumerate() {
        let base = dir.join(name);
        let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
        std::fs::write(base.with_extension("shape"), dims.join(",")).unwrap();
        let input = values(shape.iter().product(), 100 + i as u64, 1.0);
        python::write_f32(&base.with_extension("in.f32"), &input);
        inputs.push(input);
    }
    python::run(ort, python::ONNXRUNTIME_DIR, &[&dir.to_string_lossy()]);
    for ((name, shape), input) in models.iter().zip(&inputs) {
        let base = dir.join(name);
        let (sym, args, aux) =
            mxr_onnx::import(base.with_extension("onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = forward(&sym, &args, &aux, shape, input);
        let want = python::read_f32(&base.with_extension("ort.f32"));
        assert_close(&got, &want, 1e-5, 1e-6, name);
    }
}

#[test]
fn single_operator_models_match_onnxruntime() {
    let Some(ort) = python::onnxruntime() else {
        return;
    };
    let dir = temp_dir("single-ops");
    let mut models = Vec::new();
    for c in cases() {
        std::fs::write(
            dir.join(c.name).with_extension("onnx"),
            c.model().encode_to_vec(),
        )
        .unwrap();
        models.push((c.name.to_owned(), c.shape.clone()));
    }
    compare_with_onnxruntime(&ort, &dir, &models);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The committed fixtures (onnx/tests/fixtures, written by its make_fixtures.py with onnx's
/// helper API): PyTorch's dynamic-reshape chains at opsets 11 and 13 and a Conv/BatchNorm
/// block.
#[test]
fn committed_fixtures_match_onnxruntime() {
    let Some(ort) = python::onnxruntime() else {
        return;
    };
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = temp_dir("fixtures");
    let mut models = Vec::new();
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&path, dir.join(&name).with_extension("onnx")).unwrap();
        let model = mxr_onnx::proto::read_model(&path).unwrap();
        let input = &model.graph.as_ref().unwrap().input[0];
        let Some(type_proto::Value::TensorType(t)) = input.r#type.as_ref().unwrap().value.as_ref()
        else {
            panic!("{name}: a tensor input")
        };
        let shape = t.shape.as_ref().unwrap().dim.iter().map(|d| match d.value {
            Some(dimension::Value::DimValue(v)) => v as usize,
            _ => panic!("{name}: a static input shape"),
        });
        let shape: Vec<usize> = shape.collect();
        models.push((name, shape));
    }
    assert_eq!(models.len(), 3, "the fixtures");
    compare_with_onnxruntime(&ort, &dir, &models);
    std::fs::remove_dir_all(&dir).unwrap();
}
