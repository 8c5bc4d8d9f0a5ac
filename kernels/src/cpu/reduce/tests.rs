use super::*;

/// Reference: reduce by iterating every full index and mapping it to the kept index.
fn naive(src: &[f64], shape: &[usize], reduced: &[bool], reducer: Reducer) -> Vec<f64> {
    let small = kept_shape(shape, reduced);
    let size: usize = small.iter().product();
    let mut acc: Vec<Vec<f64>> = vec![Vec::new(); size];
    let mut idx = vec![0usize; shape.len()];
    for &v in src {
        let mut o = 0;
        for (k, &i) in idx.iter().enumerate() {
            o = o * small[k] + if reduced[k] { 0 } else { i };
        }
        acc[o].push(v);
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    acc.iter()
        .map(|vs| match reducer {
            Reducer::Sum => vs.iter().sum(),
            Reducer::Mean => vs.iter().sum::<f64>() / vs.len() as f64,
            Reducer::Max => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Reducer::Min => vs.iter().copied().fold(f64::INFINITY, f64::min),
        })
        .collect()
}

fn masks(n: usize) -> Vec<Vec<bool>> {
    (0..1u32 << n)
        .map(|m| (0..n).map(|k| m & (1 << k) != 0).collect())
        .collect()
}

#[test]
fn by_hand() {
    // (2, 3): [[1, 2, 3], [4, 5, 6]]
    let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut two = [0.0f32; 2];
    let mut three = [0.0f32; 3];
    let mut one = [0.0f32; 1];
    reduce(&x, &[2, 3], &[false, true], Reducer::Mean, &mut two).unwrap();
    assert_eq!(two, [2.0, 5.0]);
    reduce(&x, &[2, 3], &[true, false], Reducer::Sum, &mut three).unwrap();
    assert_eq!(three, [5.0, 7.0, 9.0]);
    reduce(&x, &[2, 3], &[true, false], Reducer::Max, &mut three).unwrap();
    assert_eq!(three, [4.0, 5.0, 6.0]);
    reduce(&x, &[2, 3], &[false, true], Reducer::Min, &mut two).unwrap();
    assert_eq!(two, [1.0, 4.0]);
    reduce(&x, &[2, 3], &[true, true], Reducer::Sum, &mut one).unwrap();
    assert_eq!(one, [21.0]);
    // Nothing reduced: a copy.
    let mut all = [0.0f32; 6];
    reduce(&x, &[2, 3], &[false, false], Reducer::Max, &mut all).unwrap();
    assert_eq!(all, x);
}

#[test]
fn every_mask_matches_naive() {
    for shape in [vec![3, 1, 4, 5], vec![2, 7, 3, 1], vec![5, 4, 9, 2]] {
        let size: usize = shape.iter().product();
        let x: Vec<f64> = (0..size).map(|i| ((i * 37 % 101) as f64) - 50.0).collect();
        for mask in masks(shape.len()) {
            for reducer in [Reducer::Sum, Reducer::Mean, Reducer::Max, Reducer::Min] {
                let want = naive(&x, &shape, &mask, reducer);
                let mut got = vec![f64::NAN; want.len()];
                reduce(&x, &shape, &mask, reducer, &mut got).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                        "{shape:?} {mask:?} {reducer:?}: {got:?} vs {want:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn long_sums_are_accurate_in_f32() {
    let x = vec![0.1f32; 100_000];
    let mut y = [0.0f32];
    reduce(&x, &[100_000], &[true], Reducer::Sum, &mut y).unwrap();
    assert!((y[0] - 10_000.0).abs() < 0.01, "{}", y[0]);
    // Summed over an outer axis: the kept runs are compensated too.
    let x = vec![0.1f32; 200_000];
    let mut y = [0.0f32; 2];
    reduce(&x, &[100_000, 2], &[true, false], Reducer::Sum, &mut y).unwrap();
    assert!(y.iter().all(|v| (v - 10_000.0).abs() < 0.01), "{y:?}");
}

#[test]
fn nan_propagates_through_max_and_min() {
    let x = [3.0f64, f64::NAN, 1.0, 5.0];
    let mut y = [0.0f64; 2];
    reduce(&x, &[2, 2], &[true, false], Reducer::Max, &mut y).unwrap();
    assert!(y[0] == 3.0 && y[1].is_nan(), "{y:?}");
    reduce(&x, &[2, 2], &[false, true], Reducer::Min, &mut y).unwrap();
    assert!(y[0].is_nan() && y[1] == 1.0, "{y:?}");
}

#[test]
fn broadcast_inverts_the_kept_layout() {
    // (2, 1, 3) -> (2, 4, 3)
    let small = [1u16, 2, 3, 4, 5, 6];
    let mut full = [0u16; 24];
    broadcast(&small, &[2, 4, 3], &[false, true, false], &mut full).unwrap();
    assert_eq!(&full[..6], &[1, 2, 3, 1, 2, 3]);
    assert_eq!(&full[12..18], &[4, 5, 6, 4, 5, 6]);
    // (3, 1) -> (3, 2), innermost axis broadcast.
    let mut col = [0.0f32; 6];
    broadcast(&[1.0f32, 2.0, 3.0], &[3, 2], &[false, true], &mut col).unwrap();
    assert_eq!(col, [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    // Bytes: 8-byte elements.
    let src: Vec<u8> = bytemuck::cast_slice(&[7.5f64, -1.0]).to_vec();
    let mut words = [0u64; 4];
    broadcast_bytes(
        &src,
        8,
        &[2, 2],
        &[false, true],
        bytemuck::cast_slice_mut(&mut words),
    )
    .unwrap();
    let vals: &[f64] = bytemuck::cast_slice(&words);
    assert_eq!(vals, &[7.5, 7.5, -1.0, -1.0]);
}

#[test]
fn extreme_grad_reaches_every_tie() {
    // max over axis 1 of [[1, 3, 3], [2, 2, 0]] = [3, 2]; head [1, 10] -> [[0,1,1],[10,10,0]].
    let x = [1.0f32, 3.0, 3.0, 2.0, 2.0, 0.0];
    let y = [3.0f32, 2.0];
    let g = [1.0f32, 10.0];
    let mut dx = [f32::NAN; 6];
    extreme_grad(&x, &[2, 3], &[false, true], &y, &g, &mut dx).unwrap();
    assert_eq!(dx, [0.0, 1.0, 1.0, 10.0, 10.0, 0.0]);
    // Over axis 0: max = [2, 3, 3].
    let y0 = [2.0f32, 3.0, 3.0];
    let g0 = [1.0f32, 2.0, 3.0];
    extreme_grad(&x, &[2, 3], &[true, false], &y0, &g0, &mut dx).unwrap();
    assert_eq!(dx, [0.0, 2.0, 3.0, 1.0, 0.0, 0.0]);
}

#[test]
fn arg_extreme_takes_the_first() {
    // [[1, 5, 5], [7, 2, 7]]
    let x = [1.0f32, 5.0, 5.0, 7.0, 2.0, 7.0];
    let mut two = [9.0f32; 2];
    arg_extreme(&x, &[2, 3], 1, true, &mut two).unwrap();
    assert_eq!(two, [1.0, 0.0]);
    arg_extreme(&x, &[2, 3], 1, false, &mut two).unwrap();
    assert_eq!(two, [0.0, 1.0]);
    let mut three = [9.0f32; 3];
    arg_extreme(&x, &[2, 3], 0, true, &mut three).unwrap();
    assert_eq!(three, [1.0, 0.0, 1.0]);
    let mut one = [9.0f32; 1];
    arg_extreme(&x, &[6], 0, true, &mut one).unwrap();
    assert_eq!(one, [3.0]);
    let nan = [1.0f64, f64::NAN, 2.0, f64::NAN];
    let mut i = [0.0f64];
    arg_extreme(&nan, &[4], 0, true, &mut i).unwrap();
    assert_eq!(i, [1.0]);
    assert!(arg_extreme(&x, &[2, 3], 2, true, &mut two).is_err());
}

#[test]
fn bad_lengths_are_errors() {
    let x = [0.0f32; 6];
    let mut y = [0.0f32; 3];
    assert!(matches!(
        reduce(&x, &[2, 3], &[false, true], Reducer::Sum, &mut y),
        Err(LayoutError::Length { what: "dst", .. })
    ));
    assert!(matches!(
        reduce(&x, &[2, 3], &[true], Reducer::Sum, &mut y),
        Err(LayoutError::Mismatch(_))
    ));
    let mut full = [0.0f32; 5];
    assert!(broadcast(&y, &[2, 3], &[true, false], &mut full).is_err());
}

#[test]
fn empty_arrays() {
    let mut y = [f32::NAN; 2];
    reduce::<f32>(&[], &[2, 0], &[false, true], Reducer::Sum, &mut y).unwrap();
    assert_eq!(y, [0.0, 0.0]);
    reduce::<f32>(&[], &[2, 0], &[false, true], Reducer::Max, &mut y).unwrap();
    assert_eq!(y, [f32::NEG_INFINITY; 2]);
    let mut s = [0.0f32];
    reduce(&[4.0f32], &[], &[], Reducer::Mean, &mut s).unwrap();
    assert_eq!(s, [4.0]);
}
