use super::*;

/// The obvious implementation: index every output element through its multi-index.
fn naive(op: BinaryOp, a: &[f64], sa: &[usize], b: &[f64], sb: &[usize]) -> (Vec<usize>, Vec<f64>) {
    let out_shape = broadcast_shape(sa, sb).unwrap();
    let n = out_shape.len();
    let size: usize = out_shape.iter().product();
    let offset = |shape: &[usize], idx: &[usize]| {
        let pad = n - shape.len();
        let mut off = 0;
        for (k, &d) in shape.iter().enumerate() {
            let i = if d == 1 { 0 } else { idx[k + pad] };
            off = off * d + i;
        }
        off
    };
    let mut out = Vec::with_capacity(size);
    for flat in 0..size {
        let mut idx = vec![0; n];
        let mut rest = flat;
        for k in (0..n).rev() {
            idx[k] = rest % out_shape[k];
            rest /= out_shape[k];
        }
        out.push(op.apply(a[offset(sa, &idx)], b[offset(sb, &idx)]));
    }
    (out_shape, out)
}

fn values(shape: &[usize], seed: f64) -> Vec<f64> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| (i as f64 * 0.37 + seed).sin() * 3.0 + 0.1)
        .collect()
}

const SHAPES: &[(&[usize], &[usize])] = &[
    (&[2, 3, 4], &[1, 3, 1]),
    (&[2, 1, 3], &[1, 4, 1]),
    (&[2, 3], &[3]),
    (&[3], &[2, 3]),
    (&[5], &[5]),
    (&[1000], &[1000]),
    (&[4, 1], &[1]),
    (&[1], &[1]),
    (&[1, 1], &[1, 1, 1]),
    (&[2, 1, 4, 1], &[3, 1, 5]),
    (&[3, 1], &[1, 4]),
    (&[2, 3, 4], &[2, 3, 4]),
    (&[6, 1, 1, 2], &[6, 5, 7, 2]),
];

#[test]
fn shapes_follow_numpy() {
    assert_eq!(broadcast_shape(&[2, 1, 3], &[1, 4, 1]).unwrap(), [2, 4, 3]);
    assert_eq!(broadcast_shape(&[2, 3], &[3]).unwrap(), [2, 3]);
    assert_eq!(broadcast_shape(&[], &[3]).unwrap(), [3]);
    let err = broadcast_shape(&[2, 3], &[4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shapes [2, 3] and [4] cannot be broadcast together (right-aligned dimension 1: 3 vs 4)"
    );
    assert!(Plan::new(&[1000], &[1000]).unwrap().is_elementwise());
    assert!(!Plan::new(&[3, 1], &[1, 4]).unwrap().is_elementwise());
}

#[test]
fn binary_matches_the_naive_loop() {
    for &(sa, sb) in SHAPES {
        let a = values(sa, 0.3);
        let b = values(sb, 1.7);
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Max,
            BinaryOp::Min,
        ] {
            let (shape, want) = naive(op, &a, sa, &b, sb);
            let mut out = vec![f64::NAN; want.len()];
            broadcast_binary(op, &a, sa, &b, sb, &mut out).unwrap();
            assert_eq!(Plan::new(sa, sb).unwrap().out_shape(), &shape[..]);
            assert_eq!(out, want, "{op:?} {sa:?} {sb:?}");
        }
    }
}

