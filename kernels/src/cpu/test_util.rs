//! Helpers the kernels' tests share: pseudo-random data and compact convolution geometries.

use crate::cpu::conv::ConvGeom;

/// The multiplier of the tests' linear congruential generator (Knuth's MMIX constants).
pub(crate) const LCG_MUL: u64 = 6364136223846793005;
/// The increment of the tests' linear congruential generator.
pub(crate) const LCG_INC: u64 = 1442695040888963407;

/// `n` deterministic pseudo-random values in [-1, 1): the generator started at `state` and
/// stepped before each value (each test module keeps its own seeding of `state`, so its data
/// are what they always were).
pub(crate) fn lcg_values(n: usize, mut state: u64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(LCG_MUL).wrapping_add(LCG_INC);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// Whether `a` and `b` hold the same floats bit for bit (NaN payloads and signed zeros
/// included).
pub(crate) fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// A convolution geometry from its counts and its spatial parameters
/// `[input, kernel, stride, pad, dilate]`, each `[depth, height, width]`.
pub(crate) fn conv_geom(
    batch: usize,
    channels: usize,
    filters: usize,
    groups: usize,
    [input, kernel, stride, pad, dilate]: [[usize; 3]; 5],
) -> ConvGeom {
    let mut geom = ConvGeom::new_2d(
        batch, channels, filters, groups, [1; 2], [1; 2], [1; 2], [0; 2], [1; 2],
    );
    (geom.input, geom.kernel, geom.stride, geom.pad) = (input, kernel, stride, pad);
    geom.dilate = dilate;
    geom
}
