//! GEMM against a naive reference: every transpose combination, odd shapes, padded leading
//! dimensions, alpha/beta cases, batches, and every argument error.
use super::*;
use crate::cpu::test_util::same_bits;

mod blis;

/// What the tests need beyond [`GemmElement`].
trait TestFloat: GemmElement {
    const EPS: f64;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl TestFloat for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl TestFloat for f64 {
    const EPS: f64 = f64::EPSILON;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Deterministic values in [-1, 1) (xorshift64*).
fn random<T: TestFloat>(len: usize, seed: u64) -> Vec<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let bits = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            T::from_f64(bits as f64 / (1u64 << 52) as f64 - 1.0)
        })
        .collect()
}

/// The value outside every matrix, which no call may change.
const GUARD: f64 = 12345.0;

/// One test case: sizes, flags, padding, scalars.
#[derive(Debug, Clone, Copy)]
struct Case {
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    pad: usize,
    alpha: f64,
    beta: f64,
}

impl Case {
    /// The case of transposes `(ta, tb)`, sizes `(m, n, k)`, padding `pad` and scalars
    /// `(alpha, beta)`.
    fn new(
        (ta, tb): (bool, bool),
        (m, n, k): (usize, usize, usize),
        pad: usize,
        (alpha, beta): (f64, f64),
    ) -> Case {
        Case {
            ta,
            tb,
            m,
            n,
            k,
            pad,
            alpha,
            beta,
        }
    }
}

/// Naive triple loop in f64 over the stored layouts, into `c` (row-major, `ldc`).
#[allow(clippy::too_many_arguments)]
fn reference<T: TestFloat>(
    case: Case,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [f64],
    ldc: usize,
) {
    let Case {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        beta,
        ..
    } = case;
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0;
            for p in 0..k {
                let x = if ta { a[p * lda + i] } else { a[i * lda + p] };
                let y = if tb { b[j * ldb + p] } else { b[p * ldb + j] };
                acc += x.to_f64() * y.to_f64();
            }
            let old = if beta == 0.0 {
                0.0
            } else {
                beta * c[i * ldc + j]
            };
            c[i * ldc + j] = alpha * acc + old;
        }
    }
}

/// Runs `case` through `gemm` and the reference and compares, including the padding.
fn check<T: TestFloat>(case: Case, seed: u64) {
    check_threads::<T>(case, seed, 1);
}

/// [`check`] with `threads` threads allowed.
fn check_threads<T: TestFloat>(case: Case, seed: u64, threads: usize) {
    let Case {
        ta, tb, m, n, k, ..
    } = case;
    let what = format!("{case:?} {}", std::any::type_name::<T>());
    check_with::<T>(case, seed, &what, |al, a, lda, b, ldb, be, c, ldc| {
        gemm(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, threads).expect("valid arguments");
    });
}

/// Makes `case`'s operands from `seed` (the output's padding set to [`GUARD`]), runs
/// `run(alpha, a, lda, b, ldb, beta, c, ldc)` on them and compares `c`, padding included, with
/// the reference; `what` names the run in a failure.
fn check_with<T: TestFloat>(
    case: Case,
    seed: u64,
    what: &str,
    run: impl FnOnce(T, &[T], usize, &[T], usize, T, &mut [T], usize),
) {
    let Case {
        ta,
        tb,
        m,
        n,
        k,
        pad,
        alpha,
        beta,
    } = case;
    let (a_rows, a_cols) = if ta { (k, m) } else { (m, k) };
    let (b_rows, b_cols) = if tb { (n, k) } else { (k, n) };
    let (lda, ldb, ldc) = (a_cols + pad, b_cols + pad, n + pad);
    let a = random::<T>(a_rows * lda, seed);
    let b = random::<T>(b_rows * ldb, seed + 1);
    let mut c: Vec<T> = if beta == 0.0 {
        vec![T::from_f64(f64::NAN); m * ldc]
    } else {
        random(m * ldc, seed + 2)
    };
    for i in 0..m {
        c[i * ldc + n..(i + 1) * ldc].fill(T::from_f64(GUARD));
    }
    let mut want: Vec<f64> = c.iter().map(|x| x.to_f64()).collect();
    reference(case, &a, lda, &b, ldb, &mut want, ldc);
    let (al, be) = (T::from_f64(alpha), T::from_f64(beta));
    run(al, &a, lda, &b, ldb, be, &mut c, ldc);
    let tol = 8.0 * T::EPS * (k as f64 + 2.0) * (alpha.abs() + beta.abs() + 1.0);
    for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
        let got = got.to_f64();
        assert!(
            (got - want).abs() <= tol * (1.0 + want.abs()),
            "{what}: element {idx}: got {got}, want {want}"
        );
    }
}

