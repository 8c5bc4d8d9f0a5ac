//! The registry as a whole: every operator the op set promises is registered under MXNet's name
//! and aliases, names are unique, and the listing documents each one.

use super::{lookup, ops};

/// MXNet 1.9.1 operator names (canonical) and aliases that must resolve to them.
const OPS: &[(&str, &[&str])] = &[
    ("elemwise_add", &["_plus", "_Plus", "_add"]),
    ("elemwise_sub", &["_minus", "_Minus", "_sub"]),
    ("elemwise_mul", &["_mul", "_Mul"]),
    ("elemwise_div", &["_div", "_Div"]),
    ("_plus_scalar", &["_PlusScalar"]),
    ("_minus_scalar", &["_MinusScalar"]),
    ("_rminus_scalar", &["_RMinusScalar"]),
    ("_mul_scalar", &["_MulScalar"]),
    ("_div_scalar", &["_DivScalar"]),
    ("_rdiv_scalar", &["_RDivScalar"]),
    ("_power_scalar", &["_PowerScalar"]),
    ("broadcast_add", &["broadcast_plus"]),
    ("broadcast_sub", &["broadcast_minus"]),
    ("broadcast_mul", &[]),
    ("broadcast_div", &[]),
    ("negative", &[]),
    ("exp", &[]),
    ("log", &[]),
    ("sqrt", &[]),
    ("square", &[]),
    ("abs", &[]),
    ("tanh", &[]),
    ("sigmoid", &[]),
    ("relu", &[]),
    ("clip", &[]),
    ("hard_sigmoid", &[]),
    ("where", &[]),
    ("Activation", &[]),
    ("LeakyReLU", &[]),
    ("dot", &[]),
    ("batch_dot", &[]),
    ("FullyConnected", &[]),
    ("softmax", &[]),
    ("log_softmax", &[]),
    ("SoftmaxOutput", &["Softmax"]),
    ("LinearRegressionOutput", &[]),
    ("LogisticRegressionOutput", &[]),
    ("MakeLoss", &[]),
    ("Reshape", &["reshape"]),
    ("Flatten", &["flatten"]),
    ("transpose", &[]),
    ("expand_dims", &[]),
    ("squeeze", &[]),
    ("Cast", &["cast"]),
    ("take", &[]),
    ("pick", &[]),
    ("Pad", &["pad"]),
    ("Concat", &["concat"]),
    ("SliceChannel", &["split"]),
    ("slice_axis", &[]),
    ("slice", &["crop"]),
    ("sum", &[]),
    ("mean", &[]),
    ("max", &[]),
    ("min", &[]),
    ("broadcast_to", &[]),
    ("argmax", &[]),
    ("one_hot", &[]),
    ("Embedding", &[]),
    ("Convolution", &[]),
    ("Pooling", &[]),
    ("BatchNorm", &[]),
    ("Dropout", &[]),
    ("_random_uniform", &["random_uniform", "uniform"]),
    ("_random_normal", &["random_normal", "normal"]),
    ("zeros_like", &[]),
    ("ones_like", &[]),
    ("_copy", &[]),
];

#[test]
fn every_promised_operator_is_registered_with_its_aliases() {
    let mut missing = Vec::new();
    for (name, aliases) in OPS {
        match lookup(name) {
            Ok(def) => {
                assert_eq!(def.name, *name, "{name} must be the canonical name");
                for alias in *aliases {
                    match lookup(alias) {
                        Ok(d) => assert_eq!(d.name, *name, "alias {alias}"),
                        Err(_) => missing.push(format!("alias {alias} of {name}")),
                    }
                }
            }
            Err(_) => missing.push((*name).to_string()),
        }
    }
    assert!(missing.is_empty(), "not registered: {missing:?}");
}

#[test]
fn the_listing_is_sorted_unique_and_documented() {
    let all = ops();
    assert!(
        all.windows(2).all(|w| w[0].name < w[1].name),
        "sorted, unique"
    );
    for def in all {
        assert!(
            !def.description.is_empty(),
            "{} has no description",
            def.name
        );
        for spec in def.params() {
            assert!(
                !spec.doc.is_empty(),
                "{}: parameter {} has no doc",
                def.name,
                spec.name
            );
        }
        // Every name and alias finds this registration.
        for name in std::iter::once(&def.name).chain(def.aliases) {
            assert_eq!(lookup(name).map(|d| d.name), Ok(def.name));
        }
    }
}

#[test]
fn unknown_names_suggest_close_ones() {
    let err = lookup("FullyConected").unwrap_err().to_string();
    assert!(err.contains("FullyConnected"), "{err}");
    let err = lookup("no_such_operator_at_all").unwrap_err().to_string();
    assert!(err.contains("operators are registered"), "{err}");
}

/// A run-time operator for the registration tests: `_copy` under another name.
#[derive(Debug)]
struct RunTimeCopy;

