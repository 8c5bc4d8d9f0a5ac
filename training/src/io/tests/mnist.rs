//! `MNISTIter` on small files written here, and on Fashion-MNIST when it is installed.

use std::path::{Path, PathBuf};

use super::{TempDir, gzip, idx_bytes};
use crate::Error;
use crate::io::{DataBatch, DataIter, LastBatchHandle, MNISTIter};

/// `n` images of 2x3 whose pixels are `10 * i + k` (k = 0..6), labels `i % 10`, as raw or
/// gzip files; returns (images, labels).
fn write_dataset(dir: &TempDir, n: u32, gz: bool) -> (PathBuf, PathBuf) {
    let px: Vec<u8> = (0..n)
        .flat_map(|i| (0..6).map(move |k| (10 * i + k) as u8))
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let (img, lab) = (idx_bytes(&[n, 2, 3], &px), idx_bytes(&[n], &labels));
    let suffix = if gz { ".gz" } else { "" };
    let (ip, lp) = (
        dir.path(&format!("img{suffix}")),
        dir.path(&format!("lab{suffix}")),
    );
    std::fs::write(&ip, if gz { gzip(&img) } else { img }).unwrap();
    std::fs::write(&lp, if gz { gzip(&lab) } else { lab }).unwrap();
    (ip, lp)
}

fn quiet(img: &Path, lab: &Path) -> crate::io::MNISTIterBuilder {
    MNISTIter::builder(img, lab).silent(true)
}

/// Every batch's example indices for one epoch, checking data and labels against them.
fn epoch(it: &mut MNISTIter) -> Vec<(Vec<usize>, usize)> {
    let out = it
        .batches()
        .map(|b| {
            let b = b.unwrap();
            let index = b.index.clone().unwrap();
            let labels = b.label[0].to_vec::<f32>().unwrap();
            let data = b.data[0].to_vec::<f32>().unwrap();
            for (row, &i) in index.iter().enumerate() {
                assert_eq!(labels[row], (i % 10) as f32);
                let want: Vec<f32> = (0..6).map(|k| (10 * i + k) as f32 / 256.0).collect();
                assert_eq!(data[row * 6..(row + 1) * 6], want[..]);
            }
            (index, b.pad)
        })
        .collect();
    it.reset().unwrap();
    out
}

#[test]
fn reads_raw_and_gzip_in_file_order() {
    let dir = TempDir::new("mnist-order");
    for gz in [false, true] {
        let (img, lab) = write_dataset(&dir, 10, gz);
        let mut it = quiet(&img, &lab)
            .batch_size(4)
            .shuffle(false)
            .build()
            .unwrap();
        assert_eq!(it.num_examples(), 10);
        let d = &it.provide_data()[0];
        assert_eq!(
            (d.name.as_str(), d.shape.as_slice()),
            ("data", &[4, 1, 2, 3][..])
        );
        let l = &it.provide_label()[0];
        assert_eq!(
            (l.name.as_str(), l.shape.as_slice()),
            ("softmax_label", &[4][..])
        );
        // MXNet drops the incomplete last batch; every epoch is the same.
        let want = vec![(vec![0, 1, 2, 3], 0), (vec![4, 5, 6, 7], 0)];
        assert_eq!(epoch(&mut it), want);
        assert_eq!(epoch(&mut it), want);
    }
}

#[test]
fn flat_images_and_last_batch_modes() {
    let dir = TempDir::new("mnist-flat");
    let (img, lab) = write_dataset(&dir, 10, false);
    let mut it = quiet(&img, &lab)
        .batch_size(4)
        .shuffle(false)
        .flat(true)
        .last_batch_handle(LastBatchHandle::Pad)
        .build()
        .unwrap();
    assert_eq!(it.provide_data()[0].shape, [4, 6]);
    let batches = epoch(&mut it);
    assert_eq!(batches[2], (vec![8, 9, 0, 1], 2));
    assert_eq!(it.next_batch().unwrap().unwrap().data[0].shape(), &[4, 6]);
}