fn check_all<T: TestFloat>() {
    let sizes = [
        (1, 1, 1),
        (3, 5, 7),
        (17, 1, 33),
        (1, 17, 33),
        (5, 7, 2),
        (9, 6, 1),
        (8, 8, 8),
        (64, 65, 66),
        (130, 97, 300),
    ];
    let scalars = [(1.0, 0.0), (1.0, 1.0), (0.5, 1.0), (2.0, -0.5), (-1.5, 0.0)];
    let mut seed = 1;
    for (m, n, k) in sizes {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for pad in [0, 3] {
                for (alpha, beta) in scalars {
                    seed += 3;
                    check::<T>(Case::new((ta, tb), (m, n, k), pad, (alpha, beta)), seed);
                }
            }
        }
    }
}

#[test]
fn matches_the_reference_in_f32() {
    check_all::<f32>();
}

/// Products that `gemm` sends to mxr's kernel for a transposed `B` with few rows (a
/// classifier layer at a small batch: fewer than 64 rows, 64 columns or more, depth 512 or
/// more), on one and two threads.
#[test]
fn classifier_shaped_products_match_the_reference() {
    let mut seed = 7000;
    for (m, n, k) in [(12, 70, 520), (33, 64, 512)] {
        for ta in [false, true] {
            for (pad, threads) in [(0, 1), (3, 2)] {
                seed += 3;
                let case = Case::new((ta, true), (m, n, k), pad, (1.0, 1.0));
                check_threads::<f32>(case, seed, threads);
            }
        }
    }
}

/// Products `gemm` computes transposed (`C = A · Bᵀ` with at least twice as many columns as
/// rows: dense layers with more outputs than the batch), on either side of the 64 rows where
/// the transposed product moves to mxr's kernel, with padded leading dimensions, every kind of
/// `beta` (0 must ignore the NaN in `C`), and one and two threads; plus the same shapes in
/// `f64`, which keep the direct route.
#[test]
fn wide_products_with_a_transposed_b_match_the_reference() {
    let mut seed = 9000;
    for (m, n, k) in [(9, 300, 800), (33, 80, 900), (64, 500, 80), (70, 141, 300)] {
        for (pad, threads) in [(0, 1), (5, 2)] {
            for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
                seed += 3;
                let case = Case::new((false, true), (m, n, k), pad, (alpha, beta));
                let isa = crate::cpu::isa::Isa::current();
                assert_eq!(
                    transposed_pays::<f32>(false, true, m, n, k),
                    isa >= crate::cpu::isa::Isa::Avx2
                );
                assert!(!transposed_pays::<f64>(false, true, m, n, k));
                check_threads::<f32>(case, seed, threads);
                check_threads::<f64>(case, seed, threads);
            }
        }
    }
}

#[test]
fn matches_the_reference_in_f64() {
    check_all::<f64>();
}

#[test]
fn alpha_zero_reads_neither_input() {
    let a = [f32::NAN; 6];
    let b = [f32::INFINITY; 6];
    let mut c = [1.0f32, 2.0, 3.0, 4.0];
    gemm(false, false, 2, 2, 3, 0.0, &a, 3, &b, 2, 2.0, &mut c, 2, 1).expect("valid");
    assert_eq!(c, [2.0, 4.0, 6.0, 8.0]);
    let mut c = [f32::NAN; 4];
    gemm(false, false, 2, 2, 3, 0.0, &a, 3, &b, 2, 0.0, &mut c, 2, 1).expect("valid");
    assert_eq!(c, [0.0; 4]);
}