impl super::OpFactory for RunTimeCopy {
    fn params(&self) -> Vec<super::attrs::ParamSpec> {
        Vec::new()
    }
    fn create(&self, attrs: &[(&str, &str)]) -> crate::Result<super::OpRef> {
        super::create("_copy", attrs, None)
    }
}

static RUN_TIME_COPY: RunTimeCopy = RunTimeCopy;

fn run_time_def(name: &'static str) -> super::OpDef {
    super::OpDef::dynamic(
        name,
        "A copy registered at run time (test).",
        &RUN_TIME_COPY,
    )
}

#[test]
fn run_time_registration_is_atomic_and_refuses_taken_names() {
    use super::{create, origin, register};
    // A built-in alias is taken; nothing of the refused batch is registered.
    let err = register(
        vec![run_time_def("rt_test_a"), run_time_def("identity")],
        "test A",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot register operator `identity` from test A: the name is taken by a built-in operator"
    );
    assert!(lookup("rt_test_a").is_err());
    // A name given twice in one batch.
    let err = register(
        vec![run_time_def("rt_test_b"), run_time_def("rt_test_b")],
        "test B",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot register operator `rt_test_b` from test B: the name is taken by another \
         operator registered with it"
    );
    assert!(lookup("rt_test_b").is_err());
    // Run-time operators, with aliases, are found like built-in ones...
    let defs = register(
        vec![run_time_def("rt_test_c").aliases(&["rt_test_c_alias"])],
        "test C",
    )
    .unwrap();
    assert!(defs[0].is_dynamic() && !lookup("Activation").unwrap().is_dynamic());
    assert_eq!(lookup("rt_test_c_alias").unwrap().name, "rt_test_c");
    assert_eq!(origin("rt_test_c_alias").as_deref(), Some("test C"));
    assert_eq!(origin("Activation"), None);
    assert_eq!(create("rt_test_c", &[], None).unwrap().name(), "_copy");
    assert!(ops().iter().any(|d| d.name == "rt_test_c"));
    // ... and hold their names against later registrations.
    let err = register(vec![run_time_def("rt_test_c_alias")], "test D").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot register operator `rt_test_c_alias` from test D: the name is taken by an \
         operator from test C"
    );
}

/// A value for each required parameter of the built-in operators (enough to instantiate them).
fn required_value(op: &str, name: &str) -> &'static str {
    match name {
        "act_type" => "relu",
        "num_hidden" | "num_filter" | "num_args" | "num_outputs" | "output_dim" => "2",
        "input_dim" | "depth" => "3",
        "kernel" => "(2, 2)",
        "lr" => "0.1",
        "lrs" => "(0.1,)",
        "wds" => "(0.0,)",
        "axis" => "0",
        "begin" => "0",
        "end" => "1",
        "a_min" => "0",
        "a_max" => "1",
        "p_value" => "2",
        "dtype" => "float32",
        "mode" => "constant",
        "pad_width" => "(0, 0, 0, 0, 1, 1, 1, 1)",
        other => panic!("operator {op}: no test value for its required parameter `{other}`"),
    }
}

/// Every built-in operator (forward and backward) has a GPU kernel (issue 8); the GPU kernels
/// themselves are checked against the CPU kernels in each family's tests.
#[test]
fn every_built_in_operator_has_a_gpu_kernel() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for def in super::ops() {
        if super::origin(def.name).is_some() {
            continue; // registered at run time by another test
        }
        let mut values: Vec<(&str, &str)> = def
            .params()
            .iter()
            .filter(|p| p.default.is_none())
            .map(|p| (p.name, required_value(def.name, p.name)))
            .collect();
        if def.name.contains("Pooling") {
            values.push(("kernel", "(2, 2)")); // required unless global_pool
        }
        let op = def
            .create(&values)
            .unwrap_or_else(|e| panic!("cannot instantiate {}: {e}", def.name));
        checked += 1;
        if !op.has_gpu() {
            missing.push(def.name);
        }
    }
    assert!(checked > 100, "only {checked} operators");
    assert!(
        missing.is_empty(),
        "operators without a GPU kernel: {missing:?}"
    );
}

/// A GPU view never reaches past the memory it was made from: too short data is refused, and
/// a shape grown afterwards makes its typed slices errors, not longer slices.
#[test]
fn gpu_tensors_stay_inside_their_memory() {
    use mxr_kernels::DType;
    use mxr_kernels::cuda::DeviceSlice;

    use super::GpuTensor;
    let dev = crate::check::gpu::test_device().unwrap();
    let buf = dev.alloc(24).unwrap();
    let data = DeviceSlice::of_buffer(&buf);
    assert!(GpuTensor::new("t", &[7], DType::F32, data).is_err());
    let mut t = GpuTensor::new("t", &[2, 3], DType::F32, data).unwrap();
    assert_eq!(t.f32("t").unwrap().len(), 6);
    assert!(t.slice::<i32>("t").is_err());
    t.shape = &[4, 3];
    assert!(t.f32("t").is_err());
    assert!(t.bytes("t").is_err());
}
