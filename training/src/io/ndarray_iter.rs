//! `NDArrayIter`: batches of arrays held in memory (MXNet's `mx.io.NDArrayIter`).

use std::sync::Arc;

use super::batch::{Batches, DataBatch, DataDesc, DataIter, LastBatchHandle};
use super::gather::{Rows, gather_rows};
use super::shuffle::Mt19937;
use crate::nd::NDArray;
use crate::{Error, Result};

/// The inputs or labels given to [`NDArrayIter::new`], named like MXNet names them.
///
/// - one array ([`NDArray`] or `&NDArray`): named after the iterator's `data_name` (`data`)
///   or `label_name` (`softmax_label`);
/// - a list (`Vec<NDArray>`) of two or more: `_0_data`, `_1_data`, ... (a list of one is
///   named like one array);
/// - named arrays (`Vec<(String, NDArray)>` or `Vec<(&str, NDArray)>`, MXNet's dict);
/// - nothing (`None`, `Inputs::None`): no labels.
///
/// As in MXNet (which sorts the dict's items), the iterator orders the inputs by name.
#[derive(Debug, Clone, Default)]
pub enum Inputs {
    /// No arrays (labels only: the data must have at least one).
    #[default]
    None,
    /// One array.
    One(NDArray),
    /// Arrays named by position.
    List(Vec<NDArray>),
    /// Arrays with their names.
    Named(Vec<(String, NDArray)>),
}

impl From<NDArray> for Inputs {
    fn from(array: NDArray) -> Self {
        Inputs::One(array)
    }
}

impl From<&NDArray> for Inputs {
    fn from(array: &NDArray) -> Self {
        Inputs::One(array.clone())
    }
}

impl From<Option<NDArray>> for Inputs {
    fn from(array: Option<NDArray>) -> Self {
        array.map_or(Inputs::None, Inputs::One)
    }
}

impl From<Vec<NDArray>> for Inputs {
    fn from(arrays: Vec<NDArray>) -> Self {
        Inputs::List(arrays)
    }
}

impl From<Vec<(String, NDArray)>> for Inputs {
    fn from(arrays: Vec<(String, NDArray)>) -> Self {
        Inputs::Named(arrays)
    }
}

impl From<Vec<(&str, NDArray)>> for Inputs {
    fn from(arrays: Vec<(&str, NDArray)>) -> Self {
        Inputs::Named(arrays.into_iter().map(|(n, a)| (n.to_owned(), a)).collect())
    }
}

/// How an input got its name, so that `data_name` / `label_name` can rename it.
#[derive(Debug, Clone)]
enum Naming {
    /// The iterator's default name.
    Default,
    /// `_{i}_{default name}`.
    Indexed(usize),
    /// Given by the caller.
    Given,
}

#[derive(Debug, Clone)]
struct Source {
    name: String,
    naming: Naming,
    /// The rows of the current epoch's order (a permuted copy once shuffled).
    array: NDArray,
}

fn rename(sources: &mut [Source], default: &str) {
    for s in sources {
        match s.naming {
            Naming::Default => s.name = default.to_owned(),
            Naming::Indexed(i) => s.name = format!("_{i}_{default}"),
            Naming::Given => {}
        }
    }
}

fn sources(inputs: Inputs, default: &str, role: &str) -> Result<Vec<Source>> {
    let mut out: Vec<Source> = match inputs {
        Inputs::None => vec![],
        Inputs::One(array) => vec![Source {
            name: default.to_owned(),
            naming: Naming::Default,
            array,
        }],
        Inputs::List(arrays) if arrays.len() == 1 => arrays
            .into_iter()
            .map(|array| Source {
                name: default.to_owned(),
                naming: Naming::Default,
                array,
            })
            .collect(),
        Inputs::List(arrays) => arrays
            .into_iter()
            .enumerate()
            .map(|(i, array)| Source {
                name: format!("_{i}_{default}"),
                naming: Naming::Indexed(i),
                array,
            })
            .collect(),
        Inputs::Named(arrays) => arrays
            .into_iter()
            .map(|(name, array)| Source {
                name,
                naming: Naming::Given,
                array,
            })
            .collect(),
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(Error::InvalidArgument {
            call: "NDArrayIter::new",
            reason: format!("two {role} arrays are named {:?}", w[0].name),
        });
    }
    Ok(out)
}

