//! Fuzz target `op_attrs`: see `harness::op_attrs` (tests/robust/harness.rs).
#![no_main]

#[path = "../../tests/robust/harness.rs"]
#[allow(dead_code)]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::op_attrs(data));
