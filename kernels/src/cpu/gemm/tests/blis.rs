//! The BLIS-style driver's parts against their definitions: the packers of each instruction
//! set (bit for bit against the portable ones) and the blocked driver across block boundaries.

use super::*;

/// The strided source `(rows × cols, ld)` as `blis::Src`, either as stored or transposed.
#[cfg(target_arch = "x86_64")]
fn src(data: &[f32], ld: usize, trans: bool) -> crate::cpu::gemm::blis::Src {
    let (rs, cs) = if trans { (1, ld) } else { (ld, 1) };
    crate::cpu::gemm::blis::Src {
        ptr: data.as_ptr(),
        rs,
        cs,
    }
}

/// A 64-byte aligned scratch area of `len` floats filled with NaN, and its offset in the `Vec`.
#[cfg(target_arch = "x86_64")]
fn aligned_nan(len: usize) -> (Vec<f32>, usize) {
    let v = vec![f32::NAN; len + 16];
    let off = v.as_ptr().align_offset(64);
    (v, off)
}

/// Checks a row-major copy of an `A` block: `got[i * kc + p]` holds `A[i0 + i, p0 + p]`.
#[cfg(target_arch = "x86_64")]
fn check_packed_a(
    got: &[f32],
    data: &[f32],
    ld: usize,
    trans: bool,
    (mc, kc, i0, p0): (usize, usize, usize, usize),
) {
    for i in 0..mc {
        for p in 0..kc {
            let want = if trans {
                data[(p0 + p) * ld + i0 + i]
            } else {
                data[(i0 + i) * ld + p0 + p]
            };
            let x = got[i * kc + p];
            assert_eq!(x.to_bits(), want.to_bits(), "A i {i} p {p}");
        }
    }
}

/// Checks one packed-B layout: panel `q`, step `p`, column `c` holds `B[p0 + p, j0 + q NR +
/// c]`, zero past `nc`.
#[cfg(target_arch = "x86_64")]
fn check_packed_b(
    got: &[f32],
    nr: usize,
    data: &[f32],
    ld: usize,
    trans: bool,
    (kc, nc, p0, j0): (usize, usize, usize, usize),
) {
    for q in 0..nc.div_ceil(nr) {
        for p in 0..kc {
            for c in 0..nr {
                let j = q * nr + c;
                let want = if j >= nc {
                    0.0
                } else if trans {
                    data[(j0 + j) * ld + p0 + p]
                } else {
                    data[(p0 + p) * ld + j0 + j]
                };
                let x = got[q * nr * kc + p * nr + c];
                assert_eq!(x.to_bits(), want.to_bits(), "B q {q} p {p} c {c}");
            }
        }
    }
}

/// The portable packers against their definitions (small enough for Miri).
#[cfg(target_arch = "x86_64")]
#[test]
fn scalar_packing_matches_its_definition() {
    use crate::cpu::gemm::avx512::NR;
    use crate::cpu::gemm::blis::{pack_a_rows_scalar, pack_b_scalar};
    let (rows, cols, ld) = (29, 23, 26);
    let data = random::<f32>(rows * ld, 77);
    for trans in [false, true] {
        let (r_max, c_max) = if trans { (cols, rows) } else { (rows, cols) };
        for (m, k, i0, o0) in [
            (r_max, c_max, 0, 0),
            (13, 5, 2, 3),
            (1, 1, 0, 0),
            (12, 17, 1, 1),
        ] {
            let (m, k) = (m.min(r_max - i0), k.min(c_max - o0));
            let (mut buf, off) = aligned_nan(m * k);
            // SAFETY: the block lies inside `data` (bounds above) and `buf` holds `m * k`
            // floats.
            unsafe {
                pack_a_rows_scalar(m, k, src(&data, ld, trans), i0, o0, buf[off..].as_mut_ptr())
            };
            check_packed_a(&buf[off..], &data, ld, trans, (m, k, i0, o0));
            // The same block read as B (k rows and m columns of the stored matrix's view).
            let (kb, nb) = (m, k);
            let (mut buf, off) = aligned_nan(kb * nb.next_multiple_of(NR));
            // SAFETY: as above, with the roles of rows and columns the same as for A.
            unsafe {
                pack_b_scalar(
                    NR,
                    kb,
                    nb,
                    src(&data, ld, trans),
                    i0,
                    o0,
                    buf[off..].as_mut_ptr(),
                )
            };
            check_packed_b(&buf[off..], NR, &data, ld, trans, (kb, nb, i0, o0));
        }
    }
}

/// One instruction set's packer (of `A` or of `B`): `(rows, cols, src, i0, j0, dst)`.
#[cfg(all(target_arch = "x86_64", not(miri)))]
type Packer = unsafe fn(usize, usize, crate::cpu::gemm::blis::Src, usize, usize, *mut f32);

