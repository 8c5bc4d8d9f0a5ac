//! The element-wise sum of several arrays in one pass (MXNet's `ElementwiseSum`, used by the
//! KVStore to merge pushed values).

use half::f16;

use super::elementwise::Num;

/// Elements per block: the partial sums of one block stay in L1 while further sources are added.
const BLOCK: usize = 2048;

/// `out = Σ sources`, element by element, reading every source once and writing `out` once per
/// block (`out` may not alias a source). No sources give zeros. Integer sums wrap.
///
/// ```
/// use mxr_kernels::cpu::sum::sum_n;
/// let (a, b, c) = ([1.0f32, 2.0], [10.0f32, 20.0], [100.0f32, 200.0]);
/// let mut out = [0.0f32; 2];
/// sum_n(&[&a, &b, &c], &mut out);
/// assert_eq!(out, [111.0, 222.0]);
/// ```
///
/// # Panics
/// If a source's length differs from `out`'s (callers check shapes first).
pub fn sum_n<T: Num>(sources: &[&[T]], out: &mut [T]) {
    assert!(
        sources.iter().all(|s| s.len() == out.len()),
        "sum_n: every source must have the output's length {}",
        out.len()
    );
    if sources.is_empty() {
        out.fill(T::ZERO);
        return;
    }
    for (b, o) in out.chunks_mut(BLOCK).enumerate() {
        let range = b * BLOCK..b * BLOCK + o.len();
        let mut groups = sources.chunks(4);
        if let Some(first) = groups.next() {
            group_sum::<T, false>(first, range.clone(), o);
        }
        for group in groups {
            group_sum::<T, true>(group, range.clone(), o);
        }
    }
}

/// `o = Σ group[range]` (`ADD == false`) or `o += Σ group[range]` (`ADD == true`) for up to
/// four sources; each instance is its own loop (the flag is a constant).
#[inline(always)]
fn group_sum<T: Num, const ADD: bool>(group: &[&[T]], range: std::ops::Range<usize>, o: &mut [T]) {
    let put = |o: &mut T, s: T| *o = if ADD { o.plus(s) } else { s };
    match group {
        [a] if !ADD => o.copy_from_slice(&a[range]),
        [a] => {
            for (o, &a) in o.iter_mut().zip(&a[range]) {
                put(o, a);
            }
        }
        [a, b] => {
            for ((o, &a), &b) in o.iter_mut().zip(&a[range.clone()]).zip(&b[range]) {
                put(o, a.plus(b));
            }
        }
        [a, b, c] => {
            let (a, b, c) = (&a[range.clone()], &b[range.clone()], &c[range]);
            for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
                put(o, a.plus(b).plus(c));
            }
        }
        [a, b, c, d] => {
            let (a, b) = (&a[range.clone()], &b[range.clone()]);
            let (c, d) = (&c[range.clone()], &d[range]);
            for ((((o, &a), &b), &c), &d) in o.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                put(o, a.plus(b).plus(c.plus(d)));
            }
        }
        _ => unreachable!("groups come from chunks(4) of a non-empty list"),
    }
}

/// [`sum_n`] for `f16`, accumulating each block in `f32` and rounding once.
///
/// # Panics
/// If a source's length differs from `out`'s.
pub fn sum_n_f16(sources: &[&[f16]], out: &mut [f16]) {
    assert!(
        sources.iter().all(|s| s.len() == out.len()),
        "sum_n_f16: every source must have the output's length {}",
        out.len()
    );
    let mut acc = vec![0.0f32; BLOCK.min(out.len())];
    for (b, o) in out.chunks_mut(BLOCK).enumerate() {
        let start = b * BLOCK;
        let acc = &mut acc[..o.len()];
        acc.fill(0.0);
        for s in sources {
            for (a, v) in acc.iter_mut().zip(&s[start..start + o.len()]) {
                *a += v.to_f32();
            }
        }
        for (o, a) in o.iter_mut().zip(acc.iter()) {
            *o = f16::from_f32(*a);
        }
    }
}

