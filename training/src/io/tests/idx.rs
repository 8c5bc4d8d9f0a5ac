//! Reading IDX files: raw and gzip, and every way a file can be wrong.

use super::{TempDir, gzip, idx_bytes};
use crate::Error;
use crate::io::{read_idx_images, read_idx_labels};

fn pixels(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn reads_raw_and_gzip_files() {
    let dir = TempDir::new("idx-ok");
    let img = idx_bytes(&[3, 2, 4], &pixels(24));
    let lab = idx_bytes(&[3], &[7, 0, 255]);
    for (name, bytes) in [
        ("img", img.clone()),
        ("img.gz", gzip(&img)),
        ("lab", lab.clone()),
        ("lab.gz", gzip(&lab)),
    ] {
        std::fs::write(dir.path(name), bytes).unwrap();
    }
    for name in ["img", "img.gz"] {
        let (n, rows, cols, data) = read_idx_images(dir.path(name)).unwrap();
        assert_eq!((n, rows, cols), (3, 2, 4));
        assert_eq!(data, pixels(24));
    }
    for name in ["lab", "lab.gz"] {
        assert_eq!(read_idx_labels(dir.path(name)).unwrap(), [7, 0, 255]);
    }
    // gzip is told by its magic bytes, not the name.
    std::fs::write(dir.path("lab-gz-no-suffix"), gzip(&lab)).unwrap();
    assert_eq!(
        read_idx_labels(dir.path("lab-gz-no-suffix")).unwrap(),
        [7, 0, 255]
    );
    // Empty datasets are fine.
    std::fs::write(dir.path("empty"), idx_bytes(&[0, 28, 28], &[])).unwrap();
    assert_eq!(
        read_idx_images(dir.path("empty")).unwrap(),
        (0, 28, 28, vec![])
    );
}

/// The format error's reason, checking that it names the file.
fn reason(result: crate::Result<impl std::fmt::Debug>, path: &std::path::Path) -> String {
    match result {
        Err(Error::Format {
            source_name,
            reason,
            ..
        }) => {
            assert_eq!(source_name, path.display().to_string());
            reason
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// Writes each case's bytes to a file of its name in `dir`, and checks that reading it as images
/// is a format error whose reason contains the case's text.
fn assert_image_errors(dir: &TempDir, cases: Vec<(&str, Vec<u8>, &str)>) {
    for (name, bytes, want) in cases {
        let path = dir.path(name);
        std::fs::write(&path, bytes).unwrap();
        let r = reason(read_idx_images(&path), &path);
        assert!(r.contains(want), "{name}: {r}");
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = TempDir::new("idx-missing");
    let path = dir.path("nope-idx3-ubyte");
    match read_idx_images(&path) {
        Err(e @ Error::Io { .. }) => {
            let text = e.to_string();
            assert!(text.contains("nope-idx3-ubyte"), "{text}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn wrong_magic_numbers_are_format_errors() {
    let dir = TempDir::new("idx-magic");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text", b"hello world, not idx".to_vec(), "not an IDX file"),
        (
            "labels-as-images",
            idx_bytes(&[3], &[1, 2, 3]),
            "1 dimensions, expected 3",
        ),
        (
            "floats",
            vec![0, 0, 0x0d, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "element type 0x0d",
        ),
    ];
    assert_image_errors(&dir, cases);
    let path = dir.path("images-as-labels");
    std::fs::write(&path, idx_bytes(&[1, 1, 1], &[0])).unwrap();
    let r = reason(read_idx_labels(&path), &path);
    assert!(r.contains("0x00000803") && r.contains("expected 1"), "{r}");
}

#[test]
fn truncated_and_oversized_files_are_format_errors() {
    let dir = TempDir::new("idx-size");
    let full = idx_bytes(&[2, 3, 3], &pixels(18));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated header"),
        ("short-magic", vec![0, 0], "truncated header"),
        ("short-dims", full[..9].to_vec(), "size of dimension 1"),
        (
            "short-data",
            full[..full.len() - 1].to_vec(),
            "call for 18 bytes of data, the file has 17",
        ),
        (
            "extra-data",
            [full.as_slice(), &[1]].concat(),
            "more data than the 18 bytes",
        ),
        (
            "short-data.gz",
            gzip(&full[..20]),
            "the decompressed file has 4",
        ),
        // A header that claims far more than the file holds: an error, no huge allocation.
        (
            "lying-header",
            idx_bytes(&[u32::MAX, 60000, 28], &[1, 2, 3]),
            "the file has 3",
        ),
        (
            "overflowing-header",
            idx_bytes(&[u32::MAX; 3], &[]),
            "too large",
        ),
    ];
    assert_image_errors(&dir, cases);
}

#[test]
fn corrupt_gzip_is_a_format_error() {
    let dir = TempDir::new("idx-gz");
    let good = gzip(&idx_bytes(&[50], &pixels(50)));
    // The gzip magic, then garbage.
    let garbage = [&[0x1f, 0x8b, 0x08, 0x00][..], &[0xff; 40]].concat();
    // A stream cut short.
    let cut = good[..good.len() / 2].to_vec();
    // A flipped byte in the compressed data or the checksum.
    let mut flipped = good.clone();
    let at = flipped.len() - 6;
    flipped[at] ^= 0xff;
    for (name, bytes) in [("garbage", garbage), ("cut", cut), ("flipped", flipped)] {
        let path = dir.path(name);
        std::fs::write(&path, bytes).unwrap();
        let r = reason(read_idx_labels(&path), &path);
        assert!(r.contains("gzip") || r.contains("truncated"), "{name}: {r}");
    }
}

#[test]
fn reads_fashion_mnist_when_installed() {
    let Some(dir) = mxr_test_support::fashion_mnist_dir() else {
        return;
    };
    let (n, rows, cols, px) = read_idx_images(dir.join("train-images-idx3-ubyte.gz")).unwrap();
    assert_eq!((n, rows, cols, px.len()), (60000, 28, 28, 60000 * 784));
    let labels = read_idx_labels(dir.join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(labels.len(), 60000);
    // numpy: np.frombuffer(labels[8:18], np.uint8)
    assert_eq!(labels[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    let labels = read_idx_labels(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(labels.len(), 10000);
    assert_eq!(labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
}
