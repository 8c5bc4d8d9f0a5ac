//! The buffers around a direct (or Winograd) plan: packing its weights and running it into
//! resized scratch, aligned scratch, checks of its input and output, and the pointer a
//! thread team shares.

use super::{BlockedPlan, ConvOperands, Epilogue, InputLayout, InputStrides};
use crate::cpu::conv::blocked::Blocked;
use crate::cpu::conv::{ConvError, ConvGeom, check_len};
use crate::cpu::isa::Isa;

/// Packs the weights `w` for `plan` into `packed`, runs it on `input` with `epilogue` into
/// `out` (both resized), and returns the output's layout (no halo).
#[allow(
    clippy::too_many_arguments,
    reason = "the convolution's operands and its scratch"
)]
pub(crate) fn pack_and_run(
    plan: &dyn BlockedPlan,
    isa: Isa,
    input: &[f32],
    in_strides: &InputStrides,
    w: &[f32],
    epilogue: &Epilogue<'_>,
    [packed, out]: [&mut Vec<f32>; 2],
    threads: usize,
) -> Result<Blocked, ConvError> {
    let packed = aligned(packed, plan.packed_len());
    plan.pack(isa, w, packed, threads)?;
    let layout = plan.output_layout(0);
    resize(out, layout.len());
    let op = ConvOperands::new(input, in_strides, packed, epilogue, &layout);
    plan.run(isa, &op, out, threads)?;
    Ok(layout)
}

/// `len` floats of `v` starting at a 64-byte boundary (`v` grows as needed; contents
/// unspecified): packed weights there can be written with streaming stores.
pub(in crate::cpu::conv) fn aligned(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    // Floats before the first 64-byte boundary, at most.
    const SLACK: usize = 64 / std::mem::size_of::<f32>() - 1;
    if v.len() < len + SLACK {
        v.resize(len + SLACK, 0.0);
    }
    // `align_offset` may decline (usize::MAX): then the slice is merely unaligned, and the
    // writers, which check, use ordinary stores.
    let off = v.as_ptr().align_offset(64).min(SLACK);
    &mut v[off..off + len]
}

/// Makes `v` exactly `len` long (contents unspecified; every caller overwrites it).
pub(in crate::cpu::conv) fn resize(v: &mut Vec<f32>, len: usize) {
    v.resize(len, 0.0);
    v.truncate(len);
}

/// The output pointer, shared by the threads of one call (each writes its own rows, or its
/// own tiles in [`crate::cpu::conv::winograd`]).
pub(crate) struct Shared {
    pub(crate) out: *mut f32,
}

impl Shared {
    /// The pointer (a method, so that closures capture the whole `Sync` struct).
    pub(crate) fn get(&self) -> *mut f32 {
        self.out
    }
}

// SAFETY: the pointer is only used by calls writing disjoint parts of the output (`run_units`:
// rows; the Winograd kernel: tiles), and the slice it came from outlives the fork-join call
// that shares it.
unsafe impl Sync for Shared {}

/// Checks that `input` with strides `s` holds the input of `g` in `layout`, with a halo of at
/// least `min_halo`; `who` names the kernel in the error.
pub(crate) fn check_input(
    who: &str,
    g: &ConvGeom,
    layout: InputLayout,
    min_halo: usize,
    input: &[f32],
    s: &InputStrides,
) -> Result<(), ConvError> {
    let [_, h, w] = g.input;
    let halo_ok = s.halo >= min_halo;
    let (want, layout_ok) = match layout {
        InputLayout::Blocked => {
            let b = Blocked::new(g.batch, g.channels, h, w, s.halo);
            (b.len(), *s == InputStrides::blocked(&b))
        }
        InputLayout::Plain => (
            g.batch * g.channels * h * (w + 2 * s.halo),
            *s == InputStrides::plain(g.channels, h, w, s.halo),
        ),
    };
    if !halo_ok || !layout_ok {
        return Err(ConvError::Geometry(format!(
            "{who}: input strides {s:?} do not describe a {layout:?} input of {:?} with a halo \
             of at least {min_halo}",
            [g.batch, g.channels, h, w],
        )));
    }
    check_len("data", input.len(), want.max(s.extent(g.batch)))
}

impl ConvOperands<'_> {
    /// Checks the output (`out` in `self.out_layout`, which must be `plan`'s output shape with
    /// the caller's halo), the epilogue against it and the packed weights' length, and returns
    /// the bias padded with zeros to `padded` channels (all zero without one); `who` names the
    /// kernel in the errors.
    pub(crate) fn check_output<P: BlockedPlan>(
        &self,
        who: &str,
        plan: &P,
        out: &[f32],
        padded: usize,
    ) -> Result<Vec<f32>, ConvError> {
        let out_layout = self.out_layout;
        let want = plan.output_layout(out_layout.halo);
        if *out_layout != want {
            return Err(ConvError::Geometry(format!(
                "{who}: output layout {out_layout:?}, the plan makes {want:?}"
            )));
        }
        check_len("output", out.len(), out_layout.len())?;
        let bias = self.epilogue.checked_bias(who, out_layout, padded)?;
        check_len("packed weight", self.packed.len(), plan.packed_len())?;
        Ok(bias)
    }
}