#[test]
fn hand_checked_broadcasts() {
    // (2, 3) + (3,)
    let mut out = [0.0f32; 6];
    broadcast_binary(
        BinaryOp::Add,
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &[2, 3],
        &[10.0, 20.0, 30.0],
        &[3],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    // (3, 1) - (1, 2)
    broadcast_binary(
        BinaryOp::Sub,
        &[1.0, 2.0, 3.0],
        &[3, 1],
        &[10.0, 20.0],
        &[1, 2],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [-9.0, -19.0, -8.0, -18.0, -7.0, -17.0]);
    // int division broadcasts too
    let mut o = [0i32; 4];
    broadcast_binary(
        BinaryOp::Div,
        &[7, -7, 9, 0],
        &[2, 2],
        &[2, 0],
        &[2],
        &mut o,
    )
    .unwrap();
    assert_eq!(o, [3, 0, 4, 0]);
}

#[test]
fn errors_instead_of_panics() {
    let mut out = [0.0f32; 6];
    let err = broadcast_binary(BinaryOp::Add, &[1.0; 6], &[2, 3], &[1.0; 4], &[4], &mut out);
    assert!(matches!(
        err,
        Err(BroadcastError::Incompatible {
            axis: 1,
            l: 3,
            r: 4,
            ..
        })
    ));
    let err = broadcast_binary(BinaryOp::Add, &[1.0; 5], &[2, 3], &[1.0; 3], &[3], &mut out);
    assert!(matches!(
        err,
        Err(BroadcastError::Length {
            what: "lhs",
            got: 5,
            want: 6,
            ..
        })
    ));
    let err = broadcast_binary(
        BinaryOp::Add,
        &[1.0; 6],
        &[2, 3],
        &[1.0; 3],
        &[3],
        &mut out[..4],
    );
    assert!(matches!(
        err,
        Err(BroadcastError::Length { what: "out", .. })
    ));
    let err = reduce_to(&[1.0f32; 3], &[3], &mut [0.0; 6], &[2, 3]);
    assert!(matches!(err, Err(BroadcastError::NotReducible { .. })));
}

#[test]
fn reduce_to_sums_over_broadcast_axes() {
    // g (2, 3, 4) = 0..24 reduced to (1, 3, 1): sums over axes 0 and 2.
    let g: Vec<f64> = (0..24).map(f64::from).collect();
    let mut out = [0.0; 3];
    reduce_to(&g, &[2, 3, 4], &mut out, &[1, 3, 1]).unwrap();
    // channel c: Σ_{n,w} (12n + 4c + w) = 2·(4·4c + 6) + 4·12 = 32c + 60
    assert_eq!(out, [60.0, 92.0, 124.0]);
    let mut out = [0.0; 4];
    reduce_to(&g, &[2, 3, 4], &mut out, &[4]).unwrap();
    assert_eq!(out, [60.0, 66.0, 72.0, 78.0]);
    let mut out = [0.0; 1];
    reduce_to(&g, &[2, 3, 4], &mut out, &[1]).unwrap();
    assert_eq!(out, [276.0]);
    let mut out = [0.0; 24];
    reduce_to(&g, &[2, 3, 4], &mut out, &[2, 3, 4]).unwrap();
    assert_eq!(out.to_vec(), g);
    // Long rows go through the 8-lane sum.
    let g: Vec<f32> = (0..1003).map(|i| (i % 7) as f32).collect();
    let mut out = [0.0f32; 1];
    reduce_to(&g, &[1003], &mut out, &[1]).unwrap();
    assert_eq!(out[0], g.iter().sum::<f32>());
}

#[test]
fn backward_matches_finite_differences() {
    for &(sa, sb) in SHAPES {
        if sa.iter().product::<usize>() > 100 {
            continue;
        }
        let a = values(sa, 0.3);
        let b: Vec<f64> = values(sb, 1.7).iter().map(|v| v + 4.0).collect(); // away from 0
        let out_shape = broadcast_shape(sa, sb).unwrap();
        let g = values(&out_shape, 2.9);
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
            let mut da = vec![f64::NAN; a.len()];
            let mut db = vec![f64::NAN; b.len()];
            broadcast_backward(op, &g, &a, sa, &b, sb, &mut da, &mut db).unwrap();
            let objective = |a: &[f64], b: &[f64]| -> f64 {
                let (_, y) = naive(op, a, sa, b, sb);
                y.iter().zip(&g).map(|(y, g)| y * g).sum()
            };
            let h = 1e-6;
            for (which, base, grad) in [(0, &a, &da), (1, &b, &db)] {
                for i in 0..base.len() {
                    let mut plus = base.clone();
                    plus[i] += h;
                    let mut minus = base.clone();
                    minus[i] -= h;
                    let numeric = if which == 0 {
                        (objective(&plus, &b) - objective(&minus, &b)) / (2.0 * h)
                    } else {
                        (objective(&a, &plus) - objective(&a, &minus)) / (2.0 * h)
                    };
                    assert!(
                        (numeric - grad[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                        "{op:?} {sa:?} {sb:?} operand {which}[{i}]: {} vs {numeric}",
                        grad[i]
                    );
                }
            }
        }
    }
}

#[test]
fn backward_hand_checked() {
    // MXNet's example: mul grad of b (1, 3) sums over rows.
    let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let b = [10.0f32, 20.0, 30.0];
    let g = [1.0f32; 6];
    let grads = |op| {
        let (mut da, mut db) = ([0.0f32; 6], [0.0f32; 3]);
        broadcast_backward(op, &g, &a, &[2, 3], &b, &[1, 3], &mut da, &mut db).unwrap();
        (da, db)
    };
    assert_eq!(
        grads(BinaryOp::Mul),
        ([10.0, 20.0, 30.0, 10.0, 20.0, 30.0], [5.0, 7.0, 9.0])
    );
    assert_eq!(grads(BinaryOp::Sub), ([1.0; 6], [-2.0; 3]));
}
