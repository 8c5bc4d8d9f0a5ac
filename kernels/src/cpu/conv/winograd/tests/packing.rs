//! The weight packing against its definition (a scalar loop in `f32`): every instruction set
//! and thread count, the flipped transpose (the data gradient's), and large packs streamed to
//! aligned memory.

use super::super::pack::STREAM_MIN_BYTES;
use super::*;

/// The weight transform as a plain scalar loop (the definition): `U = G g Gᵀ · scale` in
/// `f32` with `G` rounded to `f32`, multiplications and additions in this order, in the
/// packed layout.
fn packed_by_definition(plan: &WinogradConv, w: &[f32], scale: Option<&[f32]>) -> Vec<f32> {
    let g = plan.geom();
    let (c, f) = (g.channels, g.filters);
    let gm: &[[f32; 3]] = match plan.variant() {
        Variant::F2x2 => &G2_F32,
        Variant::F4x4 => &G4_F32,
    };
    let (a, t) = (plan.variant().alpha(), plan.variant().positions());
    let lanes = plan.nv * BLOCK;
    let mut dst = vec![0.0f32; plan.packed_len()];
    for oc in 0..f {
        let s = scale.map_or(1.0, |s| s[oc]);
        let (og, j) = (oc / lanes, oc % lanes);
        for ic in 0..c {
            let k = &w[(oc * c + ic) * 9..][..9];
            for xi in 0..t {
                let (p, q) = (xi / a, xi % a);
                let gg = |l: usize| gm[p][0] * k[l] + gm[p][1] * k[3 + l] + gm[p][2] * k[6 + l];
                let u = gg(0) * gm[q][0] + gg(1) * gm[q][1] + gg(2) * gm[q][2];
                let at = (((og * t + xi) * plan.ic_blocks + ic / BLOCK) * BLOCK + ic % BLOCK)
                    * lanes
                    + j;
                dst[at] = u * s;
            }
        }
    }
    dst
}

#[test]
fn packed_weights_are_the_definition_on_every_isa_and_thread_count() {
    for variant in VARIANTS {
        for (c, f) in [(3, 5), (17, 16), (20, 40), (64, 96)] {
            let g = geom(1, c, f, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
            let plan = WinogradConv::with_variant(&g, variant).unwrap().unwrap();
            let w = values(g.weight_len(), 7);
            let scale: Vec<f32> = values(f, 8).iter().map(|v| v + 1.5).collect();
            for sc in [None, Some(&scale[..])] {
                let want = packed_by_definition(&plan, &w, sc);
                for isa in Isa::available() {
                    for threads in [1, 2, 3] {
                        let mut got = vec![f32::NAN; plan.packed_len()];
                        plan.pack_weights_with(isa, &w, sc, &mut got, threads)
                            .unwrap();
                        assert_eq!(
                            got,
                            want,
                            "{variant:?}, C {c}, F {f}, scale {}, {isa:?}, {threads} threads",
                            sc.is_some()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn flipped_packing_is_the_packing_of_the_flipped_transpose() {
    // The data gradient's weights: w'[f][c][k] = w[c][f][8 − k] for the plan with C input
    // and F output channels, from the forward weights `w` (`C × F × 3 × 3`).
    for variant in VARIANTS {
        for (c, f) in [(3, 5), (17, 16), (20, 40), (64, 96)] {
            let g = geom(1, c, f, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
            let plan = WinogradConv::with_variant(&g, variant).unwrap().unwrap();
            let w = values(c * f * 9, 9);
            let mut flipped = vec![0.0; w.len()];
            for (i, v) in flipped.iter_mut().enumerate() {
                let (of, oc, k) = (i / (c * 9), i / 9 % c, i % 9);
                *v = w[(oc * f + of) * 9 + 8 - k];
            }
            let want = packed_by_definition(&plan, &flipped, None);
            for isa in Isa::available() {
                for threads in [1, 2] {
                    let mut got = vec![f32::NAN; plan.packed_len()];
                    plan.pack_flipped_with(isa, &w, &mut got, threads).unwrap();
                    assert_eq!(got, want, "{variant:?}, C {c}, F {f}, {isa:?}, {threads}");
                }
            }
        }
    }
}

#[test]
fn large_packs_streamed_to_aligned_memory_are_the_definition() {
    // F(4×4) with 256 → 288 channels packs 10.6 MB: streamed (AVX-512) when the buffer is
    // 64-byte aligned, ordinary stores one float off the boundary; the bits are the same.
    let g = geom(1, 256, 288, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
    let plan = WinogradConv::with_variant(&g, Variant::F4x4)
        .unwrap()
        .unwrap();
    assert!(plan.packed_len() * 4 >= STREAM_MIN_BYTES);
    let w = values(g.weight_len(), 11);
    let scale: Vec<f32> = values(g.filters, 12).iter().map(|v| v + 1.5).collect();
    let want = packed_by_definition(&plan, &w, Some(&scale));
    let mut flipped_w = vec![0.0; w.len()];
    let (c, f) = (g.channels, g.filters);
    // w'[c][f][k] = w[f][c][8 − k]: packing w' flipped gives w's packing.
    for (i, v) in flipped_w.iter_mut().enumerate() {
        let (ic, of, k) = (i / (f * 9), i / 9 % f, i % 9);
        *v = w[(of * c + ic) * 9 + 8 - k];
    }
    let want_flipped = packed_by_definition(&plan, &w, None);
    let mut buf = Vec::new();
    for isa in Isa::available() {
        for misalign in [0, 1] {
            let dst = &mut super::super::super::direct::aligned(&mut buf, plan.packed_len() + 1)
                [misalign..misalign + plan.packed_len()];
            dst.fill(f32::NAN);
            plan.pack_weights_with(isa, &w, Some(&scale), dst, 2)
                .unwrap();
            assert!(dst == &want[..], "{isa:?}, misaligned by {misalign}");
            dst.fill(f32::NAN);
            plan.pack_flipped_with(isa, &flipped_w, dst, 2).unwrap();
            assert!(
                dst == &want_flipped[..],
                "flipped, {isa:?}, misaligned by {misalign}"
            );
        }
    }
}
