//! Reading IDX files, the format of MNIST and Fashion-MNIST, raw or gzip-compressed.
//!
//! An IDX file is a big-endian header, then the elements row-major:
//!
//! | bytes | content |
//! | --- | --- |
//! | 0-1 | zero |
//! | 2 | element type: `0x08` unsigned byte (the only one MNIST uses, and the only one read here) |
//! | 3 | number of dimensions: 3 for images (`0x00000803`), 1 for labels (`0x00000801`) |
//! | 4.. | each dimension, a big-endian `u32` |
//! | then | the elements |
//!
//! A file starting with the gzip magic bytes `1f 8b` is decompressed while it is read (the
//! `.gz` files of the datasets can be read as they are). Nothing is allocated beyond the data
//! the file really holds, whatever its header claims.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use crate::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UNSIGNED_BYTE: u8 = 0x08;

/// An IDX file being read: its path for messages, whether it is gzip, and the stream.
struct IdxReader<'a> {
    path: String,
    format: &'static str,
    gzip: bool,
    reader: Box<dyn Read + 'a>,
    /// The file's size when read raw: a bound on what it can hold.
    raw_len: Option<u64>,
}

impl<'a> IdxReader<'a> {
    /// A file held in memory (raw or gzip), named `source_name` in errors.
    fn from_bytes(bytes: &'a [u8], source_name: &str, format: &'static str) -> IdxReader<'a> {
        let gzip = bytes.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read + 'a> = if gzip {
            Box::new(MultiGzDecoder::new(bytes))
        } else {
            Box::new(bytes)
        };
        IdxReader {
            path: source_name.to_owned(),
            format,
            gzip,
            reader,
            raw_len: (!gzip).then_some(bytes.len() as u64),
        }
    }

    fn open(path: &Path, format: &'static str) -> Result<IdxReader<'static>> {
        let name = path.display().to_string();
        let io_err = |e: std::io::Error| Error::Io {
            path: name.clone(),
            source: Arc::new(e),
        };
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let mut reader = BufReader::new(file);
        let gzip = reader.fill_buf().map_err(io_err)?.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        Ok(IdxReader {
            path: name,
            format,
            gzip,
            reader,
            raw_len: (!gzip).then_some(len),
        })
    }

    fn invalid(&self, reason: String) -> Error {
        Error::Format {
            source_name: self.path.clone(),
            format: self.format,
            reason,
        }
    }

    /// A read error: bad gzip data is a format error, anything else an I/O error.
    fn read_error(&self, e: std::io::Error) -> Error {
        if self.gzip && e.kind() != ErrorKind::Interrupted {
            self.invalid(format!("corrupt or truncated gzip data: {e}"))
        } else {
            Error::Io {
                path: self.path.clone(),
                source: Arc::new(e),
            }
        }
    }

    /// Fills `buf` (header fields), failing with "truncated" at the end of the data.
    fn read_header_bytes(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(self.invalid(format!(
                        "truncated header: the data ends in the {what} ({filled} of {} bytes)",
                        buf.len()
                    )));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(e)),
            }
        }
        Ok(())
    }

    /// Reads the header of an unsigned-byte file of `ndims` dimensions, then exactly the
    /// elements it announces; returns the dims and the elements.
    fn read(mut self, ndims: u8, expected_magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
        let mut magic = [0u8; 4];
        self.read_header_bytes(&mut magic, "magic number")?;
        let value = u32::from_be_bytes(magic);
        if magic[..2] != [0, 0] {
            return Err(self.invalid(format!(
                "wrong magic number 0x{value:08x}: not an IDX file (expected 0x{expected_magic:08x})"
            )));
        }
        if magic[2] != UNSIGNED_BYTE {
            return Err(self.invalid(format!(
                "magic number 0x{value:08x}: element type 0x{:02x} is not unsigned bytes (0x08, \
                 expected 0x{expected_magic:08x})",
                magic[2]
            )));
        }
        if magic[3] != ndims {
            return Err(self.invalid(format!(
                "magic number 0x{value:08x}: {} dimensions, expected {ndims} (0x{expected_magic:08x})",
                magic[3]
            )));
        }
        let mut dims = Vec::with_capacity(usize::from(ndims));
        for i in 0..ndims {
            let mut d = [0u8; 4];
            self.read_header_bytes(&mut d, &format!("size of dimension {i}"))?;
            dims.push(u32::from_be_bytes(d) as usize);
        }
        let expected = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
            .filter(|&n| usize::try_from(n).is_ok())
            .ok_or_else(|| self.invalid(format!("dimensions {dims:?} are too large")))?;
        let header = 4 + 4 * u64::from(ndims);
        let mut data = Vec::new();
        if let Some(len) = self.raw_len {
            // Never more than the file holds, whatever the header says.
            data.reserve_exact(expected.min(len.saturating_sub(header)) as usize);
        }
        // One byte more than announced tells a file with extra data.
        let mut limited = (&mut self.reader).take(expected.saturating_add(1));
        if let Err(e) = limited.read_to_end(&mut data) {
            return Err(self.read_error(e));
        }
        let got = data.len() as u64;
        if got < expected {
            return Err(self.invalid(format!(
                "truncated: dimensions {dims:?} call for {expected} bytes of data, the {} has {got}",
                if self.gzip { "decompressed file" } else { "file" }
            )));
        }
        if got > expected {
            return Err(self.invalid(format!(
                "more data than the {expected} bytes that dimensions {dims:?} call for"
            )));
        }
        Ok((dims, data))
    }
}

