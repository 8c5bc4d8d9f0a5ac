//! `MNISTIter`: MNIST-format datasets (IDX files, raw or gzip) as batches (MXNet's
//! `mx.io.MNISTIter`).

use std::path::{Path, PathBuf};

use super::batch::{Batches, DataBatch, DataDesc, DataIter, LastBatchHandle};
use super::idx::{read_idx_images, read_idx_labels};
use super::ndarray_iter::NDArrayIter;
use super::shuffle::Mt19937;
use crate::nd::NDArray;
use crate::{Error, Result};

/// MXNet scales pixels by `1/256` (`img_ *= 1.0f / 256.0f` in `iter_mnist.cc`), so 255 reads
/// as 0.99609375, not 1.
const PIXEL_SCALE: f32 = 1.0 / 256.0;

/// Rows converted to float32 and written into the array at a time (bounds the temporary).
const ROWS_PER_WRITE: usize = 4096;

/// The options of an [`MNISTIter`], MXNet's parameters with MXNet's defaults; [`build`]
/// reads the files.
///
/// [`build`]: MNISTIterBuilder::build
#[derive(Debug, Clone)]
pub struct MNISTIterBuilder {
    image: PathBuf,
    label: PathBuf,
    batch_size: usize,
    shuffle: bool,
    flat: bool,
    seed: u32,
    silent: bool,
    num_parts: usize,
    part_index: usize,
    last_batch_handle: LastBatchHandle,
    data_name: String,
    label_name: String,
}

impl MNISTIterBuilder {
    /// Examples per batch (default 128).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether to shuffle the examples once, when the files are read (default `true`, as in
    /// MXNet). Every epoch then has the same order.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The shuffle's seed (default 0). The order is MXNet's for the same seed (MXNet's
    /// `int` seed `s < 0` is `s as u32` here).
    pub fn seed(mut self, seed: u32) -> Self {
        self.seed = seed;
        self
    }

    /// Images as `(batch, rows * cols)` rows instead of `(batch, 1, rows, cols)` (default
    /// `false`).
    pub fn flat(mut self, flat: bool) -> Self {
        self.flat = flat;
        self
    }

    /// Whether to keep quiet; when `false` (the default, as in MXNet) `build` prints a line
    /// about what it loaded to standard error.
    pub fn silent(mut self, silent: bool) -> Self {
        self.silent = silent;
        self
    }

    /// Reads only part `part_index` of `num_parts` equal parts of the files (default: the one
    /// part of one), for distributed training: part `i` is examples
    /// `floor(n / parts * i) .. floor(n / parts * (i + 1))`.
    pub fn parts(mut self, num_parts: usize, part_index: usize) -> Self {
        self.num_parts = num_parts;
        self.part_index = part_index;
        self
    }

    /// What to do with the last incomplete batch. MXNet's `MNISTIter` always drops it, and so
    /// does the default here, [`LastBatchHandle::Discard`]; the other modes are mxr's.
    pub fn last_batch_handle(mut self, handle: LastBatchHandle) -> Self {
        self.last_batch_handle = handle;
        self
    }

    /// The name of the images in [`DataIter::provide_data`] (default `data`).
    pub fn data_name(mut self, name: &str) -> Self {
        self.data_name = name.to_owned();
        self
    }

    /// The name of the labels in [`DataIter::provide_label`] (default `softmax_label`).
    pub fn label_name(mut self, name: &str) -> Self {
        self.label_name = name.to_owned();
        self
    }

    /// Reads the files (raw or gzip), shuffles, and makes the arrays, on the current default
    /// context ([`context_scope`](crate::nd::context_scope)).
    pub fn build(self) -> Result<MNISTIter> {
        let err = |reason: String| Error::InvalidArgument {
            call: "MNISTIter::build",
            reason,
        };
        if self.batch_size == 0 {
            return Err(err("batch_size must be at least 1".into()));
        }
        if self.num_parts == 0 || self.part_index >= self.num_parts {
            return Err(err(format!(
                "part {} of {} parts: need 0 <= part_index < num_parts",
                self.part_index, self.num_parts
            )));
        }
        let (count, rows, cols, pixels) = read_idx_images(&self.image)?;
        let labels = read_idx_labels(&self.label)?;
        if labels.len() != count {
            return Err(Error::Format {
                source_name: self.label.display().to_string(),
                format: "IDX label file",
                reason: format!(
                    "{} labels, but {} has {count} images",
                    labels.len(),
                    self.image.display()
                ),
            });
        }
        // MXNet's GetPart, in double precision, truncated.
        let bound = |i: usize| (count as f64 / self.num_parts as f64 * i as f64) as usize;
        let (start, end) = (
            bound(self.part_index),
            bound(self.part_index + 1).min(count),
        );
        let n = end - start;
        let mut order: Vec<usize> = (start..end).collect();
        if self.shuffle {
            Mt19937::new(self.seed).libstdcxx_shuffle(&mut order);
        }

        let image_size = rows * cols;
        let shape = if self.flat {
            vec![n, image_size]
        } else {
            vec![n, 1, rows, cols]
        };
        let images = NDArray::zeros(&shape)?;
        for first in (0..n).step_by(ROWS_PER_WRITE) {
            let last = (first + ROWS_PER_WRITE).min(n);
            let values: Vec<f32> = order[first..last]
                .iter()
                .flat_map(|&i| &pixels[i * image_size..(i + 1) * image_size])
                .map(|&p| f32::from(p) * PIXEL_SCALE)
                .collect();
            images.slice(first, last)?.assign_slice(&values)?;
        }
        drop(pixels);
        let labels: Vec<f32> = order.iter().map(|&i| f32::from(labels[i])).collect();
        let labels = NDArray::from_vec(&[n], labels)?;

        if !self.silent {
            let mut batch_shape = shape.clone();
            batch_shape[0] = self.batch_size;
            let dims: Vec<String> = batch_shape.iter().map(ToString::to_string).collect();
            eprintln!(
                "MNISTIter: load {n} images, shuffle={}, shape=({})",
                u8::from(self.shuffle),
                dims.join(",")
            );
        }
        let inner = NDArrayIter::new(images, labels, self.batch_size)?
            .data_name(&self.data_name)
            .label_name(&self.label_name)
            .last_batch_handle(self.last_batch_handle);
        Ok(MNISTIter {
            inner,
            file_index: order,
        })
    }
}