/// A data iterator over arrays in memory (MXNet's `mx.io.NDArrayIter`): batches of
/// `batch_size` rows along the first axis of every input and label.
///
/// - **Batches** are new arrays on their source's context (copies, as MXNet's `slice_axis`
///   makes them; writing to a batch never changes the source), made by one engine operation
///   per array and batch: `next_batch` returns at once.
/// - **The last batch** follows [`LastBatchHandle`] (default [`LastBatchHandle::Pad`]).
/// - **Shuffling** ([`NDArrayIter::shuffle`]) permutes the rows when the first batch is taken
///   and again at every [`DataIter::reset`], exactly as MXNet does after
///   `np.random.seed(seed)`: the same seed gives MXNet's orders, epoch after epoch.
/// - **Index**: each batch's [`DataBatch::index`] holds the position in the given arrays of
///   every row (MXNet gives `None`).
///
/// Options are set before the first batch.
///
/// ```
/// use mxr::io::{DataIter, LastBatchHandle, NDArrayIter};
/// use mxr::nd::NDArray;
/// let x = NDArray::from_vec(&[5, 2], (0..10).map(|v| v as f32).collect::<Vec<_>>())?;
/// let y = NDArray::arange(0.0, 5.0, 1.0)?;
/// let mut it = NDArrayIter::new(x, y, 2)?.last_batch_handle(LastBatchHandle::Pad);
/// assert_eq!(it.provide_data()[0].name, "data");
/// assert_eq!(it.provide_data()[0].shape, vec![2, 2]);
/// assert_eq!(it.provide_label()[0].name, "softmax_label");
/// let mut labels = Vec::new();
/// for batch in &mut it {
///     let batch = batch?;
///     labels.push((batch.label[0].to_vec::<f32>()?, batch.pad));
/// }
/// assert_eq!(labels[2], (vec![4.0, 0.0], 1)); // padded with the first example
/// it.reset()?;
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug)]
pub struct NDArrayIter {
    data: Vec<Source>,
    label: Vec<Source>,
    batch_size: usize,
    num_data: usize,
    last_batch_handle: LastBatchHandle,
    /// The generator of the shuffles; `None`: no shuffling.
    rng: Option<Mt19937>,
    /// MXNet's `idx`: the last permutation drawn (shuffled in place at each reset).
    idx: Vec<usize>,
    /// The position in the given arrays of each current row.
    order: Vec<usize>,
    /// MXNet's `cursor`: the first row of the batch last taken.
    cursor: isize,
    /// `roll_over`: the incomplete last batch (data, label, index), kept for the next epoch.
    cache: Option<(Vec<NDArray>, Vec<NDArray>, Vec<usize>)>,
    /// Whether the construction-time reset (MXNet's, in `__init__`) has run.
    started: bool,
}

impl NDArrayIter {
    /// An iterator over `data` and `label` (see [`Inputs`]; `None` for no labels) in batches
    /// of `batch_size` rows. Every array must have at least one dimension and the same number
    /// of rows.
    pub fn new(
        data: impl Into<Inputs>,
        label: impl Into<Inputs>,
        batch_size: usize,
    ) -> Result<NDArrayIter> {
        let err = |reason: String| Error::InvalidArgument {
            call: "NDArrayIter::new",
            reason,
        };
        if batch_size == 0 {
            return Err(err("batch_size must be at least 1".into()));
        }
        let data = sources(data.into(), "data", "data")?;
        let label = sources(label.into(), "softmax_label", "label")?;
        let first = data
            .first()
            .ok_or_else(|| err("no data arrays (at least one is needed)".into()))?;
        let num_data = *first
            .array
            .shape()
            .first()
            .ok_or_else(|| err(format!("{}: a 0-dimensional array has no rows", first.name)))?;
        for s in data.iter().chain(&label) {
            let rows = s.array.shape().first().copied();
            if rows != Some(num_data) {
                return Err(err(format!(
                    "{} has shape {:?}, but {} has {num_data} rows: every array needs as many",
                    s.name,
                    s.array.shape(),
                    first.name
                )));
            }
        }
        if isize::try_from(num_data.saturating_add(batch_size)).is_err() {
            return Err(err(format!("{num_data} rows in batches of {batch_size}")));
        }
        Ok(NDArrayIter {
            data,
            label,
            batch_size,
            num_data,
            last_batch_handle: LastBatchHandle::Pad,
            rng: None,
            idx: (0..num_data).collect(),
            order: (0..num_data).collect(),
            cursor: -(batch_size as isize),
            cache: None,
            started: false,
        })
    }