/// Reads an IDX file of images (magic `0x00000803`: unsigned bytes, 3 dimensions), raw or
/// gzip: returns `(count, rows, cols, pixels)`, the pixels row-major, image after image.
///
/// Errors name the file and what is wrong: [`Error::Io`] when it cannot be read,
/// [`Error::Format`] for a wrong magic number, a truncated file or data that does not match
/// the dimensions.
///
/// ```no_run
/// let (n, rows, cols, pixels) =
///     mxr::io::read_idx_images("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")?;
/// assert_eq!((n, rows, cols, pixels.len()), (10000, 28, 28, 10000 * 28 * 28));
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<(usize, usize, usize, Vec<u8>)> {
    let (dims, pixels) = IdxReader::open(path.as_ref(), "IDX image file")?.read(3, 0x0803)?;
    Ok((dims[0], dims[1], dims[2], pixels))
}

/// [`read_idx_images`] on a file's bytes held in memory (raw or gzip); `source_name` names it
/// in errors.
///
/// ```
/// let mut file = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2];
/// file.extend([1, 2, 3, 4]);
/// assert_eq!(mxr::io::decode_idx_images(&file, "mem")?, (1, 2, 2, vec![1, 2, 3, 4]));
/// file.push(5);
/// let e = mxr::io::decode_idx_images(&file, "mem").unwrap_err();
/// assert!(e.to_string().contains("more data than the 4 bytes"));
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn decode_idx_images(
    bytes: &[u8],
    source_name: &str,
) -> Result<(usize, usize, usize, Vec<u8>)> {
    let (dims, pixels) =
        IdxReader::from_bytes(bytes, source_name, "IDX image file").read(3, 0x0803)?;
    Ok((dims[0], dims[1], dims[2], pixels))
}

/// [`read_idx_labels`] on a file's bytes held in memory (raw or gzip).
pub fn decode_idx_labels(bytes: &[u8], source_name: &str) -> Result<Vec<u8>> {
    let (_, labels) =
        IdxReader::from_bytes(bytes, source_name, "IDX label file").read(1, 0x0801)?;
    Ok(labels)
}

/// Reads an IDX file of labels (magic `0x00000801`: unsigned bytes, 1 dimension), raw or gzip.
/// Errors as for [`read_idx_images`].
///
/// ```no_run
/// let labels =
///     mxr::io::read_idx_labels("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")?;
/// assert_eq!(labels.len(), 10000);
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let (_, labels) = IdxReader::open(path.as_ref(), "IDX label file")?.read(1, 0x0801)?;
    Ok(labels)
}