#[test]
fn k_zero_scales_c() {
    let mut c = [1.0f64, 2.0, 9.0, 3.0, 4.0, 9.0];
    gemm(false, true, 2, 2, 0, 1.0, &[], 0, &[], 0, 0.5, &mut c, 3, 1).expect("valid");
    assert_eq!(c, [0.5, 1.0, 9.0, 1.5, 2.0, 9.0]);
    gemm(true, false, 2, 2, 0, 1.0, &[], 2, &[], 2, 1.0, &mut c, 3, 1).expect("valid");
    assert_eq!(c, [0.5, 1.0, 9.0, 1.5, 2.0, 9.0]);
    let mut c = [f64::NAN; 4];
    gemm(
        false,
        false,
        2,
        2,
        0,
        1.0,
        &[],
        0,
        &[],
        2,
        0.0,
        &mut c,
        2,
        1,
    )
    .expect("valid");
    assert_eq!(c, [0.0; 4]);
}

#[test]
fn empty_output_is_a_no_op() {
    let a = [1.0f32; 12];
    let mut c = [7.0f32; 4];
    gemm(
        false,
        false,
        0,
        4,
        3,
        1.0,
        &[],
        3,
        &a,
        4,
        0.0,
        &mut [],
        4,
        1,
    )
    .expect("m = 0");
    gemm(
        false,
        false,
        4,
        0,
        3,
        1.0,
        &a,
        3,
        &[],
        0,
        0.0,
        &mut [],
        0,
        1,
    )
    .expect("n = 0");
    gemm(
        false,
        false,
        2,
        2,
        3,
        1.0,
        &a,
        3,
        &a,
        2,
        0.0,
        &mut c[..0],
        2,
        1,
    )
    .expect_err("c is empty but 2×2");
    assert_eq!(c, [7.0; 4]);
    let n0 = batched_gemm(
        false, false, 2, 2, 3, 1.0, &a, 3, 6, &a, 2, 6, 0.0, &mut c, 2, 4, 0, 1,
    );
    n0.expect("batch = 0");
    assert_eq!(c, [7.0; 4]);
}

#[test]
fn bad_arguments_are_errors_and_leave_c_alone() {
    use GemmArg::{A, B, C};
    let ld = |arg, ld, width| GemmError::LeadingDim { arg, ld, width };
    let short = |arg, rows, cols, ld, needed, len| GemmError::TooShort {
        arg,
        rows,
        cols,
        ld,
        needed,
        len,
    };
    // m = 2, n = 2, k = 3: (ta, tb, lda, ldb, ldc, a.len(), b.len(), c.len(), error).
    #[rustfmt::skip]
    let table = [
        (false, false, 2, 2, 2, 6, 6, 4, ld(A, 2, 3)),
        (true, false, 1, 2, 2, 6, 6, 4, ld(A, 1, 2)),
        (false, false, 3, 1, 2, 6, 6, 4, ld(B, 1, 2)),
        (false, true, 3, 2, 2, 6, 6, 4, ld(B, 2, 3)),
        (false, false, 3, 2, 1, 6, 6, 4, ld(C, 1, 2)),
        (false, false, 3, 2, 2, 5, 6, 4, short(A, 2, 3, 3, 6, 5)),
        (true, true, 2, 3, 2, 6, 5, 4, short(B, 2, 3, 3, 6, 5)),
        (false, false, 3, 2, 2, 6, 6, 3, short(C, 2, 2, 2, 4, 3)),
        (false, false, 3, 2, 3, 6, 6, 4, short(C, 2, 2, 3, 5, 4)),
        // A 2×3 with lda 4 needs 7 elements, not 8.
        (false, false, 4, 2, 2, 6, 6, 4, short(A, 2, 3, 4, 7, 6)),
    ];
    let (a, b, mut c) = ([1.0f32; 6], [1.0f32; 6], [5.0f32; 4]);
    for (ta, tb, lda, ldb, ldc, a_len, b_len, c_len, want) in table {
        let (a, b, c) = (&a[..a_len], &b[..b_len], &mut c[..c_len]);
        let got = gemm(ta, tb, 2, 2, 3, 1.0, a, lda, b, ldb, 0.0, c, ldc, 1);
        assert_eq!(got, Err(want));
    }
    assert_eq!(c, [5.0; 4]);
    let msg = short(A, 2, 3, 3, 6, 5).to_string();
    assert_eq!(
        msg,
        "gemm: a needs at least 6 elements (2×3, ld 3) but has 5"
    );

    let err = gemm(
        false,
        false,
        2,
        2,
        3,
        1.0f32,
        &a,
        usize::MAX,
        &b,
        2,
        0.0,
        &mut c,
        2,
        1,
    );
    assert!(
        matches!(err, Err(GemmError::Overflow { arg: A, .. })),
        "{err:?}"
    );
    #[rustfmt::skip]
    let err = batched_gemm(false, false, 2, 2, 3, 1.0f32, &a, 3, usize::MAX, &b, 2, 0, 0.0,
                           &mut c, 2, 4, 3, 1);
    assert!(
        matches!(
            err,
            Err(GemmError::Overflow {
                arg: A,
                batch: 3,
                ..
            })
        ),
        "{err:?}"
    );
    #[rustfmt::skip]
    let err = batched_gemm(false, false, 2, 2, 3, 1.0f32, &a, 3, 0, &b, 2, 0, 0.0,
                           &mut c, 2, 4, 2, 1);
    assert_eq!(err, Err(short(C, 2, 2, 2, 8, 4)));
    let mut c8 = [5.0f32; 8];
    #[rustfmt::skip]
    let err = batched_gemm(false, false, 2, 2, 3, 1.0f32, &a, 3, 0, &b, 2, 0, 0.0,
                           &mut c8, 2, 3, 2, 1);
    let overlap = GemmError::OverlappingOutput {
        stride: 3,
        batch: 2,
        rows: 2,
        cols: 2,
        ld: 2,
    };
    assert_eq!(err, Err(overlap));
    assert_eq!(c8, [5.0; 8]);
    assert!(err.expect_err("error").to_string().contains("stride_c = 3"));
}

