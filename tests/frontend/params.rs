//! MXNet's NDArray file format (`.params`): the conformance fixtures written by MXNet 1.9.1,
//! hand-built files, corrupt files, and (when a Python with MXNet is at hand) the real MXNet.

use std::fs;
use std::path::{Path, PathBuf};

use mxr::DType;
use mxr::engine::Context;
use mxr::format::{ParamsFile, RawArray, decode_params, encode_params, load_params, save_params};
use mxr_kernels::f16;
use serde_json::Value;

use crate::conformance::fixture;

/// A fresh, empty directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mxr-params-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// The `reason` of a format error (and checks its source name and format).
fn reason(result: mxr::Result<ParamsFile>, source: &str) -> String {
    match result {
        Err(mxr::Error::Format {
            source_name,
            format,
            reason,
        }) => {
            assert_eq!(
                (source_name.as_str(), format),
                (source, "MXNet NDArray file")
            );
            reason
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn entries(file: &ParamsFile) -> Vec<(Option<&str>, &RawArray)> {
    match file {
        ParamsFile::List(arrays) => arrays.iter().map(|a| (None, a)).collect(),
        ParamsFile::Named(named) => named.iter().map(|(k, a)| (Some(k.as_str()), a)).collect(),
    }
}

/// An element, widened exactly.
#[derive(Debug, Clone, Copy)]
enum Elem {
    F(f64),
    I(i64),
}

fn elements(a: &RawArray) -> Vec<Elem> {
    fn all<T: mxr_kernels::Element>(a: &RawArray, f: impl Fn(T) -> Elem) -> Vec<Elem> {
        a.to_vec::<T>().unwrap().into_iter().map(f).collect()
    }
    match a.dtype() {
        DType::F32 => all(a, |v: f32| Elem::F(v.into())),
        DType::F64 => all(a, Elem::F),
        DType::F16 => all(a, |v: f16| Elem::F(v.into())),
        DType::U8 => all(a, |v: u8| Elem::I(v.into())),
        DType::I32 => all(a, |v: i32| Elem::I(v.into())),
        DType::I8 => all(a, |v: i8| Elem::I(v.into())),
        DType::I64 => all(a, Elem::I),
    }
}

/// Checks the first `want.len()` elements (all of them when `all`) against JSON numbers: exact
/// once a number is rounded to the dtype (serde_json may parse a decimal 1 ulp off as f64).
fn assert_values(a: &RawArray, want: &Value, all: bool, what: &str) {
    let want = want.as_array().unwrap();
    let got = elements(a);
    if all {
        assert_eq!(got.len(), want.len(), "{what}: element count");
    }
    for (i, (&g, w)) in got.iter().zip(want).enumerate() {
        let ok = match (a.dtype(), g) {
            (_, Elem::I(g)) => w.as_i64() == Some(g),
            (DType::F32, Elem::F(g)) => w.as_f64().map(|w| f64::from(w as f32)) == Some(g),
            (DType::F16, Elem::F(g)) => w.as_f64().map(|w| f16::from_f64(w).to_f64()) == Some(g),
            (_, Elem::F(g)) => w
                .as_f64()
                .is_some_and(|w| (w - g).abs() <= 2.0 * f64::EPSILON * g.abs()),
        };
        assert!(ok, "{what}: element {i} is {g:?}, expected {w}");
    }
}

/// Checks one array against `{"key", "dtype", "shape", "values"}` (values exact).
fn assert_array(key: Option<&str>, a: &RawArray, want: &Value, what: &str) {
    assert_eq!(key, want["key"].as_str(), "{what}: key");
    assert_eq!(a.dtype().name(), want["dtype"], "{what}: dtype");
    let shape: Vec<u64> = a.shape().iter().map(|&d| d as u64).collect();
    assert_eq!(Value::from(shape), want["shape"], "{what}: shape");
    if let Some(values) = want.get("values") {
        assert_values(a, values, true, what);
    }
}

fn reencodes_identically(bytes: &[u8], name: &str) -> ParamsFile {
    let file = decode_params(bytes, name).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        encode_params(&file) == bytes,
        "{name}: re-encoding changed the bytes"
    );
    file
}

#[test]
fn ndarray_format_fixtures_decode_as_mxnet_describes_them() {
    let dir = fixture("ndarray_format");
    let expected: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let files = expected["files"].as_object().unwrap();
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".params"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = files.keys().cloned().collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every fixture file is described");

    for (name, want) in files {
        let bytes = fs::read(dir.join(name)).unwrap();
        assert_eq!(bytes.len() as u64, want["size_bytes"], "{name}: size");
        assert_eq!(
            sha256_hex(&bytes),
            want["sha256"],
            "{name}: the vendored file is intact"
        );
        let file = reencodes_identically(&bytes, name);
        let got = entries(&file);
        let arrays = want["arrays"].as_array().unwrap();
        assert_eq!(got.len(), arrays.len(), "{name}: length");
        match want["container"].as_str().unwrap() {
            "list" => assert!(matches!(file, ParamsFile::List(_)), "{name}: a list"),
            "dict" => {
                assert!(matches!(file, ParamsFile::Named(_)), "{name}: named");
                let keys: Vec<_> = got.iter().map(|(k, _)| Value::from(k.unwrap())).collect();
                assert_eq!(Value::from(keys), want["keys"], "{name}: keys");
            }
            other => panic!("{name}: unknown container {other}"),
        }
        for (i, ((key, a), want)) in got.into_iter().zip(arrays).enumerate() {
            let what = format!("{name} array {i}");
            assert_array(key, a, want, &what);
            assert_eq!(a.context(), Context::cpu(0), "{what}: context");
            if let Some(sum) = want.get("sum") {
                let values = a.to_vec::<f32>().unwrap();
                let total: f64 = values.iter().map(|&v| f64::from(v)).sum();
                let sum = sum.as_f64().unwrap();
                assert!(
                    (total - sum).abs() <= 1e-9 * sum.abs(),
                    "{what}: sum {total} vs {sum}"
                );
                assert_values(a, &want["first8"], false, &format!("{what} first8"));
                assert_eq!(
                    sha256_hex(a.data()),
                    want["data_sha256"],
                    "{what}: data sha256"
                );
            }
        }
    }
}

#[test]
fn every_conformance_params_file_reencodes_identically() {
    let mut paths = vec![fixture("model/fashion_mlp-0003.params")];
    for case in fs::read_dir(fixture("cases")).unwrap() {
        let case = case.unwrap().path();
        paths.push(case.join("inputs.params"));
        paths.push(case.join("expected.params"));
    }
    assert!(paths.len() >= 150, "only {} files", paths.len());
    for path in &paths {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = reencodes_identically(&bytes, &path.display().to_string());
        assert_eq!(load_params(path).unwrap(), file);
        let ParamsFile::Named(named) = file else {
            panic!("{}: checkpoints and cases are named", path.display())
        };
        assert!(
            named
                .iter()
                .all(|(k, a)| !k.is_empty() && a.dtype() == DType::F32)
        );
    }
}

/// The annotated dump of the format's spec (§8): `{'arg:w': f32 [[1,2,3],[4,5,6]], 'aux:m': i64 [7]}`.
fn spec_example() -> (ParamsFile, Vec<u8>) {
    let w = RawArray::from_slice(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let m = RawArray::from_slice(&[1], &[7i64]).unwrap();
    let file = ParamsFile::Named(vec![("arg:w".into(), w), ("aux:m".into(), m)]);
    let mut b: Vec<u8> = Vec::new();
    let u64s = |b: &mut Vec<u8>, v: &[u64]| v.iter().for_each(|x| b.extend(x.to_le_bytes()));
    let i32s = |b: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| b.extend(x.to_le_bytes()));
    u64s(&mut b, &[0x112, 0, 2]);
    b.extend([0xc9, 0xfa, 0x93, 0xf9, 0, 0, 0, 0, 2, 0, 0, 0]);
    u64s(&mut b, &[2, 3]);
    i32s(&mut b, &[1, 0, 0]);
    (1..=6).for_each(|v| b.extend((v as f32).to_le_bytes()));
    b.extend([0xc9, 0xfa, 0x93, 0xf9, 0, 0, 0, 0, 1, 0, 0, 0]);
    u64s(&mut b, &[1]);
    i32s(&mut b, &[1, 0, 6]);
    u64s(&mut b, &[7, 2, 5]);
    b.extend(b"arg:w");
    u64s(&mut b, &[5]);
    b.extend(b"aux:m");
    assert_eq!(b.len(), 162);
    (file, b)
}

#[test]
fn encoding_matches_the_annotated_dump() {
    let (file, bytes) = spec_example();
    assert_eq!(encode_params(&file), bytes);
    assert_eq!(decode_params(&bytes, "spec").unwrap(), file);
}

#[test]
fn hand_built_files_round_trip() {
    let h = |v: f32| f16::from_f32(v);
    let named = ParamsFile::Named(vec![
        (
            "f32".into(),
            RawArray::from_slice(&[2, 2], &[0.5f32, -1.0, 3e38, -0.0]).unwrap(),
        ),
        (
            "f64".into(),
            RawArray::from_slice(&[1], &[std::f64::consts::E]).unwrap(),
        ),
        (
            "f16".into(),
            RawArray::from_slice(&[3], &[h(1.5), h(-65504.0), h(1e-4)]).unwrap(),
        ),
        (
            "u8".into(),
            RawArray::from_slice(&[2], &[0u8, 255]).unwrap(),
        ),
        (
            "i32".into(),
            RawArray::from_slice(&[2], &[i32::MIN, i32::MAX]).unwrap(),
        ),
        (
            "i8".into(),
            RawArray::from_slice(&[1, 1, 2], &[i8::MIN, i8::MAX]).unwrap(),
        ),
        (
            "i64".into(),
            RawArray::from_slice(&[2], &[i64::MIN, i64::MAX]).unwrap(),
        ),
        (
            "zero".into(),
            RawArray::new(DType::I64, vec![0, 3], vec![]).unwrap(),
        ),
        (
            "ключ 鍵".into(),
            RawArray::from_slice(&[1], &[1u8]).unwrap(),
        ),
        ("".into(), RawArray::none()),
        (
            "on gpu".into(),
            RawArray::from_slice(&[1], &[2.0f32])
                .unwrap()
                .with_context(Context::gpu(3))
                .unwrap(),
        ),
        (
            "pinned".into(),
            RawArray::from_slice(&[1], &[2.0f32])
                .unwrap()
                .with_context(Context::cpu_pinned(1))
                .unwrap(),
        ),
    ]);
    let list = ParamsFile::List(
        entries(&named)
            .into_iter()
            .map(|(_, a)| a.clone())
            .collect(),
    );
    for file in [named, list, ParamsFile::List(vec![])] {
        let bytes = encode_params(&file);
        let back = decode_params(&bytes, "memory").unwrap();
        assert_eq!(back, file);
        assert_eq!(encode_params(&back), bytes);
    }
    // An empty dict is written like an empty list, as MXNet does.
    let empty = encode_params(&ParamsFile::Named(vec![]));
    assert_eq!(empty, encode_params(&ParamsFile::List(vec![])));
    assert_eq!(
        decode_params(&empty, "m").unwrap(),
        ParamsFile::List(vec![])
    );
    let fixture = fs::read(fixture("ndarray_format/empty_list.params")).unwrap();
    assert_eq!(empty, fixture);
}

#[test]
fn save_and_load_through_files() {
    let dir = temp_dir("files");
    let (file, bytes) = spec_example();
    let path = dir.join("model-0001.params");
    save_params(&path, &file).unwrap();
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert_eq!(load_params(&path).unwrap(), file);

    let missing = dir.join("missing.params");
    match load_params(&missing) {
        Err(e @ mxr::Error::Io { .. }) => assert!(e.to_string().contains("missing.params")),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(matches!(
        save_params(dir.join("no/such/dir.params"), &file),
        Err(mxr::Error::Io { .. })
    ));
    fs::write(&path, &bytes[..100]).unwrap();
    let name = path.display().to_string();
    assert!(reason(load_params(&path), &name).contains("truncated"));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_truncation_is_an_error() {
    let mut files = vec![spec_example().1];
    for name in ["zero_size.params", "utf8_key.params", "list_mixed.params"] {
        files.push(fs::read(fixture("ndarray_format").join(name)).unwrap());
    }
    files.push(encode_params(&ParamsFile::List(vec![RawArray::none()])));
    for bytes in &files {
        for len in 0..bytes.len() {
            let message = reason(decode_params(&bytes[..len], "cut"), "cut");
            assert!(
                message.contains("truncated: reading the "),
                "{len}: {message}"
            );
            assert!(message.contains(" at offset "), "{len}: {message}");
        }
    }
}

#[test]
fn single_byte_corruptions_are_errors_or_reencode_identically() {
    let mut files = vec![spec_example().1];
    for name in [
        "dict_named.params",
        "zero_size.params",
        "dtype_float16.params",
    ] {
        files.push(fs::read(fixture("ndarray_format").join(name)).unwrap());
    }
    let (mut accepted, mut rejected) = (0, 0);
    for original in &files {
        for pos in 0..original.len() {
            for mask in [0x01, 0x02, 0x80, 0xff] {
                let mut bytes = original.clone();
                bytes[pos] ^= mask;
                match decode_params(&bytes, "flipped") {
                    Ok(file) => {
                        accepted += 1;
                        assert!(encode_params(&file) == bytes, "byte {pos} ^ {mask:#x}");
                    }
                    Err(mxr::Error::Format { .. }) => rejected += 1,
                    Err(e) => panic!("byte {pos} ^ {mask:#x}: {e}"),
                }
            }
        }
    }
    // Flips in the data and key bytes stay valid files; flips in the structure do not.
    assert!(
        accepted > 500 && rejected > 1000,
        "{accepted} accepted, {rejected} rejected"
    );
}

/// The spec example with `bytes[at..]` overwritten by `patch`.
fn patched(at: usize, patch: &[u8]) -> Vec<u8> {
    let mut bytes = spec_example().1;
    bytes[at..at + patch.len()].copy_from_slice(patch);
    bytes
}

#[test]
fn corrupt_files_give_errors_that_say_what_and_where() {
    // Offsets in the spec example: record 0 at 24 (stype 28, ndim 32, dims 36, dev_type 52,
    // dev_id 56, dtype 60, data 64); record 1 at 88 (ndim 96, dtype 116); name count at 128;
    // name 0 at 136 (bytes 144..149).
    let check_bytes = |bytes: Vec<u8>, want: &str| {
        let message = reason(decode_params(&bytes, "bad"), "bad");
        assert!(message.contains(want), "{message:?} lacks {want:?}");
    };
    // The spec example with the bytes at `at` overwritten by `patch`.
    let check = |at: usize, patch: &[u8], want: &str| check_bytes(patched(at, patch), want);
    check(
        0,
        &[0x13],
        "file magic at offset 0 is 0x113, expected 0x112",
    );
    check(8, &[1], "reserved field at offset 8 is 1, expected 0");
    let magic = "array 0 (record at offset 24): magic is 0x0093FAC8, expected 0xF993FAC9";
    check(24, &[0xc8, 0xfa, 0x93, 0], magic);
    check(
        88,
        &[0xca],
        "array 1 (record at offset 88): magic 0xF993FACA (V3",
    );
    check(24, &[0xc8], "legacy V1, not supported) at offset 24");
    check(
        28,
        &[1],
        "storage type 1 (row_sparse, not supported) at offset 28",
    );
    check(92, &[2], "storage type 2 (csr, not supported) at offset 92");
    check(28, &[0xff; 4], "unknown storage type -1 at offset 28");
    check(
        32,
        &[0xfe, 0xff, 0xff, 0xff],
        "negative ndim -2 at offset 32",
    );
    check(44, &(-3i64).to_le_bytes(), "dim 1 is -3 at offset 44");
    check(52, &[9], "unknown device type 9 at offset 52");
    check(56, &[0xff; 4], "negative device id -1 at offset 56");
    check(60, &[13], "unknown dtype flag 13 at offset 60");
    check(
        116,
        &[7],
        "array 1 (record at offset 88): unknown dtype flag 7 (bool",
    );
    check(60, &[8], "unknown dtype flag 8 (int16");
    check(
        128,
        &[1],
        "name count at offset 128 is 1, but the file has 2 arrays",
    );
    check(145, &[0xff], "name 0 (at offset 136): not valid UTF-8");
    let huge = "name 0 (at offset 136): truncated: reading the name needs 9223372036854775808";
    check(136, &(1u64 << 63).to_le_bytes(), huge);
    let trailing = [spec_example().1, vec![0; 3]].concat();
    check_bytes(
        trailing,
        "3 bytes follow the end of the contents at offset 162",
    );
}

#[test]
fn a_cpu_shared_record_loads_on_the_cpu() {
    let bytes = patched(52, &[5, 0, 0, 0, 2]);
    let file = decode_params(&bytes, "shared").unwrap();
    assert_eq!(entries(&file)[0].1.context(), Context::cpu(2));
    let again = encode_params(&file);
    assert_eq!(
        (again[52], &again[..52], &again[53..]),
        (1, &bytes[..52], &bytes[53..])
    );
}

/// A one-array list whose record has `dims`, dtype float32 and no data.
fn header_only(dims: &[i64]) -> Vec<u8> {
    let mut b = Vec::new();
    [0x112u64, 0, 1]
        .iter()
        .for_each(|v| b.extend(v.to_le_bytes()));
    b.extend(0xF993_FAC9u32.to_le_bytes());
    b.extend(0i32.to_le_bytes());
    b.extend((dims.len() as i32).to_le_bytes());
    dims.iter().for_each(|d| b.extend(d.to_le_bytes()));
    [1i32, 0, 0].iter().for_each(|v| b.extend(v.to_le_bytes()));
    b
}

#[test]
fn absurd_sizes_fail_fast_without_allocating() {
    let start = std::time::Instant::now();
    let message = reason(
        decode_params(&header_only(&[1 << 40, 1 << 40]), "big"),
        "big",
    );
    assert!(message.contains("byte size of shape [1099511627776, 1099511627776] (float32) overflows: dims at offset 36"), "{message}");
    let message = reason(
        decode_params(&header_only(&[1 << 20, 1 << 20]), "big"),
        "big",
    );
    assert!(
        message.contains("truncated: reading the data of shape [1048576, 1048576] (float32) needs 4398046511104 bytes at offset 64, but only 0 remain"),
        "{message}"
    );
    // ndim i32::MAX: the dims would take 16 GiB.
    let mut b = header_only(&[]);
    b[32..36].copy_from_slice(&i32::MAX.to_le_bytes());
    let message = reason(decode_params(&b, "ndim"), "ndim");
    assert!(
        message.contains("reading the dims needs 17179869176 bytes at offset 36"),
        "{message}"
    );
    // An array count of 2^62 in a 36-byte file (one none record).
    let mut b = encode_params(&ParamsFile::List(vec![RawArray::none()]));
    b.truncate(36);
    b[16..24].copy_from_slice(&(1u64 << 62).to_le_bytes());
    let message = reason(decode_params(&b, "count"), "count");
    assert!(
        message.contains("array 1 (record at offset 36): truncated: reading the magic"),
        "{message}"
    );
    assert!(start.elapsed().as_secs() < 2, "took {:?}", start.elapsed());
}

// ---- the real MXNet -------------------------------------------------------------------------

/// Describes every file named on the command line as JSON (`load`), and re-saves each to
/// `<path>.resaved`; or writes MXNet's own test files into a directory (`save`).
const MXNET_SCRIPT: &str = r#"
import sys, json
import numpy as np, mxnet as mx
def describe(path):
    d = mx.nd.load(path)
    mx.nd.save(path + ".resaved", d)
    items = list(d.items()) if isinstance(d, dict) else [(None, v) for v in d]
    return {"kind": "dict" if isinstance(d, dict) else "list", "arrays": [
        {"key": k, "dtype": np.dtype(v.dtype).name, "shape": list(v.shape),
         "context": str(v.context), "values": v.asnumpy().ravel().tolist()} for k, v in items]}
if sys.argv[1] == "save":
    out = sys.argv[2]
    arrays = {
        "f32": np.array([[0.0, -1.5, 3.25], [1e-30, -65504.0, 1e30]], dtype=np.float32),
        "f64": np.array([np.pi, -1e-300, 2.0**60], dtype=np.float64),
        "f16": np.array([0.0, -1.5, 65504.0, 6.1035e-05], dtype=np.float16),
        "u8": np.array([0, 1, 128, 255], dtype=np.uint8),
        "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
        "i32": np.array([[-2**31, 0], [1, 2**31 - 1]], dtype=np.int32),
        "i64": np.array([-2**63, -1, 2**40 + 3, 2**63 - 1], dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "four_d": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 8,
        "\u043a\u043b\u044e\u0447": np.array([1.0, 2.0], dtype=np.float32),
    }
    nd = {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()}
    mx.nd.save(out + "/dict.params", nd)
    mx.nd.save(out + "/list.params", [nd["f64"], nd["i8"]])
    mx.nd.save(out + "/empty.params", [])
    names = ["dict.params", "list.params", "empty.params"]
    print(json.dumps({n: describe(out + "/" + n) for n in names}))
else:
    print(json.dumps({p: describe(p) for p in sys.argv[2:]}))
"#;

/// The Python that can import mxnet: `$MXR_MXNET_PYTHON` (which must work), else
/// `<repo>/.venv/bin/python`; `None` (after printing a skip notice) when there is none.
pub(crate) fn mxnet_python() -> Option<PathBuf> {
    mxr_test_support::python::mxnet_python(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn run_mxnet(python: &Path, args: &[&str]) -> Value {
    mxr_test_support::python::run_python_json(python, MXNET_SCRIPT, args)
}

/// Checks `file` against MXNet's description `{"kind", "arrays": [...]}` of it.
fn assert_described(file: &ParamsFile, want: &Value, name: &str) {
    let kind = if matches!(file, ParamsFile::List(_)) {
        "list"
    } else {
        "dict"
    };
    assert_eq!(kind, want["kind"], "{name}: container");
    let arrays = want["arrays"].as_array().unwrap();
    assert_eq!(file.len(), arrays.len(), "{name}: length");
    for (i, ((key, a), want)) in entries(file).into_iter().zip(arrays).enumerate() {
        assert_array(key, a, want, &format!("{name} array {i}"));
    }
}

#[test]
fn mxnet_loads_what_we_save() {
    let Some(python) = mxnet_python() else { return };
    let dir = temp_dir("to-mxnet");
    let (spec, _) = spec_example();
    let ParamsFile::Named(mut named) = spec else {
        unreachable!()
    };
    let h = |v: f32| f16::from_f32(v);
    named.extend([
        (
            "f64".into(),
            RawArray::from_slice(&[3], &[std::f64::consts::PI, -1e-300, 2e300]).unwrap(),
        ),
        (
            "f16".into(),
            RawArray::from_slice(&[1, 3], &[h(0.5), h(-65504.0), h(6.1e-5)]).unwrap(),
        ),
        (
            "u8".into(),
            RawArray::from_slice(&[2], &[0u8, 255]).unwrap(),
        ),
        (
            "i8".into(),
            RawArray::from_slice(&[2], &[i8::MIN, i8::MAX]).unwrap(),
        ),
        (
            "i32".into(),
            RawArray::from_slice(&[2, 1], &[i32::MIN, i32::MAX]).unwrap(),
        ),
        (
            "i64".into(),
            RawArray::from_slice(&[2], &[i64::MIN, i64::MAX]).unwrap(),
        ),
        (
            "zero".into(),
            RawArray::new(DType::F32, vec![0, 3], vec![]).unwrap(),
        ),
        (
            "ключ".into(),
            RawArray::from_slice(&[2, 1, 1, 1], &[1.0f32, 2.0]).unwrap(),
        ),
    ]);
    let list = ParamsFile::List(named.iter().take(3).map(|(_, a)| a.clone()).collect());
    let on_gpu = RawArray::from_slice(&[2], &[1.0f32, 2.0]).unwrap();
    let on_gpu = ParamsFile::List(vec![on_gpu.with_context(Context::gpu(1)).unwrap()]);
    let files = [
        ("named.params", ParamsFile::Named(named)),
        ("list.params", list),
        ("empty.params", ParamsFile::List(vec![])),
        ("gpu.params", on_gpu),
    ];
    let mut paths = Vec::new();
    for (name, file) in &files {
        let path = dir.join(name);
        save_params(&path, file).unwrap();
        paths.push(path.display().to_string());
    }
    let mut args = vec!["load"];
    args.extend(paths.iter().map(String::as_str));
    let described = run_mxnet(&python, &args);
    for ((name, file), path) in files.iter().zip(&paths) {
        assert_described(file, &described[path], name);
        let resaved = fs::read(format!("{path}.resaved")).unwrap();
        if *name == "gpu.params" {
            // A CPU-only MXNet loads a GPU record onto cpu(0), and saves it from there.
            assert_eq!(described[path]["arrays"][0]["context"], "cpu(0)");
            let back = decode_params(&resaved, name).unwrap();
            assert_eq!(entries(&back)[0].1.context(), Context::cpu(0));
        } else {
            assert!(
                resaved == fs::read(path).unwrap(),
                "{name}: MXNet re-saved other bytes"
            );
        }
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn we_load_what_mxnet_saves() {
    let Some(python) = mxnet_python() else { return };
    let dir = temp_dir("from-mxnet");
    let described = run_mxnet(&python, &["save", dir.to_str().unwrap()]);
    let described = described.as_object().unwrap();
    assert_eq!(described.len(), 3);
    for (name, want) in described {
        let bytes = fs::read(dir.join(name)).unwrap();
        let file = reencodes_identically(&bytes, name);
        assert_described(&file, want, name);
    }
    fs::remove_dir_all(dir).unwrap();
}

// ---- SHA-256 (FIPS 180-4), to check the fixtures' recorded digests ---------------------------

fn sha256_hex(message: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend((message.len() as u64 * 8).to_be_bytes());
    for block in padded.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_matches_known_digests() {
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}
