//! Helpers the tests of the blocked kernels share.

use crate::cpu::conv::blocked::Blocked;
use crate::cpu::random::Rng;

/// `n` pseudo-random values in [-1, 1) from `seed`.
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut v = vec![0.0; n];
    Rng::seed(seed).fill_uniform_f32(&mut v, -1.0, 1.0);
    v
}

/// Asserts that every float of `out` (in `layout`) outside the activation — halo columns and
/// padding channels — is `+0`.
pub(crate) fn assert_zero_outside_data(out: &[f32], layout: &Blocked, what: &str) {
    let mut rest = out.to_vec();
    for n in 0..layout.n {
        for c in 0..layout.c {
            for y in 0..layout.h {
                for x in 0..layout.w {
                    rest[layout.offset(n, c, y, x)] = 0.0;
                }
            }
        }
    }
    assert!(
        rest.iter().all(|v| v.to_bits() == 0),
        "{what}: a halo column or padding channel is not +0"
    );
}
