use super::*;

/// The obvious transpose: walk the output in order, compute each source index.
fn naive<T: Copy + Default>(src: &[T], shape: &[usize], axes: &[usize]) -> Vec<T> {
    let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let in_strides = strides(shape);
    let size: usize = shape.iter().product();
    let mut out = vec![T::default(); size];
    let mut idx = vec![0usize; shape.len()];
    for o in out.iter_mut() {
        let s: usize = idx.iter().zip(axes).map(|(&i, &a)| i * in_strides[a]).sum();
        *o = src[s];
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < out_shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn matrix() {
    let src: Vec<i32> = (0..6).collect();
    let mut dst = vec![0; 6];
    transpose(&src, &[2, 3], &[1, 0], &mut dst).unwrap();
    assert_eq!(dst, [0, 3, 1, 4, 2, 5]);
    transpose(&src, &[2, 3], &[0, 1], &mut dst).unwrap();
    assert_eq!(dst, src);
}

#[test]
fn three_d_by_hand() {
    // (2, 3, 4) with axes (2, 0, 1) -> (4, 2, 3); out[k][i][j] = in[i][j][k] = 12i + 4j + k.
    let src: Vec<u32> = (0..24).collect();
    let mut dst = vec![0; 24];
    transpose(&src, &[2, 3, 4], &[2, 0, 1], &mut dst).unwrap();
    assert_eq!(&dst[..6], &[0, 4, 8, 12, 16, 20]);
    assert_eq!(&dst[18..], &[3, 7, 11, 15, 19, 23]);
}

#[test]
fn every_permutation_matches_naive() {
    for shape in [
        vec![3, 5, 7, 2],
        vec![1, 4, 1, 3],
        vec![17, 33, 2, 1],
        vec![2, 19, 18, 5],
        vec![3, 64, 70], // full 32×32 tiles and partial ones, in a batch
    ] {
        let size: usize = shape.iter().product();
        let src: Vec<u64> = (0..size as u64).map(|v| v * 7 + 1).collect();
        for axes in permutations(shape.len()) {
            let mut dst = vec![0; size];
            transpose(&src, &shape, &axes, &mut dst).unwrap();
            assert_eq!(dst, naive(&src, &shape, &axes), "{shape:?} {axes:?}");
        }
    }
}

#[test]
fn large_matrix_crosses_tiles() {
    let (r, c) = (67, 45);
    let src: Vec<f32> = (0..r * c).map(|v| v as f32).collect();
    let mut dst = vec![0.0; r * c];
    transpose(&src, &[r, c], &[1, 0], &mut dst).unwrap();
    assert_eq!(dst, naive(&src, &[r, c], &[1, 0]));
    let mut back = vec![0.0; r * c];
    transpose(&dst, &[c, r], &[1, 0], &mut back).unwrap();
    assert_eq!(back, src);
}

#[test]
fn bytes_of_every_width() {
    let shape = [3, 4, 5];
    let axes = [1, 2, 0];
    let n: usize = shape.iter().product();
    let order = naive(&(0..n).collect::<Vec<usize>>(), &shape, &axes);
    for width in [1usize, 2, 4, 8] {
        // Element i is the bytes (3i, 3i+1, ..) (mod 256); u64 buffers keep them aligned.
        let mut src = vec![0u64; n];
        let src_bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut src)[..n * width];
        for (i, chunk) in src_bytes.chunks_exact_mut(width).enumerate() {
            for (k, b) in chunk.iter_mut().enumerate() {
                *b = (i * 3 + k) as u8;
            }
        }
        let mut dst = vec![0u64; n];
        let dst_bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut dst)[..n * width];
        let src_bytes = &bytemuck::cast_slice::<u64, u8>(&src)[..n * width];
        transpose_bytes(src_bytes, width, &shape, &axes, dst_bytes).unwrap();
        for (j, chunk) in dst_bytes.chunks_exact(width).enumerate() {
            for (k, &b) in chunk.iter().enumerate() {
                assert_eq!(b, (order[j] * 3 + k) as u8, "width {width}");
            }
        }
    }
    let mut out = [0u8; 6];
    assert_eq!(
        transpose_bytes(&[0u8; 6], 3, &[2], &[0], &mut out),
        Err(LayoutError::Width(3))
    );
}

#[test]
fn bad_arguments_are_errors() {
    let src = [0.0f32; 6];
    let mut dst = [0.0f32; 6];
    assert!(matches!(
        transpose(&src, &[2, 3], &[0, 0], &mut dst),
        Err(LayoutError::NotAPermutation { .. })
    ));
    assert!(matches!(
        transpose(&src, &[2, 3], &[1, 2], &mut dst),
        Err(LayoutError::NotAPermutation { .. })
    ));
    assert!(matches!(
        transpose(&src, &[2, 3], &[1], &mut dst),
        Err(LayoutError::NotAPermutation { .. })
    ));
    assert!(matches!(
        transpose(&src, &[2, 4], &[1, 0], &mut dst),
        Err(LayoutError::Length { what: "src", .. })
    ));
    let mut short = [0.0f32; 5];
    assert!(matches!(
        transpose(&src, &[2, 3], &[1, 0], &mut short),
        Err(LayoutError::Length { what: "dst", .. })
    ));
    assert_eq!(inverse_permutation(&[2, 0, 1]).unwrap(), vec![1, 2, 0]);
    assert!(inverse_permutation(&[1, 1]).is_err());
}

#[test]
fn zero_size_and_scalars() {
    let mut dst: [f32; 0] = [];
    transpose::<f32>(&[], &[0, 3], &[1, 0], &mut dst).unwrap();
    let mut one = [0.0f32];
    transpose(&[5.0f32], &[], &[], &mut one).unwrap();
    assert_eq!(one, [5.0]);
}
