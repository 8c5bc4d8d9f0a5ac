//! Data iterators (MXNet's `mx.io`): an in-memory iterator and an MNIST/IDX iterator.
//!
//! - [`DataIter`]: batches until the end of an epoch, [`reset`](DataIter::reset) for the next;
//!   the names, shapes and dtypes of what it gives ([`DataDesc`]); `for` loops through
//!   [`Batches`] (or `&mut iter`).
//! - [`NDArrayIter`]: arrays in memory, with MXNet's `shuffle` (same orders for the same seed)
//!   and `last_batch_handle` ([`LastBatchHandle`]: pad, discard, roll over).
//! - [`MNISTIter`]: MNIST-format datasets from IDX files, raw or gzip; [`read_idx_images`] and
//!   [`read_idx_labels`] read the files alone.
//!
//! ```
//! use mxr::io::{DataIter, LastBatchHandle, NDArrayIter};
//! use mxr::nd::NDArray;
//! let x = NDArray::arange(0.0, 10.0, 1.0)?.reshape(&[5, 2])?;
//! let y = NDArray::arange(0.0, 5.0, 1.0)?;
//! let mut it = NDArrayIter::new(x, y, 2)?
//!     .shuffle(0)
//!     .last_batch_handle(LastBatchHandle::Discard);
//! let mut seen = Vec::new();
//! for batch in &mut it {
//!     seen.extend(batch?.label[0].to_vec::<f32>()?);
//! }
//! assert_eq!(seen.len(), 4); // 2 full batches; the fifth example is dropped
//! # Ok::<(), mxr::Error>(())
//! ```

mod batch;
mod gather;
mod idx;
mod mnist;
mod ndarray_iter;
pub(crate) mod shuffle;

pub use batch::{Batches, DataBatch, DataDesc, DataIter, LastBatchHandle};
pub use idx::{decode_idx_images, decode_idx_labels, read_idx_images, read_idx_labels};
pub use mnist::{MNISTIter, MNISTIterBuilder};
pub use ndarray_iter::{Inputs, NDArrayIter};

#[cfg(test)]
mod tests;
