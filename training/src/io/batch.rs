//! What every iterator shares: [`DataBatch`], [`DataDesc`], [`LastBatchHandle`], the
//! [`DataIter`] trait and its `for`-loop adapter [`Batches`].

use std::fmt;

use mxr_kernels::DType;

use crate::nd::NDArray;
use crate::{Error, Result};

/// The name, shape and element type of one input or label of a batch (MXNet's `DataDesc`;
/// the layout is always `NCHW`, batch axis first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDesc {
    /// The input's name, e.g. `data` or `softmax_label`.
    pub name: String,
    /// The shape of one batch of it: `batch_size` first.
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: DType,
}

impl fmt::Display for DataDesc {
    /// `DataDesc[data,(4, 2),float32]`, like MXNet's repr without the layout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(ToString::to_string).collect();
        let shape = match dims.as_slice() {
            [one] => format!("({one},)"),
            _ => format!("({})", dims.join(", ")),
        };
        write!(f, "DataDesc[{},{shape},{}]", self.name, self.dtype)
    }
}

/// One batch (MXNet's `DataBatch`): the inputs and labels in the order of
/// [`DataIter::provide_data`] and [`DataIter::provide_label`].
#[derive(Debug, Clone)]
pub struct DataBatch {
    /// The inputs, each with `batch_size` rows.
    pub data: Vec<NDArray>,
    /// The labels, each with `batch_size` rows (empty when the iterator has none).
    pub label: Vec<NDArray>,
    /// How many rows at the end of the batch are padding, to be ignored by metrics and
    /// prediction (MXNet's `pad`; see [`LastBatchHandle`] for what each mode reports).
    pub pad: usize,
    /// The index of each row's example in the source, where the iterator knows it.
    pub index: Option<Vec<usize>>,
}

/// What an iterator does with the last examples of an epoch when fewer than `batch_size` are
/// left (MXNet's `last_batch_handle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LastBatchHandle {
    /// `'pad'`: the last batch is filled up with examples from the start of the data
    /// (repeated if needed); its `pad` counts them.
    #[default]
    Pad,
    /// `'discard'`: the incomplete last batch is dropped.
    Discard,
    /// `'roll_over'`: the incomplete last batch is kept and completed at the start of the next
    /// epoch (after [`DataIter::reset`]) with the first examples of that epoch. MXNet reports
    /// that batch's `pad` as the number of rolled-over examples, and so does mxr.
    RollOver,
}

impl LastBatchHandle {
    /// The mode from MXNet's string: `pad`, `discard` or `roll_over`.
    pub fn parse(value: &str) -> Result<LastBatchHandle> {
        match value {
            "pad" => Ok(LastBatchHandle::Pad),
            "discard" => Ok(LastBatchHandle::Discard),
            "roll_over" => Ok(LastBatchHandle::RollOver),
            _ => Err(Error::InvalidArgument {
                call: "LastBatchHandle::parse",
                reason: format!("{value:?}: expected \"pad\", \"discard\" or \"roll_over\""),
            }),
        }
    }

    /// MXNet's string for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            LastBatchHandle::Pad => "pad",
            LastBatchHandle::Discard => "discard",
            LastBatchHandle::RollOver => "roll_over",
        }
    }
}

/// A data iterator (MXNet's `mx.io.DataIter`): batches until the end of an epoch, then
/// [`DataIter::reset`] starts the next one.
///
/// `for` loops go through [`DataIter::batches`] (or `&mut iter` for the iterators of this
/// module), which yields `Result<DataBatch>` until the epoch ends; like iterating an MXNet
/// iterator in Python, it does not reset.
///
/// ```
/// use mxr::io::{DataIter, NDArrayIter};
/// use mxr::nd::NDArray;
/// let x = NDArray::arange(0.0, 10.0, 1.0)?;
/// let mut it = NDArrayIter::new(x, None, 4)?; // last batch padded by default
/// for epoch in 0..2 {
///     let pads: Vec<usize> = it.batches().map(|b| b.map(|b| b.pad)).collect::<Result<_, _>>()?;
///     assert_eq!(pads, vec![0, 0, 2]);
///     it.reset()?;
/// }
/// # Ok::<(), mxr::Error>(())
/// ```
pub trait DataIter {
    /// The next batch of the epoch, or `None` at its end.
    fn next_batch(&mut self) -> Result<Option<DataBatch>>;

    /// Starts the next epoch.
    fn reset(&mut self) -> Result<()>;

    /// The names, batch shapes and dtypes of the inputs, in the order of [`DataBatch::data`].
    fn provide_data(&self) -> Vec<DataDesc>;

    /// The names, batch shapes and dtypes of the labels, in the order of [`DataBatch::label`].
    fn provide_label(&self) -> Vec<DataDesc>;

    /// The number of examples in a batch.
    fn batch_size(&self) -> usize;

    /// How many batches an epoch gives, when the iterator knows in advance (a progress bar's
    /// length); `None` when it does not.
    fn num_batches_hint(&self) -> Option<usize> {
        None
    }

    /// An [`Iterator`] over the rest of this epoch's batches.
    fn batches(&mut self) -> Batches<'_, Self>
    where
        Self: Sized,
    {
        Batches::new(self)
    }
}

/// The rest of an epoch's batches as an [`Iterator`] of `Result<DataBatch>`: ends at the end
/// of the epoch, or after the first error.
pub struct Batches<'a, I: DataIter + ?Sized> {
    iter: &'a mut I,
    done: bool,
}

impl<'a, I: DataIter + ?Sized> Batches<'a, I> {
    /// The batches of `iter` (also for `&mut dyn DataIter`).
    pub fn new(iter: &'a mut I) -> Self {
        Batches { iter, done: false }
    }
}

impl<I: DataIter + ?Sized> fmt::Debug for Batches<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batches")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<I: DataIter + ?Sized> Iterator for Batches<'_, I> {
    type Item = Result<DataBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.iter.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<I: DataIter + ?Sized> std::iter::FusedIterator for Batches<'_, I> {}
