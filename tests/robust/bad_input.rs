//! Bad input, class by class: each crafted input and the error it must give (printed with
//! `--nocapture`, for the record).

use mxr::engine::Context;
use mxr::format::decode_params;
use mxr::nd::NDArray;
use mxr::operators::registry;
use mxr::sym::Symbol;

const V2: u32 = 0xF993_FAC9;

fn header(count: u64) -> Vec<u8> {
    [0x112u64.to_le_bytes(), [0; 8], count.to_le_bytes()].concat()
}

/// A one-record file: the record's fields after the magic, then `tail`.
fn record(stype: i32, dims: &[i64], dev: (i32, i32), flag: i32, data: &[u8]) -> Vec<u8> {
    let mut f = header(1);
    f.extend(V2.to_le_bytes());
    f.extend(stype.to_le_bytes());
    f.extend((dims.len() as i32).to_le_bytes());
    for d in dims {
        f.extend(d.to_le_bytes());
    }
    f.extend(dev.0.to_le_bytes());
    f.extend(dev.1.to_le_bytes());
    f.extend(flag.to_le_bytes());
    f.extend(data);
    f.extend([0; 8]);
    f
}

fn check<T: std::fmt::Debug>(class: &str, what: &str, r: Result<T, mxr::Error>, expected: &str) {
    let e = match r {
        Ok(v) => panic!("{class} / {what}: accepted: {v:?}"),
        Err(e) => e.to_string(),
    };
    eprintln!("{class} | {what} | {e}");
    assert!(
        e.contains(expected),
        "{class} / {what}: {e}\nexpected: {expected}"
    );
}

#[test]
fn bad_params_files() {
    let c = "params";
    let ok = record(0, &[2], (1, 0), 0, &[0; 8]);
    decode_params(&ok, "ok").expect("the well-formed record decodes");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated: reading the file magic"),
        (
            "wrong magic",
            [7u64.to_le_bytes(), [0; 8], [0; 8]].concat(),
            "not an NDArray file",
        ),
        ("count 2^60, no records", header(1 << 60), "truncated"),
        (
            "negative ndim",
            {
                let mut f = header(1);
                f.extend(V2.to_le_bytes());
                f.extend([0; 4]);
                f.extend((-3i32).to_le_bytes());
                f
            },
            "negative ndim -3",
        ),
        (
            "negative dim",
            record(0, &[-5], (1, 0), 0, &[]),
            "dim 0 is -5",
        ),
        (
            "dims overflowing",
            record(0, &[1 << 40, 1 << 40, 1 << 40], (1, 0), 0, &[]),
            "overflows",
        ),
        (
            "huge dim, no data",
            record(0, &[1 << 50], (1, 0), 0, &[]),
            "truncated: reading the data",
        ),
        (
            "sparse storage",
            record(1, &[2], (1, 0), 0, &[0; 8]),
            "row_sparse, not supported",
        ),
        (
            "unknown dtype",
            record(0, &[2], (1, 0), 99, &[0; 8]),
            "unknown dtype flag 99",
        ),
        (
            "unknown device",
            record(0, &[2], (9, 0), 0, &[0; 8]),
            "unknown device type 9",
        ),
        (
            "negative device id",
            record(0, &[2], (1, -1), 0, &[0; 8]),
            "negative device id -1",
        ),
        (
            "names count mismatch",
            {
                let mut f = ok.clone();
                let n = f.len();
                f[n - 8..].copy_from_slice(&5u64.to_le_bytes());
                f
            },
            "name count",
        ),
        (
            "name length 2^62",
            {
                let mut f = ok.clone();
                let n = f.len();
                f[n - 8..].copy_from_slice(&1u64.to_le_bytes());
                f.extend((1u64 << 62).to_le_bytes());
                f
            },
            "truncated: reading the name",
        ),
        (
            "invalid UTF-8 name",
            {
                let mut f = ok.clone();
                let n = f.len();
                f[n - 8..].copy_from_slice(&1u64.to_le_bytes());
                f.extend(2u64.to_le_bytes());
                f.extend([0xff, 0xfe]);
                f
            },
            "not valid UTF-8",
        ),
        (
            "trailing bytes",
            [ok.clone(), vec![1, 2, 3]].concat(),
            "3 bytes follow the end",
        ),
    ];
    for (what, bytes, expected) in cases {
        check(c, what, decode_params(&bytes, "crafted.params"), expected);
    }
}