    /// Shuffles the rows before the first batch and at every reset, with a generator seeded by
    /// `seed`: the orders are those of MXNet's `NDArrayIter(..., shuffle=True)` created right
    /// after `np.random.seed(seed)`.
    pub fn shuffle(mut self, seed: u32) -> Self {
        self.rng = Some(Mt19937::new(seed));
        self
    }

    /// What to do with the last incomplete batch (default [`LastBatchHandle::Pad`]).
    pub fn last_batch_handle(mut self, handle: LastBatchHandle) -> Self {
        self.last_batch_handle = handle;
        self
    }

    /// The name of the data when given as one array (default `data`; `_0_data`, `_1_data`,
    /// ... for a list).
    pub fn data_name(mut self, name: &str) -> Self {
        rename(&mut self.data, name);
        self
    }

    /// The name of the label when given as one array (default `softmax_label`).
    pub fn label_name(mut self, name: &str) -> Self {
        rename(&mut self.label, name);
        self
    }

    /// The number of examples (rows of each array).
    pub fn num_data(&self) -> usize {
        self.num_data
    }

    /// Starts over from the first example, dropping rolled-over examples (MXNet's
    /// `hard_reset`); shuffles again when shuffling.
    pub fn hard_reset(&mut self) -> Result<()> {
        self.start()?;
        self.shuffle_data()?;
        self.cursor = -self.batch_isize();
        self.cache = None;
        Ok(())
    }

    fn batch_isize(&self) -> isize {
        self.batch_size as isize
    }

    /// MXNet's `__init__` ends with a reset (the first shuffle); here it waits for the first use
    /// so that the options are in place.
    fn start(&mut self) -> Result<()> {
        if !self.started {
            self.started = true;
            self.reset_epoch()?;
        }
        Ok(())
    }

    /// MXNet's `_shuffle_data`: shuffle `idx` in place, then take the current rows in that order.
    fn shuffle_data(&mut self) -> Result<()> {
        let Some(rng) = self.rng.as_mut() else {
            return Ok(());
        };
        rng.numpy_shuffle(&mut self.idx);
        let idx: Arc<[usize]> = Arc::from(self.idx.as_slice());
        for s in self.data.iter_mut().chain(self.label.iter_mut()) {
            s.array = gather_rows(&[(&s.array, Rows::List(Arc::clone(&idx)))])?;
        }
        self.order = self.idx.iter().map(|&i| self.order[i]).collect();
        Ok(())
    }

    /// MXNet's `reset`.
    fn reset_epoch(&mut self) -> Result<()> {
        self.shuffle_data()?;
        let (n, b) = (self.num_data as isize, self.batch_isize());
        self.cursor = if self.last_batch_handle == LastBatchHandle::RollOver
            && n - b < self.cursor
            && self.cursor < n
        {
            // The incomplete batch starts the next epoch.
            self.cursor - n - b
        } else {
            -b
        };
        Ok(())
    }

    /// Rows `rows` of every source of `data` or `label`.
    fn take(sources: &[Source], parts: &[Rows]) -> Result<Vec<NDArray>> {
        sources
            .iter()
            .map(|s| {
                let parts: Vec<(&NDArray, Rows)> =
                    parts.iter().map(|r| (&s.array, r.clone())).collect();
                gather_rows(&parts)
            })
            .collect()
    }

    fn index(&self, parts: &[Rows]) -> Vec<usize> {
        parts
            .iter()
            .flat_map(|r| match r {
                Rows::Range(r) => self.order[r.clone()].to_vec(),
                Rows::List(l) => l.iter().map(|&i| self.order[i]).collect(),
            })
            .collect()
    }