/// An instruction set's packers equal the portable ones bit for bit, over edge panels and
/// both layouts, and write nothing past the packed block.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn packing_matches_scalar_packing(pack_a: Packer, pack_b: Packer, nr: usize, seed: u64) {
    use crate::cpu::gemm::blis::{pack_a_rows_scalar, pack_b_scalar};
    let (rows, cols, ld) = (83, 71, 75);
    let data = random::<f32>(rows * ld, seed);
    for trans in [false, true] {
        let (r_max, c_max) = if trans { (cols, rows) } else { (rows, cols) };
        for (m, k, i0, o0) in [
            (r_max, c_max, 0, 0),
            (r_max - 3, c_max - 5, 3, 5),
            (12, 16, 0, 0),
            (11, 15, 1, 2),
            (25, 33, 7, 9),
            (1, 1, 4, 4),
            (64, 17, 2, 0),
            (16, 32, 3, 1),
        ] {
            let len = m * k.next_multiple_of(nr);
            let (mut x, xo) = aligned_nan(len);
            let (mut y, yo) = aligned_nan(len);
            let s = src(&data, ld, trans);
            // SAFETY: the block lies inside `data`, both buffers hold the padded panels and
            // are 64-byte aligned at the offsets, and the caller checked the CPU.
            unsafe {
                pack_a(m, k, s, i0, o0, x[xo..].as_mut_ptr());
                pack_a_rows_scalar(m, k, s, i0, o0, y[yo..].as_mut_ptr());
            }
            let n = m * k;
            assert!(
                same_bits(&x[xo..xo + n], &y[yo..yo + n]),
                "pack_a_rows trans {trans} {m}×{k} at ({i0}, {o0})"
            );
            assert!(
                x[xo + n..].iter().all(|v| v.is_nan()),
                "pack_a_rows wrote past"
            );
            // SAFETY: as above, for B: `m` rows (k-steps) by `k` columns of the same block.
            unsafe {
                pack_b(m, k, s, i0, o0, x[xo..].as_mut_ptr());
                pack_b_scalar(nr, m, k, s, i0, o0, y[yo..].as_mut_ptr());
            }
            let n = m * k.next_multiple_of(nr);
            assert!(
                same_bits(&x[xo..xo + n], &y[yo..yo + n]),
                "pack_b trans {trans} {m}×{k} at ({i0}, {o0})"
            );
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn avx512_packing_matches_scalar_packing() {
    use crate::cpu::gemm::avx512::{NR, NV, available, pack_a_rows, pack_b};
    if available() {
        packing_matches_scalar_packing(pack_a_rows, pack_b::<NV>, NR, 78);
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn avx2_packing_matches_scalar_packing() {
    use crate::cpu::gemm::avx2::{NR, available, pack_a_rows, pack_b};
    if available() {
        packing_matches_scalar_packing(pack_a_rows, pack_b, NR, 79);
    }
}

/// One instruction set's `sgemm` (the blocked driver with its kernel).
#[cfg(all(target_arch = "x86_64", not(miri)))]
type Sgemm = unsafe fn(crate::cpu::gemm::blis::Product, crate::cpu::gemm::blis::Blocking);

/// The blocked driver against the reference: tiny blocks, so that small problems cross every
/// row, column and depth block boundary (and `beta` applies only to the first depth block),
/// and the default blocks with shapes just past them.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn blocks_match_the_reference(
    sgemm: Sgemm,
    mr: usize,
    nr: usize,
    blocking: crate::cpu::gemm::blis::Blocking,
) {
    use crate::cpu::gemm::blis::Blocking;
    let tiny = |kc, nb, mb| Blocking { kc, nb, mb };
    let small = [(37, 101, 23), (12, 64, 10), (1, 1, 1), (25, 129, 16)];
    type Shapes<'a> = &'a [(usize, usize, usize)];
    let cases: [(Blocking, Shapes<'_>); 5] = [
        (tiny(5, nr, mr), &small),
        (tiny(16, 2 * nr, 3 * mr), &small),
        (tiny(1, nr, 2 * mr), &small),
        // Block sizes that are not whole tiles are rounded.
        (tiny(7, nr + 5, mr + 1), &small),
        // Past the default depth (1024) and column blocks, and past the packed-A row block
        // (576 rows with that depth).
        (blocking, &[(37, 200, 1100), (600, 70, 1030)]),
    ];
    let mut seed = 5000;
    for (blk, shapes) in cases {
        for &(m, n, k) in shapes {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta) in [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.75)] {
                    if blk == blocking && (alpha, beta) != (2.0, 0.75) && (ta, tb) != (true, false)
                    {
                        continue; // keep the big shapes cheap: one scalar case per layout
                    }
                    seed += 3;
                    let case = Case::new((ta, tb), (m, n, k), 2, (alpha, beta));
                    check_native(sgemm, case, blk, seed);
                }
            }
        }
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn avx512_blocks_match_the_reference() {
    use crate::cpu::gemm::avx512::{BLOCKING, MR, NR, available, sgemm};
    if available() {
        blocks_match_the_reference(sgemm, MR, NR, BLOCKING);
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn avx2_blocks_match_the_reference() {
    use crate::cpu::gemm::avx2::{BLOCKING, MR, NR, available, sgemm};
    if available() {
        blocks_match_the_reference(sgemm, MR, NR, BLOCKING);
    }
}

/// Runs `case` through one instruction set's driver directly (bypassing the size rule) and
/// compares with the reference, padding included.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn check_native(sgemm: Sgemm, case: Case, blk: crate::cpu::gemm::blis::Blocking, seed: u64) {
    let what = format!("{blk:?} {case:?}");
    let Case {
        ta, tb, m, n, k, ..
    } = case;
    check_with::<f32>(case, seed, &what, |alpha, a, lda, b, ldb, beta, c, ldc| {
        // SAFETY: the caller checked the CPU; `a`, `b`, `c` hold the matrices with the strides
        // given, and `c` is a unique borrow.
        unsafe {
            sgemm(
                crate::cpu::gemm::blis::Product {
                    m,
                    n,
                    k,
                    alpha,
                    a: src(a, lda, ta),
                    b: src(b, ldb, tb),
                    beta,
                    c: c.as_mut_ptr(),
                    ldc,
                },
                blk,
            );
        }
    });
}
