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
            assign_group(first, range.clone(), o);
        }
        for group in groups {
            add_group(group, range.clone(), o);
        }
    }
}

/// `o = Σ group[range]` for up to four sources.
#[inline(always)]
fn assign_group<T: Num>(group: &[&[T]], range: std::ops::Range<usize>, o: &mut [T]) {
    match group {
        [a] => o.copy_from_slice(&a[range]),
        [a, b] => {
            for ((o, &a), &b) in o.iter_mut().zip(&a[range.clone()]).zip(&b[range]) {
                *o = a.plus(b);
            }
        }
        [a, b, c] => {
            let (a, b, c) = (&a[range.clone()], &b[range.clone()], &c[range]);
            for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
                *o = a.plus(b).plus(c);
            }
        }
        [a, b, c, d] => {
            let (a, b) = (&a[range.clone()], &b[range.clone()]);
            let (c, d) = (&c[range.clone()], &d[range]);
            for ((((o, &a), &b), &c), &d) in o.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                *o = a.plus(b).plus(c.plus(d));
            }
        }
        _ => unreachable!("groups come from chunks(4) of a non-empty list"),
    }
}

/// `o += Σ group[range]` for up to four sources.
#[inline(always)]
fn add_group<T: Num>(group: &[&[T]], range: std::ops::Range<usize>, o: &mut [T]) {
    match group {
        [a] => {
            for (o, &a) in o.iter_mut().zip(&a[range]) {
                *o = o.plus(a);
            }
        }
        [a, b] => {
            for ((o, &a), &b) in o.iter_mut().zip(&a[range.clone()]).zip(&b[range]) {
                *o = o.plus(a.plus(b));
            }
        }
        [a, b, c] => {
            let (a, b, c) = (&a[range.clone()], &b[range.clone()], &c[range]);
            for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
                *o = o.plus(a.plus(b).plus(c));
            }
        }
        [a, b, c, d] => {
            let (a, b) = (&a[range.clone()], &b[range.clone()]);
            let (c, d) = (&c[range.clone()], &d[range]);
            for ((((o, &a), &b), &c), &d) in o.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                *o = o.plus(a.plus(b).plus(c.plus(d)));
            }
        }
        _ => unreachable!("groups come from chunks(4)"),
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
