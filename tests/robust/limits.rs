//! The memory crafted inputs make mxr take while it parses them, measured with the counting
//! allocator, against [`LoadLimits`]: at most `max_expansion` bytes per input byte (or
//! `min_budget`), whatever the file claims.

use mxr::format::{LoadLimits, decode_params, decode_params_with_limits};
use mxr::sym::Symbol;

use crate::measure;

const V2: u32 = 0xF993_FAC9;

fn header(count: u64) -> Vec<u8> {
    [0x112u64.to_le_bytes(), [0; 8], count.to_le_bytes()].concat()
}

/// A file of `n` "none" records (12 bytes each, the smallest record).
fn none_records(n: usize) -> Vec<u8> {
    let mut f = header(n as u64);
    for _ in 0..n {
        f.extend(V2.to_le_bytes());
        f.extend([0; 8]);
    }
    f.extend([0; 8]);
    f
}

fn tight(max_expansion: usize) -> LoadLimits {
    LoadLimits {
        max_expansion,
        min_budget: 0,
    }
}

#[test]
fn a_params_file_takes_at_most_its_limit() {
    // 100 000 of the smallest records: the worst ratio a valid file has.
    let file = none_records(100_000);
    let (decoded, peak) = measure(|| decode_params(&file, "none records"));
    assert_eq!(decoded.expect("valid").len(), 100_000);
    let ratio = peak as f64 / file.len() as f64;
    eprintln!(
        "params: {} bytes of none records took {peak} bytes ({ratio:.1}x)",
        file.len()
    );
    assert!(peak <= LoadLimits::default().budget(file.len()));
    // A tighter limit is an error, and stops the decoder before it allocates past it.
    let limits = tight(3);
    let (e, peak) = measure(|| decode_params_with_limits(&file, "none records", limits));
    let e = e.expect_err("past the limit");
    assert!(e.to_string().contains("past the memory limit of"), "{e}");
    assert!(peak <= limits.budget(file.len()), "{peak}");
    // A count of 2^60 arrays reserves nothing it cannot back.
    let mut liar = header(1 << 60);
    liar.extend(&file[24..]);
    let (e, peak) = measure(|| decode_params(&liar, "liar"));
    assert!(e.is_err());
    assert!(peak <= LoadLimits::default().budget(liar.len()), "{peak}");
}

