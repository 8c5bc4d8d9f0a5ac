//! 16 × 16 transposes of `f32` tiles, the step of the convolution's layout conversions
//! ([`super::conv::blocked`]), of the direct convolution's weight packing and of the AVX2
//! GEMM's packing of transposed operands: as four 8 × 8 transposes in ymm registers where the
//! CPU has AVX2, one element at a time otherwise.
//!
//! AVX-512 CPUs run the ymm code too: on the development machine (Zen 4, whose 512-bit
//! shuffles take two cycles) it moves 1.3–1.5× the data per second of the zmm transpose
//! (`transpose16` of the GEMM), which needs 64 zmm shuffles per tile against 96 ymm ones.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256, __m256i, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_maskload_ps,
    _mm256_permute2f128_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};

use crate::cpu::isa::Isa;

/// The side of a tile.
pub(crate) const T: usize = 16;

/// Transposes a 16 × 16 tile: for `j < cols`, writes `dst[j·ds .. j·ds + 16]` with
/// `dst[j·ds + i] = src[i·ss + j]` for `i < rows` and 0 for `rows <= i < 16`. Reads only the
/// first `src_cols` floats of rows `i < rows` of `src`, writes only rows `j < cols` of `dst`.
///
/// # Safety
/// `isa` available; `src + i·ss .. + src_cols` readable for `i < rows`, `dst + j·ds .. + 16`
/// writable for `j < cols`, not overlapping the source; `rows <= 16`,
/// `cols <= src_cols <= 16`.
#[allow(clippy::too_many_arguments, reason = "the tile and its two strides")]
#[inline]
pub(crate) unsafe fn transpose(
    isa: Isa,
    src: *const f32,
    ss: usize,
    rows: usize,
    src_cols: usize,
    dst: *mut f32,
    ds: usize,
    cols: usize,
) {
    // SAFETY: (each arm) the caller's contract, and the instruction set is available (AVX-512
    // implies AVX2).
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 | Isa::Avx2 => transpose_avx2(src, ss, rows, src_cols, dst, ds, cols),
            _ => transpose_scalar(src, ss, rows, dst, ds, cols),
        }
    }
}

/// [`transpose`] for a narrow destination: only the first `width` floats of each destination
/// row are written (`width >= rows`, zero past `rows`), through a buffer on the stack.
///
/// # Safety
/// `isa` available; `src + i·ss .. + cols` readable for `i < rows`, `dst + j·ds .. + width`
/// writable for `j < cols`, not overlapping the source; `rows <= width <= 16`, `cols <= 16`.
#[allow(clippy::too_many_arguments, reason = "the tile and its two strides")]
pub(crate) unsafe fn transpose_narrow(
    isa: Isa,
    src: *const f32,
    ss: usize,
    rows: usize,
    cols: usize,
    dst: *mut f32,
    ds: usize,
    width: usize,
) {
    let mut b = [0.0f32; T * T];
    // SAFETY: the reads and writes are the caller's (`cols` and `width` floats per row), and
    // the buffer holds 16 rows of 16.
    unsafe {
        transpose(isa, src, ss, rows, cols, b.as_mut_ptr(), T, cols);
        for j in 0..cols {
            std::ptr::copy_nonoverlapping(b.as_ptr().add(j * T), dst.add(j * ds), width);
        }
    }
}

/// The portable [`transpose`].
///
/// # Safety
/// As [`transpose`].
unsafe fn transpose_scalar(
    src: *const f32,
    ss: usize,
    rows: usize,
    dst: *mut f32,
    ds: usize,
    cols: usize,
) {
    for j in 0..cols {
        for i in 0..T {
            // SAFETY: row `i < rows` of the source, column `j < cols <= src_cols`; row `j < cols`
            // of the destination.
            unsafe { *dst.add(j * ds + i) = if i < rows { *src.add(i * ss + j) } else { 0.0 } };
        }
    }
}

/// Transposes an 8 × 8 block held as 8 row vectors: afterwards `r[j]` lane `i` is the old
/// `r[i]` lane `j`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn transpose8(r: &mut [__m256; 8]) {
    let mut t = [_mm256_setzero_ps(); 8];
    for g in 0..4 {
        t[2 * g] = _mm256_unpacklo_ps(r[2 * g], r[2 * g + 1]);
        t[2 * g + 1] = _mm256_unpackhi_ps(r[2 * g], r[2 * g + 1]);
    }
    // Within each 128-bit half `L`, `u[4 h + j]` now holds column `4 L + j` of rows
    // `4 h .. 4 h + 4`.
    let mut u = [_mm256_setzero_ps(); 8];
    for h in 0..2 {
        let (t0, t1, t2, t3) = (t[4 * h], t[4 * h + 1], t[4 * h + 2], t[4 * h + 3]);
        u[4 * h] = _mm256_shuffle_ps::<0x44>(t0, t2);
        u[4 * h + 1] = _mm256_shuffle_ps::<0xEE>(t0, t2);
        u[4 * h + 2] = _mm256_shuffle_ps::<0x44>(t1, t3);
        u[4 * h + 3] = _mm256_shuffle_ps::<0xEE>(t1, t3);
    }
    for j in 0..4 {
        r[j] = _mm256_permute2f128_ps::<0x20>(u[j], u[4 + j]);
        r[4 + j] = _mm256_permute2f128_ps::<0x31>(u[j], u[4 + j]);
    }
}

