//! Placeholder until the GEMM benchmark lands.
fn main() {}