#[test]
fn one_row_matrices_ignore_a_huge_leading_dimension() {
    let a = [1.0f64, 2.0];
    let b = [3.0f64, 4.0];
    let mut c = [0.0f64];
    gemm(
        false,
        true,
        1,
        1,
        2,
        1.0,
        &a,
        usize::MAX,
        &b,
        usize::MAX,
        0.0,
        &mut c,
        usize::MAX,
        1,
    )
    .expect("one-row matrices");
    assert_eq!(c, [11.0]);
}

/// Batched calls equal one `gemm` per matrix, with padded strides, a shared (stride-0)
/// input and row-interleaved outputs.
#[test]
fn batched_matches_one_call_per_matrix() {
    let (m, n, k, batch) = (5, 6, 7, 3);
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let lda = if ta { m } else { k } + 1;
        let ldb = if tb { k } else { n } + 2;
        let a_extent = if ta {
            (k - 1) * lda + m
        } else {
            (m - 1) * lda + k
        };
        let stride_a = a_extent + 4;
        let a = random::<f32>(stride_a * batch, 11);
        let b = random::<f32>(ldb * k.max(n), 12); // one B for all, stride 0
        // Layout 1: separate, padded output matrices; layout 2: rows interleaved.
        for (ldc, stride_c) in [(n + 1, m * (n + 1) + 3), (batch * n + 2, n)] {
            let mut c = random::<f32>((batch - 1) * stride_c + (m - 1) * ldc + n, 13);
            let mut want = c.clone();
            for p in 0..batch {
                let (a_p, c_p) = (&a[p * stride_a..], &mut want[p * stride_c..]);
                gemm(ta, tb, m, n, k, 0.5, a_p, lda, &b, ldb, 2.0, c_p, ldc, 1).expect("valid");
            }
            batched_gemm(
                ta, tb, m, n, k, 0.5, &a, lda, stride_a, &b, ldb, 0, 2.0, &mut c, ldc, stride_c,
                batch, 1,
            )
            .expect("valid");
            assert_eq!(c, want, "ta {ta} tb {tb} ldc {ldc}");
        }
    }
}

