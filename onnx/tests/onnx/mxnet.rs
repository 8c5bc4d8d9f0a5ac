//! MXNet's exporter against mxr's importer, mxr's exporter against onnxruntime, and mxr's
//! round trip.

use mxr_frontend::sym::NamedArrays;

use super::nets::{self, assert_close, forward, temp_dir};
use super::python;

/// The shape each network is fed.
fn input_shape(net: &str) -> Vec<usize> {
    if net == "mlp" {
        vec![4, 784]
    } else {
        vec![2, 1, 28, 28]
    }
}

#[test]
fn mxnet_exports_of_the_mlp_and_lenet_import_and_match_mxnet() {
    let Some(mxnet) = python::mxnet() else { return };
    let ort = python::onnxruntime();
    for net in ["mlp", "lenet"] {
        let dir = temp_dir(&format!("mxnet-{net}"));
        python::run(&mxnet, python::MXNET_NETS, &[net, &dir.to_string_lossy()]);
        let model = dir.join(format!("{net}.onnx"));
        let (sym, args, aux) = mxr_onnx::import(&model).unwrap();
        let arguments = sym.list_arguments();
        assert_eq!(arguments[0], "data", "{net}: the input keeps its name");
        // The parameters keep MXNet's names; the label MXNet's exporter writes as an
        // initializer is read by nothing and left out.
        let (_, want_args, _) =
            mxr_frontend::sym::load_checkpoint(&dir.join(net).to_string_lossy(), 0).unwrap();
        let mut names: Vec<&str> = args.iter().map(|(n, _)| n.as_str()).collect();
        let mut want: Vec<&str> = want_args.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        want.sort_unstable();
        assert_eq!(names, want, "{net}: parameters");
        assert!(aux.is_empty());
        let shape = input_shape(net);
        let input = python::read_f32(&dir.join("input.f32"));
        let mxnet_out = python::read_f32(&dir.join("mxnet.f32"));
        let got = forward(&sym, &args, &aux, &shape, &input);
        assert_close(
            &got,
            &mxnet_out,
            1e-5,
            1e-6,
            &format!("{net}: mxr vs MXNet"),
        );
        // The checkpoint `mxr onnx import` writes loads in MXNet and computes the same.
        let prefix = dir.join("imported").to_string_lossy().into_owned();
        mxr_frontend::sym::save_checkpoint(&prefix, 0, &sym, &args, &aux).unwrap();
        let out = dir.join("imported.f32");
        let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
        let inp = dir.join("input.f32");
        let argv = [
            &*prefix,
            &inp.to_string_lossy(),
            &dims.join(","),
            &out.to_string_lossy(),
        ];
        python::run(&mxnet, python::MXNET_CHECKPOINT, &argv);
        let again = python::read_f32(&out);
        assert_close(
            &again,
            &mxnet_out,
            1e-5,
            1e-6,
            &format!("{net}: MXNet on mxr's checkpoint"),
        );
        if let Some(ort) = &ort {
            let ort_out = python::run_onnxruntime(ort, &model, &input, &shape);
            assert_close(
                &ort_out,
                &mxnet_out,
                1e-5,
                1e-6,
                &format!("{net}: onnxruntime vs MXNet"),
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn mxr_exports_of_the_mlp_and_lenet_run_in_onnxruntime() {
    let Some(ort) = python::onnxruntime() else {
        return;
    };
    for (name, net) in [("mlp", nets::mlp()), ("lenet", nets::lenet())] {
        let dir = temp_dir(&format!("export-{name}"));
        let shape = input_shape(name);
        let args = nets::params(&net, &shape);
        let input = nets::values(shape.iter().product(), 99, 1.0);
        let want = forward(&net, &args, &vec![], &shape, &input);
        let model = dir.join(format!("{name}.onnx"));
        mxr_onnx::export(&net, &args, &[], &[("data", &shape)], &model).unwrap();
        let got = python::run_onnxruntime(&ort, &model, &input, &shape);
        assert_close(
            &got,
            &want,
            1e-5,
            1e-6,
            &format!("{name}: onnxruntime vs mxr"),
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_round_trip_keeps_outputs_bit_for_bit() {
    for (name, net) in [("mlp", nets::mlp()), ("lenet", nets::lenet())] {
        let dir = temp_dir(&format!("round-{name}"));
        let shape = input_shape(name);
        let args = nets::params(&net, &shape);
        let input = nets::values(shape.iter().product(), 5, 1.0);
        let want = forward(&net, &args, &vec![], &shape, &input);
        let model = dir.join("net.onnx");
        mxr_onnx::export(&net, &args, &[], &[("data", &shape)], &model).unwrap();
        let (back, back_args, back_aux) = mxr_onnx::import(&model).unwrap();
        let got = forward(&back, &back_args, &back_aux, &shape, &input);
        assert_eq!(got, want, "{name}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A network of the registry operators beyond the model zoo's that export converts:
/// slice_axis, hard_sigmoid, square, SliceChannel, _power_scalar, sum, mean, max, min.
fn more_ops() -> mxr_frontend::sym::Symbol {
    use mxr_frontend::sym::Symbol;
    use nets::build_op as op;
    let data = Symbol::variable("data");
    let cut = op(
        "slice_axis",
        &[&data],
        &[("axis", "1"), ("begin", "1"), ("end", "5")],
        "cut",
    );
    let hs = op("hard_sigmoid", &[&cut], &[("alpha", "0.3")], "hs");
    let sq = op("square", &[&hs], &[], "sq");
    let halves = op(
        "SliceChannel",
        &[&sq],
        &[("num_outputs", "2"), ("axis", "1")],
        "halves",
    );
    let second = halves.output(1).unwrap();
    let cube = op("_power_scalar", &[&second], &[("scalar", "3")], "cube");
    let s = op(
        "sum",
        &[&cube],
        &[("axis", "(2,)"), ("keepdims", "True")],
        "s",
    );
    let m = op(
        "mean",
        &[&cube],
        &[("axis", "(2,)"), ("keepdims", "True")],
        "m",
    );
    let hi = op(
        "max",
        &[&cube],
        &[("axis", "(2,)"), ("keepdims", "True")],
        "hi",
    );
    let lo = op(
        "min",
        &[&cube],
        &[("axis", "(2,)"), ("keepdims", "True")],
        "lo",
    );
    let a = op("broadcast_add", &[&s, &m], &[], "a");
    let b = op("broadcast_sub", &[&hi, &lo], &[], "b");
    op("elemwise_mul", &[&a, &b], &[], "y")
}

/// The elementwise, scalar, layout and product operators export converts, in one network
/// over data of shape (2, 3, 4).
fn elementwise_ops() -> (mxr_frontend::sym::Symbol, NamedArrays) {
    use mxr_frontend::sym::Symbol;
    use nets::build_op as op;
    let data = Symbol::variable("data");
    let w = Symbol::variable("w");
    let a = op("_rminus_scalar", &[&data], &[("scalar", "0.5")], "a");
    let b = op("_mul_scalar", &[&a], &[("scalar", "1.5")], "b");
    let c = op("clip", &[&b], &[("a_min", "-1"), ("a_max", "1.2")], "c");
    let d = op(
        "LeakyReLU",
        &[&c],
        &[("act_type", "elu"), ("slope", "0.7")],
        "d",
    );
    let e = op("LeakyReLU", &[&d], &[("slope", "0.1")], "e");
    let f = op("abs", &[&e], &[], "f");
    let g = op("_plus_scalar", &[&f], &[("scalar", "0.25")], "g");
    let h = op(
        "sqrt",
        &[&op("log", &[&op("exp", &[&g], &[], "ex")], &[], "lg")],
        &[],
        "h",
    );
    let i = op("_rdiv_scalar", &[&h], &[("scalar", "1")], "i");
    let j = op(
        "negative",
        &[&op("Dropout", &[&i], &[("p", "0.3")], "drop")],
        &[],
        "j",
    );
    let t = op("transpose", &[&j], &[("axes", "(0, 2, 1)")], "t");
    let k = op("batch_dot", &[&j, &t], &[], "k");
    let l = op("Concat", &[&k, &j], &[("dim", "2")], "l");
    let m = op("Reshape", &[&l], &[("shape", "(-3, 0)")], "m");
    let n = op("dot", &[&m, &w], &[("transpose_b", "True")], "n");
    let o = op("Activation", &[&n], &[("act_type", "softrelu")], "o");
    let p = op("expand_dims", &[&o], &[("axis", "1")], "p");
    let q = op(
        "FullyConnected",
        &[&p],
        &[("num_hidden", "5"), ("flatten", "False")],
        "q",
    );
    let r = op("softmax", &[&q], &[("axis", "1")], "r");
    let net = op("log_softmax", &[&r], &[], "y");
    let args = nets::params_for(&net, &[("data", &[2, 3, 4]), ("w", &[4, 7])]);
    (net, args)
}

#[test]
fn more_registry_operators_export_and_come_back() {
    let dir = temp_dir("more-ops");
    let ort = python::onnxruntime();
    let (elementwise, elementwise_args) = elementwise_ops();
    let nets = [
        (more_ops(), vec![], vec![2usize, 6, 4]),
        (elementwise, elementwise_args, vec![2, 3, 4]),
    ];
    for (i, (net, args, shape)) in nets.into_iter().enumerate() {
        let input = nets::values(shape.iter().product(), 3, 1.0);
        let want = forward(&net, &args, &vec![], &shape, &input);
        let model = dir.join(format!("more{i}.onnx"));
        mxr_onnx::export(&net, &args, &[], &[("data", &shape)], &model).unwrap();
        let (back, back_args, aux) = mxr_onnx::import(&model).unwrap();
        assert_eq!(
            forward(&back, &back_args, &aux, &shape, &input),
            want,
            "round trip {i}"
        );
        if let Some(ort) = &ort {
            let got = python::run_onnxruntime(ort, &model, &input, &shape);
            assert_close(
                &got,
                &want,
                1e-5,
                1e-6,
                &format!("network {i}: onnxruntime vs mxr"),
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
