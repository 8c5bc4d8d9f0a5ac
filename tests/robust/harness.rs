//! The checks the fuzz targets run on one input, shared with the regression tests.
//!
//! Each function takes arbitrary bytes and must return normally: bad input is an `Err` from mxr,
//! never a panic, an abort or an allocation out of proportion to the input. Where mxr accepts
//! the input, the function also checks a property (re-encoding round-trips, parsed parameters
//! re-parse to the same operator). The fuzz targets in `fuzz/fuzz_targets/` include this file
//! with `#[path]`; `tests/robust.rs` runs it on every input in `fuzz/regressions/`.

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::format::{decode_params, encode_params};
use mxr::nd::NDArray;
use mxr::operators::registry::{self, Shape, ShapeCtx, TypeCtx};
use mxr::sym::Symbol;

/// The most elements a fuzzed graph may bind: the harness's memory budget, not a limit of mxr
/// (a service embedding mxr decides what it allows the graphs it binds).
const BIND_BUDGET: usize = 1 << 20;

/// The `.params` decoder: any bytes give an array file or an error; an accepted file
/// re-encodes to bytes that decode to the same file, and its arrays become NDArrays.
pub(crate) fn params(data: &[u8]) {
    let Ok(file) = decode_params(data, "fuzz input") else {
        return;
    };
    let bytes = encode_params(&file);
    let again = decode_params(&bytes, "re-encoded").expect("a re-encoded file decodes");
    assert_eq!(again, file, "decode(encode(file)) == file");
    let arrays: Vec<_> = match &file {
        mxr::format::ParamsFile::List(a) => a.iter().collect(),
        mxr::format::ParamsFile::Named(e) => e.iter().map(|(_, a)| a).collect(),
    };
    for raw in arrays {
        if let Ok(nd) = NDArray::from_raw(raw) {
            let back = nd
                .to_raw()
                .expect("an NDArray made from a record converts back");
            assert_eq!(back.data(), raw.data());
            assert_eq!(back.shape(), raw.shape());
        }
    }
}

/// The symbol JSON loader, then binding: text loads or errors; a loaded symbol writes JSON that
/// loads to the same JSON; its shapes are inferred from a few guesses for the first argument
/// and, when they fit the harness's budget, it binds and runs forward and backward.
pub(crate) fn symbol_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(symbol) = Symbol::from_json(text) else {
        return;
    };
    let json = symbol.to_json().expect("a loaded symbol writes its JSON");
    let back = Symbol::from_json(&json).expect("written JSON loads");
    assert_eq!(back.to_json().expect("and writes again"), json);
    let args = symbol.list_arguments();
    let _ = symbol.infer_shape_partial(&[]);
    let _ = symbol.infer_type(&[]);
    let Some(first) = args.first() else {
        return;
    };
    for guess in [&[2usize, 3][..], &[2, 3, 4, 4], &[4], &[2, 2, 3]] {
        let Ok((arg_shapes, out_shapes, aux_shapes)) = symbol.infer_shape(&[(first, guess)]) else {
            continue;
        };
        let elements: usize = arg_shapes
            .iter()
            .chain(&out_shapes)
            .chain(&aux_shapes)
            .map(|s| s.iter().try_fold(1usize, |n, &d| n.checked_mul(d)))
            .try_fold(0usize, |n, s| n.checked_add(s?))
            .unwrap_or(usize::MAX);
        if elements > BIND_BUDGET {
            continue;
        }
        let Ok(mut exec) =
            symbol.simple_bind(Context::cpu(0), &[(first, guess)], GradReq::Write, &[])
        else {
            continue;
        };
        if exec.forward(true).is_ok() {
            for out in exec.outputs() {
                let _ = out.wait_to_read();
            }
            let heads: Vec<NDArray> = exec
                .outputs()
                .iter()
                .filter_map(|o| NDArray::new(o.shape(), o.dtype(), Context::cpu(0)).ok())
                .collect();
            if exec.backward(&heads).is_ok() {
                for g in exec.grad_arrays().iter().flatten() {
                    let _ = g.wait_to_read();
                }
            }
        }
        break;
    }
}