#[test]
fn shuffle_is_mxnet_order_once_per_seed() {
    let dir = TempDir::new("mnist-shuffle");
    let (img, lab) = write_dataset(&dir, 20, true);
    let order = |seed: u32| {
        let mut it = quiet(&img, &lab).batch_size(5).seed(seed).build().unwrap();
        let (a, b) = (epoch(&mut it), epoch(&mut it));
        assert_eq!(a, b, "MNISTIter shuffles once, at load");
        a.into_iter().flat_map(|(i, _)| i).collect::<Vec<_>>()
    };
    let (a, b, c) = (order(1), order(1), order(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mut want: Vec<usize> = (0..20).collect();
    crate::io::shuffle::Mt19937::new(1).libstdcxx_shuffle(&mut want);
    assert_eq!(a, want);
}

#[test]
fn parts_split_like_mxnet() {
    let dir = TempDir::new("mnist-parts");
    let (img, lab) = write_dataset(&dir, 10, false);
    // floor(10 / 3 * i): parts 0..3, 3..6, 6..10.
    for (part, want) in [
        (0, vec![0, 1, 2]),
        (1, vec![3, 4, 5]),
        (2, vec![6, 7, 8, 9]),
    ] {
        let mut it = quiet(&img, &lab)
            .batch_size(1)
            .shuffle(false)
            .parts(3, part)
            .build()
            .unwrap();
        let got: Vec<usize> = epoch(&mut it).into_iter().flat_map(|(i, _)| i).collect();
        assert_eq!(got, want);
    }
    for (parts, index) in [(0, 0), (2, 2)] {
        let r = quiet(&img, &lab).parts(parts, index).build();
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    }
}

#[test]
fn mismatched_or_bad_files_are_errors() {
    let dir = TempDir::new("mnist-bad");
    let (img, _) = write_dataset(&dir, 10, false);
    let lab9 = dir.path("lab9");
    std::fs::write(&lab9, idx_bytes(&[9], &[0; 9])).unwrap();
    match quiet(&img, &lab9).build() {
        Err(e @ Error::Format { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("lab9") && text.contains("9 labels") && text.contains("10 images")
            );
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    // Files swapped: the label file is not an image file.
    let r = quiet(&lab9, &img).build();
    assert!(matches!(r, Err(Error::Format { .. })), "{r:?}");
    let r = quiet(&dir.path("missing"), &lab9).build();
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    let r = quiet(&img, &lab9).batch_size(0).build();
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
}

/// A batch's labels as the class bytes of the file.
fn labels_u8(b: &DataBatch) -> Vec<u8> {
    b.label[0]
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|&l| l as u8)
        .collect()
}

#[test]
fn fashion_mnist_matches_mxnet() {
    let Some(dir) = mxr_test_support::fashion_mnist_dir() else {
        return;
    };
    // The quiet iterator over set `set` (`t10k` or `train`).
    let iter = |set: &str| {
        let file = |name: &str| dir.join(format!("{set}-{name}.gz"));
        MNISTIter::builder(file("images-idx3-ubyte"), file("labels-idx1-ubyte")).silent(true)
    };

    // mx.io.MNISTIter(image=t10k..., batch_size=3000, shuffle=False): 3 batches (9000 of 10000).
    let mut it = iter("t10k")
        .batch_size(3000)
        .shuffle(false)
        .build()
        .unwrap();
    assert_eq!(it.num_examples(), 10000);
    assert_eq!(it.provide_data()[0].shape, [3000, 1, 28, 28]);
    let first = it.next_batch().unwrap().unwrap();
    let labels = first.label[0].to_vec::<f32>().unwrap();
    assert_eq!(labels[..10], [9., 2., 1., 1., 6., 1., 4., 6., 5., 7.]);
    let max = first.data[0]
        .to_vec::<f32>()
        .unwrap()
        .into_iter()
        .fold(0f32, f32::max);
    assert_eq!(max, 255.0 / 256.0);
    assert_eq!(it.batches().count(), 2);

    // mx.io.MNISTIter(image=train..., batch_size=20, flat=True, seed=0): shuffled.
    let mut it = iter("train").batch_size(20).flat(true).build().unwrap();
    assert_eq!(it.num_examples(), 60000);
    let b = it.next_batch().unwrap().unwrap();
    let labels = labels_u8(&b);
    assert_eq!(
        labels,
        [9, 7, 0, 6, 0, 0, 7, 4, 6, 0, 6, 0, 2, 7, 4, 3, 8, 8, 4, 3]
    );
    assert_eq!(b.index.unwrap()[..4], [26990, 27744, 21904, 3028]);
    assert_eq!(b.data[0].shape(), &[20, 784]);

    // num_parts=4, part_index=3, seed=3.
    let mut it = iter("train")
        .batch_size(10)
        .seed(3)
        .parts(4, 3)
        .build()
        .unwrap();
    assert_eq!(it.num_examples(), 15000);
    let b = it.next_batch().unwrap().unwrap();
    let labels = labels_u8(&b);
    assert_eq!(labels, [7, 7, 6, 9, 1, 3, 9, 9, 4, 4]);
    assert_eq!(b.index.unwrap()[..3], [53081, 49947, 49859]);
}
