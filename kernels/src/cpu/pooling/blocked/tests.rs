//! Blocked pooling against `pool_forward` on NCHW data, bit for bit: max, avg (both divisors)
//! and sum; strides 1, 2 and 3; padding, empty windows, `valid` and `full` sizes, global
//! pooling; channel counts that are not multiples of 16, batch 1 and several; input and output
//! halos (the input's halo filled with a large value, never read); 1 and several threads;
//! every instruction set; errors.

use super::super::{pool_forward, pool_output_size};
use super::*;
use crate::cpu::conv::blocked::{from_blocked, to_blocked};
use crate::cpu::conv::blocked_ops::test_util::{assert_zero_outside_data, values};

/// One case: batch, channels, the pooling of their `n·c` planes, halos in and out.
#[derive(Debug, Clone, Copy)]
struct Case {
    n: usize,
    c: usize,
    geom: PoolGeom,
    in_halo: usize,
    out_halo: usize,
}

const KINDS: [PoolType; 4] = [
    PoolType::Max,
    PoolType::Avg {
        count_include_pad: true,
    },
    PoolType::Avg {
        count_include_pad: false,
    },
    PoolType::Sum,
];

/// Runs `case` with `kind`, `isa` and `threads`; checks it against `pool_forward` bit for bit,
/// with zero padding channels and halo columns; returns the blocked output.
fn check(case: &Case, kind: PoolType, isa: Isa, threads: usize) -> Vec<f32> {
    let g = case.geom;
    let pool = BlockedPool::new(&g, kind).unwrap().expect("2-D");
    let x = values(g.input_len(), 1);
    let in_layout = pool.input_layout(case.n, case.c, case.in_halo);
    let mut input = vec![0.0; in_layout.len()];
    to_blocked(&x, &in_layout, &mut input);
    // A halo that would win every max and spoil every sum, were it read.
    for row in input.chunks_exact_mut(in_layout.pitch()) {
        let halo = case.in_halo * BLOCK;
        let len = row.len();
        row[..halo].fill(1e30);
        row[len - halo..].fill(1e30);
    }
    let out_layout = pool.output_layout(case.n, case.c, case.out_halo);
    let mut out = vec![f32::NAN; out_layout.len()];
    pool.forward_with(isa, &input, &in_layout, &mut out, &out_layout, threads)
        .unwrap();
    let mut want = vec![0.0f32; g.output_len()];
    pool_forward(&g, kind, &x, &mut want).unwrap();
    let mut got = vec![0.0f32; g.output_len()];
    from_blocked(&out, &out_layout, &mut got);
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{case:?} {kind:?} {isa} threads {threads}: [{i}] = {a}, want {b}"
        );
    }
    assert_zero_outside_data(&out, &out_layout, &format!("{case:?} {kind:?} {isa}"));
    out
}

/// A case from `(n, c, [h, w], [kh, kw], [sh, sw], [ph, pw], full, in_halo, out_halo)`.
type Row = (
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    bool,
    usize,
    usize,
);

fn case((n, c, input, kernel, stride, pad, full, in_halo, out_halo): Row) -> Case {
    let out = |d: usize| pool_output_size(input[d], kernel[d], stride[d], pad[d], full).unwrap();
    let geom = PoolGeom::new_2d(n * c, input, [out(0), out(1)], kernel, stride, pad);
    Case {
        n,
        c,
        geom,
        in_halo,
        out_halo,
    }
}

fn cases() -> Vec<Case> {
    [
        // ResNet's stem pooling (smaller), with halos.
        (1, 64, [20, 22], [3, 3], [2, 2], [1, 1], false, 1, 1),
        // Global average pooling: 7×7 → 1×1, many blocks (several tiles), several images;
        // and of a 5×3 input.
        (3, 300, [7, 7], [7, 7], [1, 1], [0, 0], false, 2, 0),
        (1, 35, [5, 3], [5, 3], [1, 1], [0, 0], false, 0, 2),
        // Odd sizes, channels not multiples of 16, `full` sizes, strides 1 and 3, padding.
        (2, 5, [9, 31], [3, 3], [2, 2], [1, 1], true, 0, 0),
        (2, 20, [11, 10], [2, 2], [1, 1], [0, 0], false, 3, 0),
        (1, 17, [10, 13], [3, 2], [3, 2], [1, 0], true, 0, 1),
        // Empty windows (padding as large as the kernel): lowest for max, 0 otherwise.
        (1, 21, [4, 4], [2, 2], [2, 2], [2, 2], false, 0, 0),
        // 1-D (height 1), and a kernel larger than the input.
        (2, 8, [1, 40], [1, 3], [1, 2], [0, 1], false, 0, 0),
        (1, 16, [3, 3], [4, 4], [1, 1], [1, 1], false, 0, 0),
    ]
    .into_iter()
    .map(case)
    .collect()
}

#[test]
fn blocked_pooling_matches_pool_forward_on_every_isa() {
    for case in cases() {
        for kind in KINDS {
            for isa in Isa::available() {
                check(&case, kind, isa, 1);
            }
        }
    }
}

#[test]
fn blocked_pooling_results_do_not_depend_on_threads() {
    let big = case((2, 40, [56, 56], [3, 3], [2, 2], [1, 1], false, 1, 1));
    let global = case((8, 512, [7, 7], [7, 7], [1, 1], [0, 0], false, 0, 0));
    for case in [big, global] {
        for kind in [
            PoolType::Max,
            PoolType::Avg {
                count_include_pad: true,
            },
        ] {
            for isa in Isa::available() {
                let one = check(&case, kind, isa, 1);
                for threads in [2, 3, 8] {
                    assert_eq!(one, check(&case, kind, isa, threads));
                }
            }
        }
    }
}

#[test]
fn unserved_geometries_and_bad_buffers() {
    let three_d = PoolGeom {
        planes: 4,
        input: [2, 4, 4],
        output: [1, 2, 2],
        kernel: [2, 2, 2],
        stride: [2, 2, 2],
        pad: [0, 0, 0],
    };
    assert!(BlockedPool::new(&three_d, PoolType::Max).unwrap().is_none());
    let zero = PoolGeom::new_2d(4, [4, 4], [2, 2], [0, 2], [2, 2], [0, 0]);
    assert!(BlockedPool::new(&zero, PoolType::Sum).is_err());

    let g = PoolGeom::new_2d(2 * 20, [6, 6], [3, 3], [2, 2], [2, 2], [0, 0]);
    let pool = BlockedPool::new(&g, PoolType::Max).unwrap().unwrap();
    let il = pool.input_layout(2, 20, 1);
    let ol = pool.output_layout(2, 20, 0);
    let x = vec![0.0; il.len()];
    let mut y = vec![0.0; ol.len()];
    let err = |r: Result<(), PoolError>| r.unwrap_err().to_string();
    let e = err(pool.forward(&x, &pool.input_layout(1, 20, 1), &mut y, &ol, 1));
    assert!(e.contains("does not hold 40 planes"), "{e}");
    let e = err(pool.forward(&x, &Blocked { w: 7, ..il }, &mut y, &ol, 1));
    assert!(e.contains("input layout"), "{e}");
    let e = err(pool.forward(&x, &il, &mut y, &Blocked { h: 2, ..ol }, 1));
    assert!(e.contains("output layout"), "{e}");
    let e = err(pool.forward(&x[1..], &il, &mut y, &ol, 1));
    assert!(e.contains("input has"), "{e}");
    let e = err(pool.forward(&x, &il, &mut y[1..], &ol, 1));
    assert!(e.contains("output has"), "{e}");
}
