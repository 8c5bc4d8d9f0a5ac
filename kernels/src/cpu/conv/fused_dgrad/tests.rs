//! The fused data gradient against a naive f64 reference and the im2col path, over strides,
//! padding, dilation, groups, 1-D/2-D/3-D, odd sizes, several column tiles and row blocks,
//! and thread counts (bit-identical); on machines without AVX-512 only the refusals are checked.
use super::*;
use crate::cpu::conv::conv_backward_im2col;
use crate::cpu::conv::tests::{to_f32, values, values_f32};
use crate::cpu::test_util::conv_geom;

/// `dx` in f64 by the definition: every (output, tap) pair that reads an input element adds
/// `w · dy` to its gradient.
fn reference(geom: &ConvGeom, dy: &[f64], w: &[f64]) -> Vec<f64> {
    let out = geom.output().unwrap();
    let (cg, fg) = (geom.channels / geom.groups, geom.filters / geom.groups);
    let taps: usize = geom.kernel.iter().product();
    let spatial: usize = geom.input.iter().product();
    let p: usize = out.iter().product();
    let mut dx = vec![0.0; geom.data_len()];
    for n in 0..geom.batch {
        for f in 0..geom.filters {
            let g = f / fg;
            for ci in 0..cg {
                let c = g * cg + ci;
                for t in 0..taps {
                    let k = [
                        t / (geom.kernel[1] * geom.kernel[2]),
                        t / geom.kernel[2] % geom.kernel[1],
                        t % geom.kernel[2],
                    ];
                    let wv = w[(f * cg + ci) * taps + t];
                    for o in 0..p {
                        let o3 = [o / (out[1] * out[2]), o / out[2] % out[1], o % out[2]];
                        let mut pos = 0usize;
                        let mut inside = true;
                        for d in 0..3 {
                            let i = (o3[d] * geom.stride[d] + k[d] * geom.dilate[d]) as isize
                                - geom.pad[d] as isize;
                            inside &= i >= 0 && (i as usize) < geom.input[d];
                            pos = pos * geom.input[d] + i.max(0) as usize;
                        }
                        if inside {
                            dx[(n * geom.channels + c) * spatial + pos] +=
                                wv * dy[(n * geom.filters + f) * p + o];
                        }
                    }
                }
            }
        }
    }
    dx
}

fn geometries() -> Vec<ConvGeom> {
    let g2 = ConvGeom::new_2d;
    vec![
        // LeNet's second layer (a smaller batch).
        g2(3, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]),
        // Odd sizes, strides, padding, dilation; k = 3·6 rows.
        g2(2, 3, 7, 1, [9, 11], [3, 2], [2, 1], [1, 0], [1, 2]),
        // Stride 3 along the width (the scalar fold), 5 rows (one partial block).
        g2(2, 1, 4, 1, [7, 13], [1, 5], [1, 3], [0, 2], [1, 1]),
        // Groups, stride 2, padding.
        g2(2, 4, 6, 2, [10, 10], [3, 3], [2, 2], [1, 1], [1, 1]),
        // 380 output pixels: six column tiles, the last masked (60 columns).
        g2(1, 5, 9, 1, [20, 19], [3, 3], [1, 1], [1, 1], [1, 1]),
        // Padding larger than the kernel's reach on one side: rows of zero width.
        g2(1, 2, 3, 1, [4, 5], [3, 3], [1, 1], [2, 2], [1, 1]),
        // Kernel widths 4, 6 and 7 (the unrolled gathers), 35 columns (three 16-column chunks).
        g2(2, 3, 5, 1, [6, 35], [2, 4], [1, 1], [1, 2], [1, 1]),
        g2(1, 2, 3, 1, [5, 17], [3, 6], [1, 1], [0, 1], [2, 1]),
        g2(1, 2, 4, 1, [4, 21], [2, 7], [1, 1], [1, 3], [1, 1]),
        // Kernel width 9: the generic gather.
        conv_geom(
            1,
            2,
            3,
            1,
            [[1, 1, 40], [1, 1, 9], [1, 1, 1], [0, 0, 4], [1, 1, 1]],
        ),
        // 1-D.
        conv_geom(
            2,
            3,
            5,
            1,
            [[1, 1, 30], [1, 1, 5], [1, 1, 2], [0, 0, 1], [1, 1, 1]],
        ),
        // 3-D with groups.
        conv_geom(
            2,
            4,
            4,
            2,
            [[4, 5, 6], [2, 2, 3], [1, 2, 1], [1, 0, 1], [1, 1, 2]],
        ),
    ]
}

fn avx512() -> bool {
    Isa::Avx512.is_available()
}

