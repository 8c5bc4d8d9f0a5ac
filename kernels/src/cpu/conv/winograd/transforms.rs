//! The transform matrices of the Winograd algorithms: the weight transforms `G` (in `f64`,
//! and rounded once to `f32`) and the 1-D input and output transforms `Bᵀ`, `Aᵀ` of
//! `F(2, 3)`, `F(4, 3)`, `F(2, 5)` and `F(4, 5)` ([`Transform`]), written once over [`Lanes`].

use super::Lanes;

/// `G` of `F(2×2, 3×3)` (interpolation points 0, 1, −1, ∞).
pub(super) const G2: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// `G` of `F(4×4, 3×3)` (interpolation points 0, 1, −1, 1/2, −2, ∞; see [`F4`]).
pub(super) const G4: [[f64; 3]; 6] = [
    [1.0, 0.0, 0.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0],
    [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0],
    [0.0, 0.0, 1.0],
];

/// `G` of `F(2×2, 5×5)` (interpolation points 0, 1, −1, 1/2, −2, ∞, as [`G4`]: row `p` is
/// `(1, x, x², x³, x⁴) / Π_{q≠p} (x − x_q)` at point `x = x_p`).
pub(super) const G25: [[f64; 5]; 6] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [
        -16.0 / 15.0,
        -8.0 / 15.0,
        -4.0 / 15.0,
        -2.0 / 15.0,
        -1.0 / 15.0,
    ],
    [
        1.0 / 15.0,
        -2.0 / 15.0,
        4.0 / 15.0,
        -8.0 / 15.0,
        16.0 / 15.0,
    ],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

/// `G` of `F(4×4, 5×5)` (interpolation points 0, 1, −1, 2, −2, 1/2, −1/2, ∞; see [`F4R5`]; row
/// 0's sign is moved into the input transform's).
pub(super) const G45: [[f64; 5]; 8] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [-2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0],
    [-2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0],
    [1.0 / 90.0, 1.0 / 45.0, 2.0 / 45.0, 4.0 / 45.0, 8.0 / 45.0],
    [1.0 / 90.0, -1.0 / 45.0, 2.0 / 45.0, -4.0 / 45.0, 8.0 / 45.0],
    [32.0 / 45.0, 16.0 / 45.0, 8.0 / 45.0, 4.0 / 45.0, 2.0 / 45.0],
    [
        32.0 / 45.0,
        -16.0 / 45.0,
        8.0 / 45.0,
        -4.0 / 45.0,
        2.0 / 45.0,
    ],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

/// `g` in `f32` (each entry rounded once), as the weight transform computes with it.
const fn to_f32<const A: usize, const R: usize>(g: [[f64; R]; A]) -> [[f32; R]; A] {
    let mut out = [[0.0f32; R]; A];
    let mut p = 0;
    while p < A {
        let mut l = 0;
        while l < R {
            out[p][l] = g[p][l] as f32;
            l += 1;
        }
        p += 1;
    }
    out
}

/// [`G2`] in `f32`.
pub(super) const G2_F32: [[f32; 3]; 4] = to_f32(G2);
/// [`G4`] in `f32`.
pub(super) const G4_F32: [[f32; 3]; 6] = to_f32(G4);
/// [`G25`] in `f32`.
pub(super) const G25_F32: [[f32; 5]; 6] = to_f32(G25);
/// [`G45`] in `f32`.
pub(super) const G45_F32: [[f32; 5]; 8] = to_f32(G45);

/// The 1-D transforms of `F(M, r)` with `A = M + r − 1`, on vectors of 16 channels; the 2-D
/// transforms apply them to columns, then rows.
pub(super) trait Transform<const A: usize, const M: usize> {
    /// `Bᵀ d`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn input<V: Lanes>(d: [V; A]) -> [V; A];
    /// `Aᵀ m`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn output<V: Lanes>(m: [V; A]) -> [V; M];
}

/// `F(2, 3)`: `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`, `Aᵀ = [1 1 1 0; 0 1 −1 −1]`.
pub(super) struct F2;

impl Transform<4, 2> for F2 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 4]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe {
            [
                d[0].sub(d[2]),
                d[1].add(d[2]),
                d[2].sub(d[1]),
                d[1].sub(d[3]),
            ]
        }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 4]) -> [V; 2] {
        // SAFETY: the caller's.
        unsafe { [m[0].add(m[1]).add(m[2]), m[1].sub(m[2]).sub(m[3])] }
    }
}

/// `F(4, 3)` with the interpolation points 0, 1, −1, 1/2, −2 and ∞ (rather than Lavin & Gray's
/// 0, ±1, ±2, ∞, whose larger transform entries cost about twice the rounding error; see
/// Barabasz et al., *Error analysis and improving the accuracy of Winograd convolution for deep
/// neural networks*, 2020), with common subexpressions:
/// `Bᵀ = [1 −3/2 −2 3/2 1 0; 0 −1 1/2 5/2 1 0; 0 1 −5/2 1/2 1 0; 0 −2 −1 2 1 0;
/// 0 1/2 −1 −1/2 1 0; 0 1 −3/2 −2 3/2 1]`,
/// `Aᵀ = [1 1 1 1 1 0; 0 1 −1 1/2 −2 0; 0 1 1 1/4 4 0; 0 1 −1 1/8 −8 1]`. Every entry is exact
/// in `f32`.
pub(super) struct F4;

