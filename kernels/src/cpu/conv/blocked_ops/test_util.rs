//! Helpers the tests of the blocked kernels share.

use crate::cpu::conv::blocked::{Blocked, to_blocked};
use crate::cpu::conv::direct::Epilogue;
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

/// The epilogue operands of a convolution test: a bias (seed 3), a per-filter scale around 1.5
/// (seed 4) and a residual of the output's shape (seed 5, NCHW and blocked), drawn by the test's
/// own `values`.
pub(crate) struct EpilogueInputs {
    /// One bias per filter.
    pub(crate) bias: Vec<f32>,
    /// One weight scale per filter.
    pub(crate) scale: Vec<f32>,
    /// The residual in NCHW.
    pub(crate) residual: Vec<f32>,
    residual_blocked: Vec<f32>,
    residual_layout: Blocked,
}

impl EpilogueInputs {
    /// Draws the operands for `filters` filters and an output of `output_len` floats, the
    /// residual laid out (blocked) as `residual_layout`.
    pub(crate) fn new(
        values: impl Fn(usize, u64) -> Vec<f32>,
        filters: usize,
        output_len: usize,
        residual_layout: Blocked,
    ) -> EpilogueInputs {
        let residual = values(output_len, 5);
        let mut residual_blocked = vec![f32::NAN; residual_layout.len()];
        to_blocked(&residual, &residual_layout, &mut residual_blocked);
        EpilogueInputs {
            bias: values(filters, 3),
            scale: values(filters, 4).iter().map(|v| v + 1.5).collect(),
            residual,
            residual_blocked,
            residual_layout,
        }
    }

    /// The epilogue with the bias and the residual where asked, and `relu`.
    pub(crate) fn epilogue(&self, bias: bool, residual: bool, relu: bool) -> Epilogue<'_> {
        Epilogue {
            bias: bias.then_some(&self.bias[..]),
            residual: residual.then_some((&self.residual_blocked[..], self.residual_layout)),
            relu,
        }
    }
}