/// Shapes around the AVX-512 kernel's tile (12 × 32) and default blocks, through the public
/// entry point: every row and column remainder, `k` across a `kc` boundary, every transpose.
#[test]
fn edge_tiles_and_blocks_in_f32() {
    let mut seed = 1000;
    let mut run = |m, n, k, pad, alpha, beta| {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            seed += 3;
            let case = Case::new((ta, tb), (m, n, k), pad, (alpha, beta));
            check::<f32>(case, seed);
        }
    };
    for m in 1..=26 {
        run(m, 35, 19, 1, 1.0, 0.0);
    }
    for n in (1..=66).chain([95, 96, 97]) {
        run(13, n, 18, 2, -0.5, 1.0);
    }
    for k in [1, 15, 16, 17, 383, 384, 385, 769] {
        run(25, 33, k, 0, 1.0, 0.25);
    }
    // Past the default column block (512) and row block (1536).
    run(14, 545, 9, 5, 1.0, 0.0);
    run(1549, 7, 5, 0, 2.0, -1.0);
}

/// `beta != 0` reads `C`: a NaN there survives (as in BLAS), the other elements are exact.
#[test]
fn nonzero_beta_propagates_nan_in_c() {
    let (m, n, k) = (20, 40, 8);
    let a = vec![1.0f32; m * k];
    let b = vec![0.5f32; k * n];
    for beta in [1.0f32, 0.5] {
        let mut c = vec![2.0f32; m * n];
        c[13 * n + 37] = f32::NAN;
        gemm(false, false, m, n, k, 1.0, &a, k, &b, n, beta, &mut c, n, 1).expect("valid");
        for (idx, x) in c.iter().enumerate() {
            if idx == 13 * n + 37 {
                assert!(x.is_nan(), "beta {beta}: NaN lost");
            } else {
                assert_eq!(*x, 4.0 + beta * 2.0, "beta {beta}: element {idx}");
            }
        }
    }
}

/// Products big enough for the native kernel, through the public entry point: transposed
/// operands, padded leading dimensions, `beta == 0` over NaN, and a batch.
#[test]
fn large_products_through_the_native_path() {
    check::<f32>(
        Case::new((false, true), (130, 1030, 1025), 3, (1.5, 0.0)),
        9001,
    );
    check::<f32>(
        Case::new((true, false), (515, 520, 513), 1, (-1.0, 0.5)),
        9004,
    );
    // A batch of two (with a shared `B`) equals one call per matrix.
    let (m, n, k) = (512, 512, 512);
    let a = random::<f32>(2 * m * k, 9010);
    let b = random::<f32>(k * n, 9011);
    let mut c = vec![f32::NAN; 2 * m * n];
    let mut want = c.clone();
    for p in 0..2 {
        let (a_p, c_p) = (&a[p * m * k..], &mut want[p * m * n..]);
        gemm(false, false, m, n, k, 1.0, a_p, k, &b, n, 0.0, c_p, n, 1).expect("valid");
    }
    batched_gemm(
        false,
        false,
        m,
        n,
        k,
        1.0,
        &a,
        k,
        m * k,
        &b,
        n,
        0,
        0.0,
        &mut c,
        n,
        m * n,
        2,
        1,
    )
    .expect("valid");
    assert_eq!(c, want);
}

/// The forced backends agree with each other and with the automatic choice on a small
/// product (where `Auto` picks the crate), transposes and all.
#[test]
fn forced_backends_agree() {
    let (m, n, k) = (37, 45, 29);
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let lda = if ta { m } else { k } + 1;
        let ldb = if tb { k } else { n } + 2;
        let a = random::<f32>(lda * k.max(m), 21);
        let b = random::<f32>(ldb * k.max(n), 22);
        let run = |backend| {
            let mut c = random::<f32>(m * n, 23);
            batched_gemm_with(
                backend, ta, tb, m, n, k, 0.5, &a, lda, 0, &b, ldb, 0, -1.0, &mut c, n, 0, 1, 1,
            )
            .expect("valid");
            c
        };
        let (auto, native, krate) = (
            run(Backend::Auto),
            run(Backend::Native),
            run(Backend::Crate),
        );
        assert_eq!(auto, krate, "ta {ta} tb {tb}");
        for (x, y) in native.iter().zip(&krate) {
            assert!((x - y).abs() <= 1e-5, "ta {ta} tb {tb}: {x} vs {y}");
        }
    }
}

