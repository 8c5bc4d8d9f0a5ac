//! Gluon model-zoo networks (resnet18_v1, mobilenet1_0; benches/mxnet/export_zoo.py) through
//! MXNet's ONNX exporter into mxr, and through mxr's exporter into onnxruntime. Images are
//! 64×64 (the networks pool globally) to keep the debug build quick.

use std::path::Path;

use super::nets::{assert_close, forward, temp_dir};
use super::python;

const NETS: [&str; 2] = ["resnet18_v1", "mobilenet1_0"];
const SHAPE: [usize; 4] = [2, 3, 64, 64];

#[test]
fn model_zoo_networks_convert_both_ways() {
    let Some(mxnet) = python::mxnet() else { return };
    let ort = python::onnxruntime();
    let dir = temp_dir("zoo");
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/mxnet");
    let mut args = vec![
        scripts.to_string_lossy().into_owned(),
        dir.to_string_lossy().into_owned(),
    ];
    args.extend(NETS.iter().map(|n| n.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    python::run(&mxnet, python::MXNET_ZOO, &args);
    let input = python::read_f32(&dir.join("input.f32"));
    for name in NETS {
        let want = python::read_f32(&dir.join(format!("{name}-mxnet.f32")));
        // MXNet's export, imported.
        let (sym, params, aux) = mxr_onnx::import(dir.join(format!("{name}.onnx"))).unwrap();
        assert!(
            !aux.is_empty(),
            "{name}: BatchNorm statistics are auxiliary states"
        );
        let got = forward(&sym, &params, &aux, &SHAPE, &input);
        assert_close(
            &got,
            &want,
            1e-4,
            1e-5,
            &format!("{name}: mxr (imported) vs MXNet"),
        );
        // MXNet on the checkpoint of the import (what `mxr onnx import` writes).
        let imported = dir
            .join(format!("{name}-imported"))
            .to_string_lossy()
            .into_owned();
        mxr_frontend::sym::save_checkpoint(&imported, 0, &sym, &params, &aux).unwrap();
        let out = dir.join(format!("{name}-imported.f32"));
        let inp = dir.join("input.f32");
        let argv = [
            &*imported,
            &inp.to_string_lossy(),
            "2,3,64,64",
            &out.to_string_lossy(),
        ];
        python::run(&mxnet, python::MXNET_CHECKPOINT, &argv);
        let theirs = python::read_f32(&out);
        assert_close(
            &theirs,
            &want,
            1e-4,
            1e-5,
            &format!("{name}: MXNet on the import"),
        );
        // mxr's export of the MXNet checkpoint, in onnxruntime.
        let prefix = dir.join(name).to_string_lossy().into_owned();
        let (net, args, aux) = mxr_frontend::sym::load_checkpoint(&prefix, 0).unwrap();
        let mine = forward(&net, &args, &aux, &SHAPE, &input);
        assert_close(&mine, &want, 1e-4, 1e-5, &format!("{name}: mxr vs MXNet"));
        let model = dir.join(format!("{name}-mxr.onnx"));
        mxr_onnx::export(&net, &args, &aux, &[("data", &SHAPE)], &model).unwrap();
        if let Some(ort) = &ort {
            let theirs = python::run_onnxruntime(ort, &model, &input, &SHAPE);
            assert_close(
                &theirs,
                &mine,
                1e-4,
                1e-5,
                &format!("{name}: onnxruntime vs mxr"),
            );
        }
        // And back: mxr -> ONNX -> mxr keeps the outputs bit for bit.
        let (back, back_args, back_aux) = mxr_onnx::import(&model).unwrap();
        assert_eq!(
            forward(&back, &back_args, &back_aux, &SHAPE, &input),
            mine,
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