/// One registered operator's parameters. Byte 0 is the input count for variable-arity
/// operators (when below 16), bytes 1–4 a seed for input shapes, the rest text: the operator's
/// name on the first line (a name not registered picks one by its first byte), then `key=value`
/// lines. Parsing errors or gives an operator whose attributes re-parse to the same attributes;
/// its shape and type inference then run on small random input shapes.
pub(crate) fn op_attrs(data: &[u8]) {
    let [num_inputs, s0, s1, s2, s3, rest @ ..] = data else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let name = lines.next().unwrap_or_default();
    // Not `registry::lookup`: its error for an unknown name ranks every name by edit distance,
    // which would take most of the fuzzer's time.
    let ops = registry::ops();
    let def = ops
        .iter()
        .find(|d| d.name == name || d.aliases.contains(&name))
        .copied()
        .unwrap_or_else(|| ops[usize::from(name.bytes().next().unwrap_or(0)) % ops.len()]);
    let attrs: Vec<(&str, &str)> = lines.filter_map(|line| line.split_once('=')).collect();
    let num_inputs = (*num_inputs < 16).then_some(usize::from(*num_inputs));
    let Ok(operator) = def.instantiate(&attrs, num_inputs) else {
        return;
    };
    let written = operator.attrs();
    let pairs: Vec<(&str, &str)> = written
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let again = def
        .instantiate(&pairs, None)
        .unwrap_or_else(|e| panic!("{}: its own attrs {written:?} fail to parse: {e}", def.name));
    assert_eq!(again.attrs(), written, "{}: attrs round-trip", def.name);
    let names = operator.input_names();
    assert_eq!(names.len(), operator.num_inputs());
    if names.len() > 64 {
        return;
    }
    let mut seed = u32::from_le_bytes([*s0, *s1, *s2, *s3]);
    let mut next = |m: u32| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 16) % m
    };
    let mut inputs: Vec<Shape> = (0..names.len())
        .map(|_| match next(6) {
            0 => Shape::unknown(),
            rank => Shape::known(&(0..rank).map(|_| next(4) as usize + 1).collect::<Vec<_>>()),
        })
        .collect();
    let mut outputs = vec![Shape::unknown(); operator.num_outputs()];
    let mut ctx = ShapeCtx::new(def.name, &names, &mut inputs, &mut outputs);
    let _ = operator.infer_shape(&mut ctx);
    let mut in_types = vec![Some(mxr::DType::F32); names.len()];
    let mut out_types = vec![None; operator.num_outputs()];
    let mut types = TypeCtx::new(def.name, &names, &mut in_types, &mut out_types);
    let _ = operator.infer_type(&mut types);
}

/// The IDX reader on bytes held in memory, as images and as labels: the data returned has the
/// size the header announces.
pub(crate) fn idx(data: &[u8]) {
    if let Ok((n, rows, cols, pixels)) = mxr::io::decode_idx_images(data, "fuzz input") {
        assert_eq!(
            Some(pixels.len()),
            n.checked_mul(rows).and_then(|x| x.checked_mul(cols))
        );
    }
    if let Ok(labels) = mxr::io::decode_idx_labels(data, "fuzz input") {
        assert!(labels.len() <= data.len() || data.starts_with(&[0x1f, 0x8b]));
    }
}

/// The ONNX reader and importer: any bytes decode to a model or give an error; a decoded model
/// imports or gives an error (unknown operators, missing inputs, sizes against dims, shapes
/// that overflow); an imported symbol writes its JSON.
pub(crate) fn onnx(data: &[u8]) {
    let Ok(model) = mxr::onnx::proto::decode_model(data, "fuzz input") else {
        return;
    };
    if let Ok((symbol, _, _)) = mxr::onnx::import_model(model, None) {
        symbol
            .to_json()
            .expect("an imported symbol writes its JSON");
    }
}