/// Copies `src` into `dst` (equal lengths) with stores that bypass the caches where the CPU
/// has them (x86-64's non-temporal stores): for big copies whose destination is not read again
/// soon, such as a KVStore's broadcast of a merged value to several outputs. The destination
/// then does not evict the data still to be read, and its lines are not first read in.
///
/// ```
/// use mxr_kernels::cpu::sum::copy_streaming;
/// let src: Vec<u8> = (0..=255).cycle().take(1000).collect();
/// let mut dst = vec![0u8; 1000];
/// copy_streaming(&src, &mut dst[..]);
/// assert_eq!(src, dst);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn copy_streaming(src: &[u8], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "copy_streaming: lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        let head = dst.as_ptr().align_offset(16).min(dst.len());
        dst[..head].copy_from_slice(&src[..head]);
        let body = (dst.len() - head) / 64 * 64;
        let (s, d) = (&src[head..head + body], &mut dst[head..head + body]);
        for (sc, dc) in s.chunks_exact(64).zip(d.chunks_exact_mut(64)) {
            for k in 0..4 {
                let (from, to) = (&sc[16 * k..16 * k + 16], &mut dc[16 * k..16 * k + 16]);
                // SAFETY: `from` and `to` are 16 valid bytes each (slices of that length);
                // the load is unaligned, and `to` is 16-byte aligned because `d` starts at
                // `head`, the first 16-byte boundary of `dst`, and steps in multiples of 16.
                // SSE2, which both need, is part of the x86-64 baseline.
                unsafe {
                    let v = _mm_loadu_si128(from.as_ptr().cast::<__m128i>());
                    _mm_stream_si128(to.as_mut_ptr().cast::<__m128i>(), v);
                }
            }
        }
        // SAFETY: a fence has no memory preconditions; it needs SSE, part of the x86-64
        // baseline. It orders the streaming stores before whatever follows (the engine then
        // publishes the array to its readers).
        unsafe { _mm_sfence() };
        dst[head + body..].copy_from_slice(&src[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_any_number_of_sources_across_blocks() {
        let n = BLOCK * 2 + 5;
        for k in 0..11 {
            let sources: Vec<Vec<f64>> = (0..k)
                .map(|s| (0..n).map(|i| (i * (s + 1)) as f64).collect())
                .collect();
            let refs: Vec<&[f64]> = sources.iter().map(Vec::as_slice).collect();
            let mut out = vec![-1.0; n];
            sum_n(&refs, &mut out);
            let weight: usize = (1..=k).sum();
            for (i, o) in out.iter().enumerate() {
                assert_eq!(*o, (i * weight) as f64, "k = {k}, i = {i}");
            }
        }
    }

    #[test]
    fn streaming_copies_handle_unaligned_heads_and_tails() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        for offset in 0..17 {
            let mut dst = vec![0u8; 5000 + 17];
            let n = 5000 - offset;
            copy_streaming(&src[..n], &mut dst[offset..offset + n]);
            assert_eq!(&dst[offset..offset + n], &src[..n], "offset {offset}");
            assert!(dst[..offset].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn integer_sums_wrap_and_f16_sums_round_once() {
        let (a, b) = ([250u8, 1], [10u8, 2]);
        let mut out = [0u8; 2];
        sum_n(&[&a, &b], &mut out);
        assert_eq!(out, [4, 3]);
        let x: Vec<f16> = [0.5f32, 1.0, 2048.0]
            .iter()
            .map(|&v| f16::from_f32(v))
            .collect();
        let mut out = vec![f16::ZERO; 3];
        sum_n_f16(&[&x, &x, &x], &mut out);
        let got: Vec<f32> = out.iter().map(|v| v.to_f32()).collect();
        assert_eq!(got, vec![1.5, 3.0, 6144.0]);
    }
}