impl Transform<6, 4> for F4 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 6]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe {
            let e = d[3].sub(d[1]);
            let d42 = d[4].sub(d[2]);
            [
                e.mul_add(1.5, d[2].mul_add(-2.0, d[0].add(d[4]))),
                d[3].mul_add(2.5, d[2].mul_add(0.5, d[4].sub(d[1]))),
                d[3].mul_add(0.5, d[2].mul_add(-2.5, d[4].add(d[1]))),
                e.mul_add(2.0, d42),
                e.mul_add(-0.5, d42),
                d[4].mul_add(1.5, d[2].mul_add(-1.5, d[3].mul_add(-2.0, d[1].add(d[5])))),
            ]
        }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 6]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe {
            let (a, b) = (m[1].add(m[2]), m[1].sub(m[2]));
            [
                m[0].add(a).add(m[3].add(m[4])),
                m[4].mul_add(-2.0, m[3].mul_add(0.5, b)),
                m[4].mul_add(4.0, m[3].mul_add(0.25, a)),
                m[4].mul_add(-8.0, m[3].mul_add(0.125, b)).add(m[5]),
            ]
        }
    }
}

/// `F(2, 5)` with the interpolation points of [`F4`] (0, 1, −1, 1/2, −2, ∞): `Bᵀ` is
/// [`F4`]'s, `Aᵀ = [1 1 1 1 1 0; 0 1 −1 1/2 −2 1]` (and `G` is [`G25`]).
pub(super) struct F2R5;

impl Transform<6, 2> for F2R5 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 6]) -> [V; 6] {
        // SAFETY: the caller's.
        unsafe { <F4 as Transform<6, 4>>::input(d) }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 6]) -> [V; 2] {
        // SAFETY: the caller's.
        unsafe {
            [
                m[0].add(m[1].add(m[2])).add(m[3].add(m[4])),
                m[4].mul_add(-2.0, m[3].mul_add(0.5, m[1].sub(m[2])))
                    .add(m[5]),
            ]
        }
    }
}

/// `F(4, 5)` with the interpolation points 0, 1, −1, 2, −2, 1/2, −1/2 and ∞ (Lavin & Gray's
/// `F(6, 3)` points; `G` is [`G45`]), with common subexpressions:
/// `Bᵀ = [1 0 −21/4 0 21/4 0 −1 0; 0 1 1 −17/4 −17/4 1 1 0; 0 −1 1 17/4 −17/4 −1 1 0;
/// 0 1/2 1/4 −5/2 −5/4 2 1 0; 0 −1/2 1/4 5/2 −5/4 −2 1 0; 0 2 4 −5/2 −5 1/2 1 0;
/// 0 −2 4 5/2 −5 −1/2 1 0; 0 −1 0 21/4 0 −21/4 0 1]`,
/// `Aᵀ = [1 1 1 1 1 1 1 0; 0 1 −1 2 −2 1/2 −1/2 0; 0 1 1 4 4 1/4 1/4 0;
/// 0 1 −1 8 −8 1/8 −1/8 1]`. Every entry is exact in `f32`.
pub(super) struct F4R5;

impl Transform<8, 4> for F4R5 {
    #[inline(always)]
    unsafe fn input<V: Lanes>(d: [V; 8]) -> [V; 8] {
        // SAFETY: the caller's.
        unsafe {
            let t1 = d[4].mul_add(-4.25, d[2].add(d[6]));
            let t2 = d[3].mul_add(-4.25, d[1].add(d[5]));
            let t3 = d[4].mul_add(-1.25, d[2].mul_add(0.25, d[6]));
            let t4 = d[5].mul_add(2.0, d[3].mul_add(-2.5, d[1].mul_add(0.5, V::zero())));
            let t5 = d[4].mul_add(-5.0, d[2].mul_add(4.0, d[6]));
            let t6 = d[5].mul_add(0.5, d[3].mul_add(-2.5, d[1].mul_add(2.0, V::zero())));
            [
                d[4].sub(d[2]).mul_add(5.25, d[0].sub(d[6])),
                t1.add(t2),
                t1.sub(t2),
                t3.add(t4),
                t3.sub(t4),
                t5.add(t6),
                t5.sub(t6),
                d[3].sub(d[5]).mul_add(5.25, d[7].sub(d[1])),
            ]
        }
    }

    #[inline(always)]
    unsafe fn output<V: Lanes>(m: [V; 8]) -> [V; 4] {
        // SAFETY: the caller's.
        unsafe {
            let (a1, b1) = (m[1].add(m[2]), m[1].sub(m[2]));
            let (a2, b2) = (m[3].add(m[4]), m[3].sub(m[4]));
            let (a3, b3) = (m[5].add(m[6]), m[5].sub(m[6]));
            [
                m[0].add(a1).add(a2.add(a3)),
                b3.mul_add(0.5, b2.mul_add(2.0, b1)),
                a3.mul_add(0.25, a2.mul_add(4.0, a1)),
                b3.mul_add(0.125, b2.mul_add(8.0, b1)).add(m[7]),
            ]
        }
    }
}
