//! The predict API's per-call overhead over the Rust executor, on the docs MLP
//! (784 → 128 → 64 → 10, the conformance checkpoint) at batch 1.
//!
//! Both sides do the same work per inference: copy the input in, run forward, copy the output
//! out. The C side is three calls (`MXPredSetInput`, `MXPredForward`, `MXPredGetOutput`)
//! through libmxr.so's exported symbols; the overhead per call is the difference divided by 3.
//! Rounds alternate between the two, and the medians are compared.

#![allow(missing_docs)]

use std::ffi::{c_char, c_int, c_void};
use std::path::Path;
use std::time::Instant;

use mxr_frontend::engine::Context;
use mxr_frontend::exec::GradReq;
use mxr_frontend::nd;
use mxr_frontend::sym::Symbol;

#[path = "../tests/support/mod.rs"]
mod support;

type Create = unsafe extern "C" fn(
    *const c_char,
    *const c_void,
    c_int,
    c_int,
    c_int,
    u32,
    *const *const c_char,
    *const u32,
    *const u32,
    *mut *mut c_void,
) -> c_int;
type SetInput = unsafe extern "C" fn(*mut c_void, *const c_char, *const f32, u32) -> c_int;
type Forward = unsafe extern "C" fn(*mut c_void) -> c_int;
type GetOutput = unsafe extern "C" fn(*mut c_void, u32, *mut f32, u32) -> c_int;

const ITERS: usize = 20_000;
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/conformance/model");
    let json = std::fs::read_to_string(model.join("fashion_mlp-symbol.json")).expect("symbol");
    let params = std::fs::read(model.join("fashion_mlp-0003.params")).expect("params");
    let input: Vec<f32> = (0..784).map(|i| (i % 256) as f32 / 255.0).collect();
    let mut output = [0f32; 10];

    // The Rust executor.
    let symbol = Symbol::from_json(&json).expect("symbol");
    let mut exec = symbol
        .simple_bind(Context::cpu(0), &[("data", &[1, 784])], GradReq::Null, &[])
        .expect("bind");
    let loaded = nd::load(model.join("fashion_mlp-0003.params")).expect("params");
    let args = exec.arg_dict();
    for name in symbol.list_arguments() {
        if let Some(p) = loaded.get(&format!("arg:{name}")) {
            args[&name].assign(p).expect("parameter");
        }
    }
    let data = args["data"].clone();
    let mut rust_once = || {
        data.assign_slice(&input).expect("input");
        exec.forward(false).expect("forward");
        let out = exec.outputs()[0].to_vec::<f32>().expect("output");
        output.copy_from_slice(&out);
    };

    // The predict API through libmxr.so.
    let lib_path = support::lib_dir().join("libmxr.so");
    // SAFETY: loading libmxr runs no initialisers with preconditions.
    let lib = unsafe { libloading::Library::new(&lib_path) }.expect("load libmxr.so");
    // SAFETY: the symbols have these signatures (include/mxnet/c_predict_api.h).
    let (create, set_input, forward, get_output) = unsafe {
        (
            *lib.get::<Create>(b"MXPredCreate").expect("MXPredCreate"),
            *lib.get::<SetInput>(b"MXPredSetInput")
                .expect("MXPredSetInput"),
            *lib.get::<Forward>(b"MXPredForward").expect("MXPredForward"),
            *lib.get::<GetOutput>(b"MXPredGetOutput")
                .expect("MXPredGetOutput"),
        )
    };
    let json_c = std::ffi::CString::new(json).expect("no NUL");
    let keys = [c"data".as_ptr()];
    let (indptr, shape) = ([0u32, 2], [1u32, 784]);
    let mut handle = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, as MXPredCreate documents.
    let rc = unsafe {
        create(
            json_c.as_ptr(),
            params.as_ptr().cast(),
            params.len() as c_int,
            1,
            0,
            1,
            keys.as_ptr(),
            indptr.as_ptr(),
            shape.as_ptr(),
            &mut handle,
        )
    };
    assert_eq!(rc, 0, "MXPredCreate");
    let mut c_output = [0f32; 10];
    let mut c_once = || {
        // SAFETY: a live handle, a C string, 784 input floats and room for 10 outputs.
        let rc = unsafe {
            set_input(handle, c"data".as_ptr(), input.as_ptr(), 784)
                | forward(handle)
                | get_output(handle, 0, c_output.as_mut_ptr(), 10)
        };
        assert_eq!(rc, 0);
    };

    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..ITERS {
            f();
        }
        start.elapsed().as_secs_f64() * 1e6 / ITERS as f64
    };
    for _ in 0..1000 {
        rust_once();
        c_once();
    }
    let (mut rust, mut c) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        rust.push(time(&mut rust_once));
        c.push(time(&mut c_once));
    }
    let (rust, c) = (median(rust), median(c));
    println!("docs MLP, batch 1, median of {ROUNDS} rounds of {ITERS} inferences:");
    println!("  Rust executor (assign, forward, read):        {rust:8.3} µs per inference");
    println!("  predict API (SetInput, Forward, GetOutput):   {c:8.3} µs per inference");
    println!(
        "  overhead per predict-API call:                {:8.3} µs",
        (c - rust) / 3.0
    );
}
