//! Inference-only operators that the executor's fusion pass builds (`mxr::exec`'s inference
//! program); they are not in the registry and never appear in symbol JSON.
//!
//! They work on activations in the channel-blocked layout of
//! [`mxr_kernels::cpu::conv::blocked`], held in arrays of shape
//! `[N, ⌈C/16⌉, H, W + 2·halo, 16]` ([`blocked_shape`]); the logical channel count and the
//! halo are parameters of the operators that read or write them.
//!
//! - [`conv::FusedConv`]: a convolution with BatchNorm folded into its weights and bias, and a
//!   residual addition and a ReLU applied as each output tile is stored;
//! - [`conv::FoldConv`]: computes the folded, packed weights and bias from the parameters (the
//!   executor pushes it when a parameter has been written since the last fold);
//! - [`chain::FusedChain`]: fused convolutions where each reads only the one before, run image
//!   by image so that the activations between them stay in the caches;
//! - [`pool::BlockedPooling`], [`elementwise::BlockedBatchNorm`], [`elementwise::BlockedAdd`]:
//!   pooling, an inference BatchNorm (+ ReLU) and an addition (+ ReLU) that stay in the
//!   blocked layout;
//! - [`layout::ToBlocked`], [`layout::FromBlocked`]: conversions at the edges.

pub mod chain;
pub mod conv;
pub mod elementwise;
pub mod layout;
pub mod pool;

use mxr_kernels::cpu::conv::blocked::{BLOCK, Blocked};

use crate::{Error, Result};

/// The array shape of a blocked activation: `[n, ⌈c/16⌉, h, w + 2·halo, 16]`.
pub fn blocked_shape(layout: &Blocked) -> Vec<usize> {
    vec![
        layout.n,
        layout.blocks(),
        layout.h,
        layout.w + 2 * layout.halo,
        BLOCK,
    ]
}

/// An operator's error from a kernel's.
pub(crate) fn bad(op: &str, e: impl std::fmt::Display) -> Error {
    Error::BadInput {
        op: op.into(),
        reason: e.to_string(),
    }
}

/// The layout of an array of `shape` holding `c` channels with `halo`: an error naming `op` if
/// the shape is not such an array.
pub(crate) fn layout_of(op: &str, shape: &[usize], c: usize, halo: usize) -> Result<Blocked> {
    match *shape {
        [n, cb, h, wp, BLOCK] if cb == c.div_ceil(BLOCK) && wp >= 2 * halo => {
            Ok(Blocked::new(n, c, h, wp - 2 * halo, halo))
        }
        _ => Err(Error::BadInput {
            op: op.into(),
            reason: format!(
                "{shape:?} is not a blocked activation of {c} channels with a halo of {halo}"
            ),
        }),
    }
}