#[test]
fn a_params_file_of_data_takes_about_its_size() {
    // One float32 array of 1 MiB: the decoder copies the data once.
    let mut file = header(1);
    file.extend(V2.to_le_bytes());
    file.extend(0i32.to_le_bytes());
    file.extend(1i32.to_le_bytes());
    file.extend((1i64 << 18).to_le_bytes());
    file.extend([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // cpu(0), float32
    file.extend(vec![0u8; 4 << 18]);
    file.extend([0; 8]);
    let (decoded, peak) = measure(|| decode_params(&file, "one array"));
    decoded.expect("valid");
    let ratio = peak as f64 / file.len() as f64;
    eprintln!(
        "params: a {} byte array took {peak} bytes ({ratio:.2}x)",
        file.len()
    );
    assert!(ratio < 1.1, "{ratio}");
}

/// `{"nodes": [], "arg_nodes": [0, 0, ...], "heads": []}`: the densest JSON in values per byte.
fn dense_json(n: usize) -> String {
    let zeros = vec!["0"; n].join(",");
    format!(r#"{{"nodes": [], "arg_nodes": [{zeros}], "heads": []}}"#)
}

#[test]
fn symbol_json_takes_at_most_its_limit() {
    let text = dense_json(200_000);
    // Valid JSON, but arg_nodes name nodes that do not exist: an error after the parse.
    let (r, peak) = measure(|| Symbol::from_json(&text));
    let e = r.expect_err("no such node");
    assert!(e.to_string().contains("refers to node 0"), "{e}");
    let ratio = peak as f64 / text.len() as f64;
    eprintln!(
        "symbol JSON: {} bytes of `0,` took {peak} bytes ({ratio:.1}x)",
        text.len()
    );
    assert!(peak <= LoadLimits::default().budget(text.len()), "{peak}");
    let limits = tight(8);
    let (r, peak) = measure(|| Symbol::from_json_with_limits(&text, limits));
    let e = r.expect_err("past the limit");
    assert!(e.to_string().contains("memory limit"), "{e}");
    assert!(peak <= 2 * limits.budget(text.len()), "{peak}");
    // 100 000 open brackets where the reader skips a value (serde_json skips without
    // recursing, a byte per level) and at the top level (not an object: an error at once).
    let deep = format!(r#"{{"attrs": {{"x": {}"#, "[".repeat(100_000));
    let (r, peak) = measure(|| Symbol::from_json(&deep));
    let e = r.expect_err("unclosed").to_string();
    assert!(e.contains("EOF while parsing a list at line 1"), "{e}");
    assert!(peak < 1 << 20, "{peak}");
    let (r, peak) = measure(|| Symbol::from_json(&"[".repeat(100_000)));
    let e = r.expect_err("not an object").to_string();
    assert!(e.contains("expected the top level to be an object"), "{e}");
    assert!(peak < 1 << 20, "{peak}");
}

#[test]
fn an_old_graph_cannot_multiply_itself_when_upgraded() {
    // An MXNet 0.8 file's Concat nodes with 65536 inputs each and none given: the upgrade
    // would add 65536 variables per node.
    let concat = r#"{"op": "Concat", "name": "c", "param": {"num_args": "65536"}, "inputs": []}"#;
    let nodes = vec![concat; 20].join(", ");
    let heads: Vec<String> = (0..20).map(|i| format!("[{i}, 0]")).collect();
    let text = format!(
        r#"{{"nodes": [{nodes}], "arg_nodes": [], "heads": [{}], "attrs": {{"mxnet_version": ["int", 800]}}}}"#,
        heads.join(", ")
    );
    let start = std::time::Instant::now();
    let (r, peak) = measure(|| Symbol::from_json(&text));
    let e = r.expect_err("past the limit");
    assert!(e.to_string().contains("missing inputs"), "{e}");
    assert!(e.to_string().contains("memory limit"), "{e}");
    eprintln!(
        "symbol JSON: a {} byte 0.8 file of Concat(num_args=65536) took {peak} bytes, {:?}",
        text.len(),
        start.elapsed()
    );
    // The budget counts the added nodes; the operator's 65536 input names are built on top
    // of it, once per node and dropped again.
    assert!(
        peak <= 8 * LoadLimits::default().budget(text.len()),
        "{peak}"
    );
    assert!(start.elapsed().as_secs() < 10);
}

/// MXNet's own files load far within the default limit (the ratios are printed).
#[test]
fn mxnet_files_need_a_fraction_of_the_limit() {
    let dir = crate::root().join("tests/fixtures/conformance/model");
    let json = std::fs::read_to_string(dir.join("fashion_mlp-symbol.json")).expect("fixture");
    let (r, peak) = measure(|| Symbol::from_json(&json));
    r.expect("MXNet's checkpoint symbol loads");
    let json_ratio = peak as f64 / json.len() as f64;
    let params = std::fs::read(dir.join("fashion_mlp-0003.params")).expect("fixture");
    let (r, peak) = measure(|| decode_params(&params, "checkpoint"));
    r.expect("MXNet's checkpoint params load");
    let params_ratio = peak as f64 / params.len() as f64;
    eprintln!(
        "MXNet files: symbol JSON {} bytes, {json_ratio:.1}x; params {} bytes, {params_ratio:.2}x",
        json.len(),
        params.len()
    );
    let default = LoadLimits::default().max_expansion as f64;
    assert!(json_ratio < default / 2.0 && params_ratio < 1.1);
}