/// Batches of an MNIST-format dataset (MXNet's `mx.io.MNISTIter`): images scaled to `[0, 1)`
/// as float32 (`pixel / 256`, as MXNet), labels as float32.
///
/// - data `(batch, 1, rows, cols)`, or `(batch, rows * cols)` with [`flat`], named `data`;
///   labels `(batch,)` named `softmax_label`;
/// - files raw or gzip (told apart by their first bytes), read whole by
///   [`build`]; errors name the file and the fault (see [`read_idx_images`]), and labels
///   that do not match the images in number are an error;
/// - shuffled once at load by default, in MXNet's order for the seed; the incomplete last
///   batch is dropped (MXNet's only behaviour; see [`last_batch_handle`]);
/// - each batch's [`DataBatch::index`] is the position of each example in the files.
///
/// [`flat`]: MNISTIterBuilder::flat
/// [`build`]: MNISTIterBuilder::build
/// [`last_batch_handle`]: MNISTIterBuilder::last_batch_handle
/// [`read_idx_images`]: super::read_idx_images
///
/// ```no_run
/// use mxr::io::{DataIter, MNISTIter};
/// let dir = "/usr/share/datasets/fashion-mnist";
/// let mut train = MNISTIter::builder(
///     format!("{dir}/train-images-idx3-ubyte.gz"),
///     format!("{dir}/train-labels-idx1-ubyte.gz"),
/// )
/// .batch_size(100)
/// .flat(true)
/// .silent(true)
/// .build()?;
/// assert_eq!(train.provide_data()[0].shape, vec![100, 784]);
/// for epoch in 0..2 {
///     for batch in &mut train {
///         let batch = batch?;
///         assert_eq!(batch.label[0].shape(), &[100]);
///     }
///     train.reset()?;
/// }
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug)]
pub struct MNISTIter {
    inner: NDArrayIter,
    /// The position in the files of each loaded example.
    file_index: Vec<usize>,
}

impl MNISTIter {
    /// The options for reading `image` and `label` (IDX files), with MXNet's defaults: batches
    /// of 128, shuffled with seed 0, images `(1, rows, cols)`, not silent.
    pub fn builder(image: impl AsRef<Path>, label: impl AsRef<Path>) -> MNISTIterBuilder {
        MNISTIterBuilder {
            image: image.as_ref().to_path_buf(),
            label: label.as_ref().to_path_buf(),
            batch_size: 128,
            shuffle: true,
            flat: false,
            seed: 0,
            silent: false,
            num_parts: 1,
            part_index: 0,
            last_batch_handle: LastBatchHandle::Discard,
            data_name: "data".into(),
            label_name: "softmax_label".into(),
        }
    }

    /// The number of examples loaded (of this part).
    pub fn num_examples(&self) -> usize {
        self.inner.num_data()
    }
}

impl DataIter for MNISTIter {
    fn next_batch(&mut self) -> Result<Option<DataBatch>> {
        let Some(mut batch) = self.inner.next_batch()? else {
            return Ok(None);
        };
        if let Some(index) = &mut batch.index {
            for i in index.iter_mut() {
                *i = self.file_index[*i];
            }
        }
        Ok(Some(batch))
    }

    fn reset(&mut self) -> Result<()> {
        self.inner.reset()
    }

    fn provide_data(&self) -> Vec<DataDesc> {
        self.inner.provide_data()
    }

    fn provide_label(&self) -> Vec<DataDesc> {
        self.inner.provide_label()
    }

    fn batch_size(&self) -> usize {
        self.inner.batch_size()
    }

    fn num_batches_hint(&self) -> Option<usize> {
        self.inner.num_batches_hint()
    }
}

impl<'a> IntoIterator for &'a mut MNISTIter {
    type Item = Result<DataBatch>;
    type IntoIter = Batches<'a, MNISTIter>;

    fn into_iter(self) -> Self::IntoIter {
        Batches::new(self)
    }
}