#[test]
fn matches_the_reference_and_the_im2col_path() {
    if !avx512() {
        return;
    }
    for (i, geom) in geometries().into_iter().enumerate() {
        let s = geom.sizes().unwrap();
        let dy64 = values(geom.output_len(), 3 * i as u64 + 1);
        let w64 = values(geom.weight_len(), 3 * i as u64 + 2);
        let want = reference(&geom, &dy64, &w64);
        let dy: Vec<f32> = to_f32(&dy64);
        let w: Vec<f32> = to_f32(&w64);
        let mut dx = vec![f32::NAN; geom.data_len()];
        assert!(
            data_gradient_with(Isa::Avx512, &geom, &dy, &w, &mut dx, 1).unwrap(),
            "{geom:?} served"
        );
        // Each dx element sums at most `F/G · taps` products of values in [-1, 1).
        let tol = 1e-5 * (s.fg * s.taps) as f64;
        for (j, (&got, &want)) in dx.iter().zip(&want).enumerate() {
            assert!(
                (got as f64 - want).abs() <= tol,
                "{geom:?}: dx[{j}] = {got}, reference {want}"
            );
        }
        let x = vec![0.0f32; geom.data_len()];
        let mut dx_im2col = vec![0.0f32; geom.data_len()];
        let mut dw = vec![0.0f32; geom.weight_len()];
        conv_backward_im2col(&geom, &dy, &x, &w, Some(&mut dx_im2col), &mut dw, None, 1).unwrap();
        for (j, (&a, &b)) in dx.iter().zip(&dx_im2col).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (s.fg * s.taps) as f32,
                "{geom:?}: dx[{j}] = {a}, im2col {b}"
            );
        }
        for threads in [2, 3, 8] {
            let mut again = vec![f32::NAN; geom.data_len()];
            data_gradient_with(Isa::Avx512, &geom, &dy, &w, &mut again, threads).unwrap();
            assert_eq!(again, dx, "{geom:?}: {threads} threads");
        }
    }
}

#[test]
fn a_batch_large_enough_to_split_is_bit_identical_across_thread_counts() {
    if !avx512() {
        return;
    }
    let geom = ConvGeom::new_2d(9, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let dy: Vec<f32> = values_f32(geom.output_len(), 7);
    let w: Vec<f32> = values_f32(geom.weight_len(), 8);
    let run = |threads| {
        let mut dx = vec![f32::NAN; geom.data_len()];
        assert!(data_gradient_with(Isa::Avx512, &geom, &dy, &w, &mut dx, threads).unwrap());
        dx
    };
    let one = run(1);
    for threads in [2, 4, 9, 16] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
}

#[test]
fn refusals_and_errors() {
    let lenet = ConvGeom::new_2d(2, 20, 50, 1, [12, 12], [5, 5], [1, 1], [0, 0], [1, 1]);
    let one_by_one = ConvGeom::new_2d(2, 8, 8, 1, [6, 6], [1, 1], [1, 1], [0, 0], [1, 1]);
    let large = ConvGeom::new_2d(1, 2, 2, 1, [40, 40], [3, 3], [1, 1], [1, 1], [1, 1]);
    let bad = ConvGeom::new_2d(1, 3, 2, 2, [6, 6], [3, 3], [1, 1], [0, 0], [1, 1]);
    for isa in [Isa::Scalar, Isa::Avx2] {
        assert!(!serves(isa, &lenet));
        let mut dx = vec![1.0f32; lenet.data_len()];
        let dy = vec![0.0f32; lenet.output_len()];
        let w = vec![0.0f32; lenet.weight_len()];
        assert!(!data_gradient_with(isa, &lenet, &dy, &w, &mut dx, 1).unwrap());
        assert!(dx.iter().all(|&v| v == 1.0), "untouched when not served");
    }
    assert!(!serves(Isa::Avx512, &one_by_one));
    assert!(!serves(Isa::Avx512, &large), "1600 pixels > MAX_PIXELS");
    assert!(!serves(Isa::Avx512, &bad), "3 channels in 2 groups");
    if !avx512() {
        return;
    }
    assert!(serves(Isa::Avx512, &lenet));
    let mut dx = vec![1.0f32; lenet.data_len()];
    let w = vec![0.0f32; lenet.weight_len()];
    let short = vec![0.0f32; lenet.output_len() - 1];
    let err = data_gradient_with(Isa::Avx512, &lenet, &short, &w, &mut dx, 1).unwrap_err();
    assert!(err.to_string().contains("output gradient"), "{err}");
    let dy = vec![0.0f32; lenet.output_len()];
    let err = data_gradient_with(Isa::Avx512, &lenet, &dy, &w[1..], &mut dx, 1).unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
    let err = data_gradient_with(Isa::Avx512, &lenet, &dy, &w, &mut dx[1..], 1).unwrap_err();
    assert!(err.to_string().contains("data gradient"), "{err}");
    assert!(dx.iter().all(|&v| v == 1.0), "untouched on error");
}