    /// The first `count` rows, starting over at the first when `count` exceeds the rows (MXNet
    /// tiles the data for a pad larger than it).
    fn wrapped_head(&self, count: usize) -> Rows {
        if count <= self.num_data {
            Rows::Range(0..count)
        } else {
            Rows::List((0..count).map(|i| i % self.num_data).collect())
        }
    }
}

impl DataIter for NDArrayIter {
    fn num_batches_hint(&self) -> Option<usize> {
        match self.last_batch_handle {
            LastBatchHandle::Pad => Some(self.num_data.div_ceil(self.batch_size)),
            LastBatchHandle::Discard => Some(self.num_data / self.batch_size),
            LastBatchHandle::RollOver => None,
        }
    }

    fn next_batch(&mut self) -> Result<Option<DataBatch>> {
        self.start()?;
        let (n, b) = (self.num_data as isize, self.batch_isize());
        self.cursor = self.cursor.saturating_add(b);
        let c = self.cursor;
        if c >= n {
            return Ok(None);
        }
        // First batch of an epoch after an incomplete one with `roll_over`: the rolled-over
        // rows, then the first of this epoch.
        if self.last_batch_handle == LastBatchHandle::RollOver && -b < c && c < 0 {
            let (cached_data, cached_label, cached_index) =
                self.cache.take().ok_or_else(|| Error::InvalidArgument {
                    call: "NDArrayIter::next_batch",
                    reason: "no rolled-over batch to complete (internal)".into(),
                })?;
            let head = [self.wrapped_head((c + b) as usize)];
            let join = |cached: &[NDArray], sources: &[Source]| -> Result<Vec<NDArray>> {
                cached
                    .iter()
                    .zip(sources)
                    .map(|(old, s)| {
                        gather_rows(&[
                            (old, Rows::Range(0..old.shape()[0])),
                            (&s.array, head[0].clone()),
                        ])
                    })
                    .collect()
            };
            let data = join(&cached_data, &self.data)?;
            let label = join(&cached_label, &self.label)?;
            let mut index = cached_index;
            index.extend(self.index(&head));
            return Ok(Some(DataBatch {
                data,
                label,
                pad: (-c) as usize,
                index: Some(index),
            }));
        }
        let start = c as usize;
        let end = (c + b).min(n) as usize;
        let (parts, pad) = if c + b > n {
            match self.last_batch_handle {
                LastBatchHandle::Pad => {
                    let pad = (c + b - n) as usize;
                    (vec![Rows::Range(start..end), self.wrapped_head(pad)], pad)
                }
                LastBatchHandle::Discard => return Ok(None),
                LastBatchHandle::RollOver => {
                    let rows = [Rows::Range(start..end)];
                    self.cache = Some((
                        Self::take(&self.data, &rows)?,
                        Self::take(&self.label, &rows)?,
                        self.index(&rows),
                    ));
                    return Ok(None);
                }
            }
        } else {
            (vec![Rows::Range(start..end)], 0)
        };
        Ok(Some(DataBatch {
            data: Self::take(&self.data, &parts)?,
            label: Self::take(&self.label, &parts)?,
            pad,
            index: Some(self.index(&parts)),
        }))
    }

    fn reset(&mut self) -> Result<()> {
        self.start()?;
        self.reset_epoch()
    }

    fn provide_data(&self) -> Vec<DataDesc> {
        describe(&self.data, self.batch_size)
    }

    fn provide_label(&self) -> Vec<DataDesc> {
        describe(&self.label, self.batch_size)
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }
}

fn describe(sources: &[Source], batch_size: usize) -> Vec<DataDesc> {
    sources
        .iter()
        .map(|s| {
            let mut shape = s.array.shape().to_vec();
            shape[0] = batch_size;
            DataDesc {
                name: s.name.clone(),
                shape,
                dtype: s.array.dtype(),
            }
        })
        .collect()
}

impl<'a> IntoIterator for &'a mut NDArrayIter {
    type Item = Result<DataBatch>;
    type IntoIter = Batches<'a, NDArrayIter>;

    fn into_iter(self) -> Self::IntoIter {
        Batches::new(self)
    }
}