fn graph(nodes: &str, heads: &str) -> String {
    format!(
        r#"{{"nodes": [{nodes}], "arg_nodes": [0], "heads": [{heads}],
            "attrs": {{"mxnet_version": ["int", 10901]}}}}"#
    )
}

const DATA: &str = r#"{"op": "null", "name": "data", "inputs": []}"#;

#[test]
fn bad_symbol_json() {
    let c = "symbol JSON";
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{".into(), "at line 1"),
        (
            "deep nesting, skipped",
            format!(
                r#"{{"attrs": {{"x": {}{}}}}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            "required field `nodes` is missing",
        ),
        (
            "top level not an object",
            "[]".into(),
            "the top level to be an object",
        ),
        (
            "missing heads",
            r#"{"nodes": [], "arg_nodes": []}"#.into(),
            "`heads` is missing",
        ),
        (
            "unknown operator",
            graph(
                &format!(r#"{DATA}, {{"op": "NoSuchOp", "name": "x", "inputs": [[0, 0]]}}"#),
                "[1, 0]",
            ),
            "NoSuchOp",
        ),
        (
            "input out of range",
            graph(
                &format!(r#"{DATA}, {{"op": "relu", "name": "r", "inputs": [[7, 0]]}}"#),
                "[1, 0]",
            ),
            "refers to node 7",
        ),
        (
            "output index out of range",
            graph(
                &format!(r#"{DATA}, {{"op": "relu", "name": "r", "inputs": [[0, 3]]}}"#),
                "[1, 0]",
            ),
            "reads output 3",
        ),
        (
            "cycle",
            graph(
                &format!(
                    r#"{DATA}, {{"op": "elemwise_add", "name": "a", "inputs": [[0, 0], [1, 0]]}}"#
                ),
                "[1, 0]",
            ),
            "cycle",
        ),
        (
            "wrong input count",
            graph(
                &format!(r#"{DATA}, {{"op": "elemwise_add", "name": "a", "inputs": [[0, 0]]}}"#),
                "[1, 0]",
            ),
            "takes 2 inputs",
        ),
        (
            "bad parameter",
            graph(
                &format!(
                    r#"{DATA}, {{"op": "FullyConnected", "name": "f", "attrs": {{"num_hidden": "-4"}}, "inputs": [[0, 0], [0, 0], [0, 0]]}}"#
                ),
                "[1, 0]",
            ),
            "num_hidden",
        ),
        (
            "num_args 10^12",
            graph(
                &format!(
                    r#"{DATA}, {{"op": "Concat", "name": "c", "attrs": {{"num_args": "1000000000000"}}, "inputs": [[0, 0]]}}"#
                ),
                "[1, 0]",
            ),
            "must be between 1 and 65536",
        ),
        (
            "negative index",
            graph(DATA, "[-1, 0]"),
            "non-negative integer",
        ),
        (
            "index 2^64",
            graph(DATA, "[18446744073709551616, 0]"),
            "non-negative integer",
        ),
    ];
    for (what, text, expected) in cases {
        check(c, what, Symbol::from_json(&text), expected);
    }
}

#[test]
fn bad_operator_attributes() {
    let c = "op attrs";
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: &[Case] = &[
        ("FullyConnected", &[], "num_hidden"),
        ("FullyConnected", &[("num_hidden", "x")], "num_hidden"),
        (
            "FullyConnected",
            &[("num_hidden", "-1")],
            "must not be negative",
        ),
        (
            "FullyConnected",
            &[("num_hidden", "99999999999999999999999")],
            "num_hidden",
        ),
        (
            "FullyConnected",
            &[("num_hidden", "3"), ("bogus", "1")],
            "bogus",
        ),
        (
            "Convolution",
            &[("kernel", "(3, 3"), ("num_filter", "2")],
            "kernel",
        ),
        ("Activation", &[("act_type", "ReLU")], "act_type"),
        (
            "Concat",
            &[("num_args", "0")],
            "must be between 1 and 65536",
        ),
        (
            "Concat",
            &[("num_args", "1000000000000")],
            "must be between 1 and 65536",
        ),
        (
            "SliceChannel",
            &[("num_outputs", "4294967296")],
            "must be between 1 and 65536",
        ),
        ("_plus_scalar", &[("scalar", "one")], "scalar"),
        ("Dropout", &[("p", "nan?")], "p"),
    ];
    for (op, attrs, expected) in cases {
        let what = format!("{op} {attrs:?}");
        let r = registry::create(op, attrs, None).map_err(mxr::Error::from);
        check(c, &what, r, expected);
    }
}

fn idx_header(ndims: u8, dims: &[u32]) -> Vec<u8> {
    let mut f = vec![0, 0, 8, ndims];
    for d in dims {
        f.extend(d.to_be_bytes());
    }
    f
}

#[test]
fn bad_idx_files() {
    let c = "IDX";
    let gz = |data: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated header"),
        ("wrong magic", vec![1, 2, 3, 4], "not an IDX file"),
        ("float elements", vec![0, 0, 0x0d, 3], "not unsigned bytes"),
        (
            "labels as images",
            idx_header(1, &[3]),
            "1 dimensions, expected 3",
        ),
        ("header cut", idx_header(3, &[1, 2]), "truncated header"),
        (
            "4G^3 announced, no data",
            idx_header(3, &[u32::MAX; 3]),
            "are too large",
        ),
        (
            "2^32 announced, no data",
            idx_header(3, &[1 << 16, 1 << 16, 1]),
            "truncated",
        ),
        (
            "data short",
            [idx_header(3, &[2, 2, 2]), vec![0; 7]].concat(),
            "call for 8 bytes",
        ),
        (
            "data long",
            [idx_header(3, &[1, 1, 1]), vec![0; 2]].concat(),
            "more data than the 1 bytes",
        ),
        (
            "corrupt gzip",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3],
            "gzip",
        ),
        (
            "gzip, data short",
            gz(&[idx_header(3, &[4, 4, 4]), vec![0; 10]].concat()),
            "the decompressed file has 10",
        ),
    ];
    for (what, bytes, expected) in cases {
        check(
            c,
            what,
            mxr::io::decode_idx_images(&bytes, "crafted-idx3"),
            expected,
        );
    }
}

#[test]
fn absurd_shapes() {
    let c = "shapes";
    check(
        c,
        "NDArray 2^32 x 2^32 x 2^32",
        NDArray::new(
            &[1 << 32, 1 << 32, 1 << 32],
            mxr::DType::F32,
            Context::cpu(0),
        ),
        "too many elements",
    );
    check(
        c,
        "NDArray 2^62 float64",
        NDArray::new(&[1 << 62], mxr::DType::F64, Context::cpu(0)),
        "too large",
    );
    check(
        c,
        "NDArray 2^40 bytes",
        NDArray::new(&[1 << 40], mxr::DType::U8, Context::cpu(0)),
        "out of memory",
    );
    let data = Symbol::variable("data");
    let fc = mxr::sym::fully_connected(&data, 1 << 40)
        .build()
        .expect("the symbol");
    check(
        c,
        "FullyConnected num_hidden 2^40 on (2^30, 2^30)",
        fc.infer_shape(&[("data", &[1 << 30, 1 << 30])]),
        "more than 9223372036854775807 elements",
    );
    let attr = r#"{"nodes": [{"op": "null", "name": "x", "attrs": {"__shape__": "(4294967296, 4294967296, 4294967296)"}, "inputs": []}, {"op": "Flatten", "name": "f", "inputs": [[0, 0, 0]]}], "arg_nodes": [0], "heads": [[1, 0, 0]]}"#;
    let sym = Symbol::from_json(attr).expect("loads (shapes are checked at inference)");
    check(
        c,
        "__shape__ (2^32, 2^32, 2^32)",
        sym.infer_shape(&[]),
        "more than 9223372036854775807 elements",
    );
    let huge: &[usize] = &[1 << 32, 1 << 32, 1 << 32];
    check(
        c,
        "bind with shape (2^32, 2^32, 2^32)",
        sym.simple_bind(
            Context::cpu(0),
            &[("x", huge)],
            mxr::exec::GradReq::Null,
            &[],
        )
        .map(|_| ()),
        "more than 9223372036854775807 elements",
    );
    check(
        c,
        "given shape 2^62 x 4",
        data.infer_shape(&[("data", &[1 << 62, 4])]),
        "more than 9223372036854775807 elements",
    );
    let neg = r#"{"nodes": [{"op": "null", "name": "x", "attrs": {"__shape__": "(-2, 3)"}, "inputs": []}], "arg_nodes": [0], "heads": [[0, 0, 0]]}"#;
    let sym = Symbol::from_json(neg).expect("loads");
    check(
        c,
        "__shape__ (-2, 3)",
        sym.infer_shape(&[]),
        "cannot decide the shape",
    );
}