/// `-1` eight times, then `0` eight times: the mask of the first `n` lanes starts at `8 - n`.
#[cfg(target_arch = "x86_64")]
static LANES: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

/// [`transpose`] as four 8 × 8 transposes in ymm registers.
///
/// # Safety
/// As [`transpose`], and AVX2 available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(
    src: *const f32,
    ss: usize,
    rows: usize,
    src_cols: usize,
    dst: *mut f32,
    ds: usize,
    cols: usize,
) {
    for j0 in [0, 8] {
        if j0 >= cols {
            continue;
        }
        let valid = (src_cols - j0).min(8);
        // SAFETY: `8 - valid <= 8`, so 8 `i32`s of the table from there.
        let mask: __m256i =
            unsafe { _mm256_loadu_si256(LANES.as_ptr().add(8 - valid).cast::<__m256i>()) };
        for i0 in [0, 8] {
            let mut r = [_mm256_setzero_ps(); 8];
            for (i, v) in r.iter_mut().enumerate() {
                if i0 + i < rows {
                    // SAFETY: row `i0 + i < rows` of the source, floats `j0 .. j0 + valid`
                    // (`< src_cols`); masked-off lanes are not read.
                    *v = unsafe {
                        let p = src.add((i0 + i) * ss + j0);
                        if valid == 8 {
                            _mm256_loadu_ps(p)
                        } else {
                            _mm256_maskload_ps(p, mask)
                        }
                    };
                }
            }
            transpose8(&mut r);
            for (j, v) in r.iter().enumerate() {
                if j0 + j < cols {
                    // SAFETY: row `j0 + j < cols` of the destination, floats `i0 .. i0 + 8`.
                    unsafe { _mm256_storeu_ps(dst.add((j0 + j) * ds + i0), *v) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `dst` (16 rows `ld` apart) holds the transpose of the `rows × cols` corner
    /// of `src` (rows 20 apart) in its first `width` floats of each of the first `cols` rows,
    /// zeros past `rows`, and NaN (untouched) everywhere else.
    fn check(
        src: &[f32],
        (rows, cols): (usize, usize),
        dst: &[f32],
        ld: usize,
        width: usize,
        what: &str,
    ) {
        for j in 0..16 {
            for i in 0..ld {
                let got = dst[j * ld + i];
                if j < cols && i < width {
                    let want = if i < rows { src[i * 20 + j] } else { 0.0 };
                    assert_eq!(got, want, "{what} {rows}×{cols} ({j},{i})");
                } else {
                    assert!(got.is_nan(), "{what}: wrote ({j},{i})");
                }
            }
        }
    }

    #[test]
    fn transposes_agree_with_the_definition_on_every_isa() {
        let src: Vec<f32> = (0..20 * 16).map(|v| v as f32 + 0.25).collect();
        for isa in Isa::available() {
            for (rows, cols) in [(16, 16), (5, 16), (16, 3), (1, 1), (9, 13)] {
                let mut dst = vec![f32::NAN; 16 * 17];
                // SAFETY: `cols` floats of `rows` source rows 20 apart (20 × 16 floats); 16
                // floats of `cols` destination rows 17 apart.
                unsafe {
                    transpose(
                        isa,
                        src.as_ptr(),
                        20,
                        rows,
                        cols,
                        dst.as_mut_ptr(),
                        17,
                        cols,
                    )
                };
                check(&src, (rows, cols), &dst, 17, 16, &format!("{isa}"));
                let mut narrow = vec![f32::NAN; 16 * 16];
                let width = rows.clamp(7, 16);
                // SAFETY: `cols` floats of `rows` source rows; `width` floats of `cols`
                // destination rows of 16.
                unsafe {
                    transpose_narrow(
                        isa,
                        src.as_ptr(),
                        20,
                        rows,
                        cols,
                        narrow.as_mut_ptr(),
                        16,
                        width,
                    )
                };
                check(
                    &src,
                    (rows, cols),
                    &narrow,
                    16,
                    width,
                    &format!("{isa} narrow"),
                );
            }
        }
    }
}
