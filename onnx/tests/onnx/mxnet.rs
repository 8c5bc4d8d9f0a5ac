//! MXNet's exporter against mxr's importer, mxr's exporter against onnxruntime, and mxr's
//! round trip.

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
