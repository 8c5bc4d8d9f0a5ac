//! Fuzz target `onnx`: see `harness::onnx` (tests/robust/harness.rs).
#![no_main]

#[path = "../../tests/robust/harness.rs"]
#[allow(dead_code)]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::onnx(data));