#[test]
fn threaded_products_match_the_reference() {
    // Large enough to be split into bands (see `row_chunks`), with ragged last bands.
    let sizes = [
        (130, 97, 300),
        (257, 64, 200),
        (40, 300, 400),
        (600, 600, 16),
    ];
    let mut seed = 900;
    for (m, n, k) in sizes {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for (threads, pad, alpha, beta) in [(2, 0, 1.0, 0.0), (3, 5, 0.5, 1.0)] {
                seed += 3;
                let case = Case::new((ta, tb), (m, n, k), pad, (alpha, beta));
                check_threads::<f32>(case, seed, threads);
                check_threads::<f64>(case, seed, threads);
            }
        }
    }
}

#[test]
fn row_chunks_split_only_large_products() {
    assert_eq!(
        super::row_chunks(128, 128, 64, 2).len(),
        1,
        "1M multiply-adds"
    );
    assert_eq!(super::row_chunks(128, 784, 128, 2), vec![0..64, 64..128]);
    assert_eq!(
        super::row_chunks(20, 4096, 4096, 4).len(),
        1,
        "under 32 rows"
    );
    assert_eq!(super::row_chunks(128, 784, 128, 1).len(), 1, "one thread");
    let chunks = super::row_chunks(1000, 1000, 1000, 3);
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks.last().unwrap().end, 1000);
}

/// Products of up to 8 rows (the few-rows kernel, `gemm/skinny.rs`): every transpose, column
/// counts with and without a tail of 32, shallow and deep, on 1 and 2 threads; and the same
/// bits whatever the thread count.
#[test]
fn few_row_products_match_the_reference_on_any_thread_count() {
    let mut seed = 500;
    for m in [1, 2, 3, 4, 5, 8] {
        for (n, k) in [(1000, 1024), (33, 17), (70, 1), (96, 300)] {
            for (ta, tb) in [(false, true), (false, false), (true, true), (true, false)] {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0)] {
                    seed += 3;
                    let case = Case::new((ta, tb), (m, n, k), 2, (alpha, beta));
                    check_threads::<f32>(case, seed, 1);
                    check_threads::<f32>(case, seed, 2);
                }
            }
        }
    }
    // A FullyConnected layer at batch 3 (x · Wᵀ): large enough to split across threads.
    let (m, n, k) = (3, 1000, 2048);
    let a = random::<f32>(m * k, 7);
    let b = random::<f32>(n * k, 8);
    let run = |threads| {
        let mut c = vec![f32::NAN; m * n];
        gemm(
            false, true, m, n, k, 1.0, &a, k, &b, k, 0.0, &mut c, n, threads,
        )
        .expect("valid");
        c
    };
    let one = run(1);
    assert!(one.iter().all(|x| x.is_finite()));
    for threads in [2, 3] {
        assert!(
            same_bits(&run(threads), &one),
            "{threads} threads differ from one"
        );
    }
}

/// The products whose `B` or `C` reach 4 MiB go to mxr's kernel, whose packing touches at most
/// 768 KiB of `B` per call, and not to the crate, whose slab grows with `B`: W6's
/// `64 × 1024 × 1024` data gradient and `1024 × 1024 × 64` weight gradient. Smaller products
/// keep the measured rule (LeNet's first dense layer stays with the crate).
#[test]
#[cfg(target_arch = "x86_64")]
fn large_operands_go_to_the_blocked_kernel() {
    use crate::cpu::isa::Isa;
    let worth = |m, n, k| super::native::worth_it(Isa::Avx512, m, n, k, false);
    assert!(worth(64, 1024, 1024), "W6 data gradient");
    assert!(worth(1024, 1024, 64), "W6 weight gradient");
    assert!(!worth(64, 800, 500), "LeNet fc1 data gradient");
    assert!(!worth(500, 800, 64), "LeNet fc1 weight gradient");
    assert!(!worth(32, 1024, 1024), "fewer than 64 rows keep the crate");
    assert!(!super::native::worth_it(Isa::Scalar, 64, 1024, 1024, false));
}
