//! `NDArray`: an asynchronous handle to an n-dimensional array in engine-managed storage.

use std::fmt;
use std::sync::Arc;

use mxr_engine::{Context, Engine, Operation};
use mxr_kernels::{DType, Element, f16};

use super::chunk::Chunk;

/// An array's dimensions: inline up to 4, so handles and views of common arrays never allocate.
pub(crate) type Dims = smallvec::SmallVec<[usize; 4]>;
use super::context::current_context;
use crate::{Error, Result};

/// An n-dimensional array, MXNet's `mx.nd.NDArray`.
///
/// A handle: `clone` shares the storage (like `b = a` in Python), [`NDArray::copy`] copies it.
/// Every operation is pushed to the engine and returns at once; reading values out
/// ([`NDArray::to_vec`] and friends) waits for the operations that write them. Views made by
/// [`NDArray::reshape`] and [`NDArray::slice`] share storage with their array.
///
/// ```
/// use mxr::nd::NDArray;
/// let a = NDArray::zeros(&[2, 3])?;
/// a.assign_scalar(2.0)?;                     // a[:] = 2
/// let row = a.slice(1, 2)?;                  // a view of the second row
/// row.assign_scalar(5.0)?;
/// assert_eq!(a.to_vec::<f32>()?, vec![2.0, 2.0, 2.0, 5.0, 5.0, 5.0]);
/// assert_eq!(a.reshape(&[3, -1])?.shape(), &[3, 2]);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Clone)]
pub struct NDArray {
    pub(crate) chunk: Arc<Chunk>,
    /// First element of this view in the chunk.
    pub(crate) offset: usize,
    pub(crate) shape: Dims,
    pub(crate) dtype: DType,
}

impl fmt::Debug for NDArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NDArray")
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .field("context", &self.chunk.context)
            .finish_non_exhaustive()
    }
}

fn engine() -> Result<&'static Engine> {
    Ok(Engine::global()?)
}

fn element_count(call: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| Error::InvalidArgument {
            call,
            reason: format!("shape {shape:?} has too many elements"),
        })
}

impl NDArray {
    /// A zero-filled array of `shape` and `dtype` on `context`. A GPU context that does not
    /// exist here (no driver, no such device) is an error saying why.
    pub fn new(shape: &[usize], dtype: DType, context: Context) -> Result<NDArray> {
        NDArray::fresh("NDArray::new", shape, dtype, context, true)
    }

    /// An array for an operator's output, or for host code that writes all of it (a data
    /// iterator's gathered batch): contents unspecified (initialized, not zeroed), since the
    /// writer overwrites every element. [`NDArray::new`] when it must start at zero.
    pub fn for_output(shape: &[usize], dtype: DType, context: Context) -> Result<NDArray> {
        NDArray::fresh("NDArray::for_output", shape, dtype, context, false)
    }

    /// An array on storage of its own, `zeroed` or not; an error from `call` for a shape too
    /// large.
    fn fresh(
        call: &'static str,
        shape: &[usize],
        dtype: DType,
        context: Context,
        zeroed: bool,
    ) -> Result<NDArray> {
        let len = element_count(call, shape)?;
        let bytes = len
            .checked_mul(dtype.size())
            .ok_or_else(|| Error::InvalidArgument {
                call,
                reason: format!("shape {shape:?} of {dtype} is too large"),
            })?;
        let chunk = Chunk::new(engine()?, context, bytes, zeroed)?;
        Ok(NDArray {
            chunk: Arc::new(chunk),
            offset: 0,
            shape: Dims::from_slice(shape),
            dtype,
        })
    }

    /// A view of the first bytes of this array's storage as another shape and dtype (the
    /// executor's planned buffers: one block, several entries over time). `None` if the view
    /// would not fit.
    pub(crate) fn reinterpret(&self, shape: &[usize], dtype: DType) -> Option<NDArray> {
        let bytes = shape.iter().product::<usize>().checked_mul(dtype.size())?;
        let start = self.byte_range().start;
        if !start.is_multiple_of(dtype.size()) || bytes > self.byte_range().len() {
            return None;
        }
        Some(NDArray {
            chunk: Arc::clone(&self.chunk),
            offset: start / dtype.size(),
            shape: Dims::from_slice(shape),
            dtype,
        })
    }

    /// A float32 array of zeros on the current default context ([`context_scope`](super::context_scope)).
    pub fn zeros(shape: &[usize]) -> Result<NDArray> {
        NDArray::new(shape, DType::F32, current_context())
    }

    /// A float32 array of zeros on `context`.
    pub fn zeros_on(shape: &[usize], context: Context) -> Result<NDArray> {
        NDArray::new(shape, DType::F32, context)
    }

    /// MXNet's `nd.empty`: a float32 array whose values are not to be relied on. mxr never exposes
    /// uninitialised memory; the values are in fact zeros.
    pub fn empty(shape: &[usize]) -> Result<NDArray> {
        NDArray::zeros(shape)
    }

    /// [`NDArray::empty`] on `context`.
    pub fn empty_on(shape: &[usize], context: Context) -> Result<NDArray> {
        NDArray::zeros_on(shape, context)
    }

    /// A float32 array of ones on the current default context.
    pub fn ones(shape: &[usize]) -> Result<NDArray> {
        NDArray::full(shape, 1.0)
    }

    /// A float32 array of ones on `context`.
    pub fn ones_on(shape: &[usize], context: Context) -> Result<NDArray> {
        NDArray::full_on(shape, 1.0, context)
    }

    /// A float32 array filled with `value` on the current default context.
    pub fn full(shape: &[usize], value: f64) -> Result<NDArray> {
        NDArray::full_on(shape, value, current_context())
    }

    /// A float32 array filled with `value` on `context`.
    pub fn full_on(shape: &[usize], value: f64, context: Context) -> Result<NDArray> {
        let a = NDArray::zeros_on(shape, context)?;
        a.assign_scalar(value)?;
        Ok(a)
    }

    /// MXNet's `nd.arange(start, stop, step)` in float32: `start, start + step, ...` below `stop`.
    pub fn arange(start: f64, stop: f64, step: f64) -> Result<NDArray> {
        if step == 0.0 || !(start.is_finite() && stop.is_finite() && step.is_finite()) {
            return Err(Error::InvalidArgument {
                call: "NDArray::arange",
                reason: format!(
                    "start {start}, stop {stop}, step {step}: need finite values and a non-zero step"
                ),
            });
        }
        let n = ((stop - start) / step).ceil().max(0.0) as usize;
        let values: Vec<f32> = (0..n).map(|i| (start + i as f64 * step) as f32).collect();
        NDArray::from_vec(&[n], values)
    }

    /// An array of `shape` holding `values` (row-major), on the current default context; its
    /// dtype is `T`'s.
    pub fn from_vec<T: Element>(shape: &[usize], values: Vec<T>) -> Result<NDArray> {
        let len = element_count("NDArray::from_vec", shape)?;
        if values.len() != len {
            return Err(Error::InvalidArgument {
                call: "NDArray::from_vec",
                reason: format!("shape {shape:?} holds {len} elements, got {}", values.len()),
            });
        }
        let a = NDArray::new(shape, T::DTYPE, current_context())?;
        a.write_region("from_vec", move |bytes| {
            bytes.copy_from_slice(bytemuck::cast_slice(&values));
        })?;
        Ok(a)
    }

    /// An array holding a copy of `array`, on the current default context.
    pub fn from_ndarray<T: Element>(array: &ndarray::ArrayD<T>) -> Result<NDArray> {
        let values: Vec<T> = array.iter().copied().collect(); // row-major, whatever the layout
        NDArray::from_vec(array.shape(), values)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Where the array lives.
    pub fn context(&self) -> Context {
        self.chunk.context
    }

    /// How many operations writing this array's storage have been pushed so far, run or not
    /// (the engine var's [`write_pushes`](mxr_engine::Var::write_pushes)): a cache derived
    /// from the array is stale when it changed since the cache was last rebuilt.
    ///
    /// ```
    /// use mxr::nd::NDArray;
    /// let a = NDArray::zeros(&[2])?;
    /// let before = a.write_pushes();
    /// a.assign_scalar(1.0)?;
    /// assert_eq!(a.write_pushes(), before + 1);
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn write_pushes(&self) -> u64 {
        self.chunk.var.write_pushes()
    }

    /// Whether `self` and `other` share storage (one is a view or a handle copy of the other).
    pub fn shares_storage_with(&self, other: &NDArray) -> bool {
        Arc::ptr_eq(&self.chunk, &other.chunk)
    }

    /// An identity of this view: its storage's address and first element. Two live handles
    /// with the same identity and shape are the same view (what an autograd recorder keys its
    /// entries by); an identity may be reused once every handle of the storage is dropped.
    ///
    /// ```
    /// use mxr::nd::NDArray;
    /// let a = NDArray::zeros(&[4])?;
    /// assert_eq!(a.view_id(), a.clone().view_id());
    /// assert_ne!(a.view_id(), a.slice(1, 2)?.view_id());
    /// # Ok::<(), mxr::Error>(())
    /// ```
    pub fn view_id(&self) -> (usize, usize) {
        (Arc::as_ptr(&self.chunk) as usize, self.offset)
    }

    /// The byte range of this view in its chunk.
    pub(crate) fn byte_range(&self) -> std::ops::Range<usize> {
        let size = self.dtype.size();
        self.offset * size..(self.offset + self.size()) * size
    }

    /// Pushes an operation that writes this view's bytes.
    fn write_region(
        &self,
        name: &'static str,
        f: impl FnOnce(&mut [u8]) + Send + 'static,
    ) -> Result<()> {
        if self.chunk.device().is_some() {
            return super::transfer::write_region(self, name, f);
        }
        let data = Arc::clone(self.chunk.host(name)?);
        let range = self.byte_range();
        let op = Operation::sync(name, move |_| {
            f(&mut data.write().as_bytes_mut()[range]);
            Ok(())
        });
        self.chunk
            .engine
            .push(op.writes(&[&self.chunk.var]).context(self.context()))?;
        Ok(())
    }

    /// Blocks until every pending write to this array's storage has finished; returns the error
    /// of a failed operation that produced it, if any.
    pub fn wait_to_read(&self) -> Result<()> {
        Ok(self.chunk.engine.wait_for_var(&self.chunk.var)?)
    }

    /// The values, row-major. Blocks until they are computed. `T` must be the array's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(Error::InvalidArgument {
                call: "NDArray::to_vec",
                reason: format!("the array holds {}, not {}", self.dtype, T::DTYPE),
            });
        }
        self.wait_to_read()?;
        if self.chunk.device().is_some() {
            let bytes = super::transfer::read_bytes(self)?;
            return Ok(bytes
                .chunks_exact(std::mem::size_of::<T>())
                .map(bytemuck::pod_read_unaligned)
                .collect());
        }
        let data = self.chunk.host("NDArray::to_vec")?.read();
        // Blocks are 64-byte aligned and views start at whole elements: the cast cannot fail.
        Ok(bytemuck::cast_slice::<u8, T>(&data.as_bytes()[self.byte_range()]).to_vec())
    }

    /// The values as an `ndarray::ArrayD`. Blocks until they are computed.
    pub fn to_ndarray<T: Element>(&self) -> Result<ndarray::ArrayD<T>> {
        let values = self.to_vec::<T>()?;
        ndarray::ArrayD::from_shape_vec(self.shape.to_vec(), values).map_err(|e| {
            Error::InvalidArgument {
                call: "NDArray::to_ndarray",
                reason: e.to_string(),
            }
        })
    }

    /// The single value of a one-element array. Blocks until it is computed.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        match self.to_vec::<T>()?.as_slice() {
            [v] => Ok(*v),
            values => Err(Error::InvalidArgument {
                call: "NDArray::to_scalar",
                reason: format!(
                    "the array has {} elements (shape {:?}), not 1",
                    values.len(),
                    self.shape
                ),
            }),
        }
    }

    /// A view with another shape of the same elements. One dimension may be -1, inferred from
    /// the others.
    pub fn reshape(&self, shape: &[isize]) -> Result<NDArray> {
        let err = |reason: String| Error::InvalidArgument {
            call: "NDArray::reshape",
            reason,
        };
        let size = self.size();
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let unknown = shape.iter().filter(|&&d| d == -1).count();
        if shape.iter().any(|&d| d < -1) || unknown > 1 {
            return Err(err(format!(
                "{shape:?}: dimensions must be >= 0, with at most one -1"
            )));
        }
        let new: Vec<usize> = shape
            .iter()
            .map(|&d| {
                if d == -1 {
                    size.checked_div(known).unwrap_or(0)
                } else {
                    d as usize
                }
            })
            .collect();
        if new.iter().product::<usize>() != size {
            return Err(err(format!(
                "cannot view shape {:?} ({size} elements) as {shape:?}",
                self.shape
            )));
        }
        Ok(NDArray {
            shape: new.into(),
            ..self.clone()
        })
    }

    /// A view of rows `begin..end` of the first axis (MXNet's `a[begin:end]`).
    pub fn slice(&self, begin: usize, end: usize) -> Result<NDArray> {
        let rows = *self.shape.first().ok_or_else(|| Error::InvalidArgument {
            call: "NDArray::slice",
            reason: "a 0-dimensional array has no first axis".into(),
        })?;
        if begin > end || end > rows {
            return Err(Error::InvalidArgument {
                call: "NDArray::slice",
                reason: format!(
                    "rows {begin}..{end} of an array with {rows} rows (shape {:?})",
                    self.shape
                ),
            });
        }
        let row: usize = self.shape[1..].iter().product();
        let mut shape = self.shape.clone();
        shape[0] = end - begin;
        Ok(NDArray {
            offset: self.offset + begin * row,
            shape,
            ..self.clone()
        })
    }

    /// A view of row `i` of the first axis, without that axis (MXNet's `a[i]`).
    pub fn at(&self, i: usize) -> Result<NDArray> {
        let row = self.slice(i, i + 1)?;
        Ok(NDArray {
            shape: Dims::from_slice(&self.shape[1..]),
            ..row
        })
    }

    /// Sets every element to `value` (MXNet's `a[:] = value`), converted to the dtype.
    pub fn assign_scalar(&self, value: f64) -> Result<()> {
        let dtype = self.dtype;
        self.write_region("assign_scalar", move |bytes| fill(bytes, dtype, value))
    }

    /// Copies `values` (row-major) into the array (MXNet's `a[:] = numpy_array`).
    pub fn assign_slice<T: Element>(&self, values: &[T]) -> Result<()> {
        if T::DTYPE != self.dtype || values.len() != self.size() {
            return Err(Error::InvalidArgument {
                call: "NDArray::assign_slice",
                reason: format!(
                    "{} values of {} into an array of {} {}",
                    values.len(),
                    T::DTYPE,
                    self.size(),
                    self.dtype
                ),
            });
        }
        let values = values.to_vec();
        self.write_region("assign_slice", move |bytes| {
            bytes.copy_from_slice(bytemuck::cast_slice(&values))
        })
    }

    /// Pushes a write of raw element bytes (exactly this view's byte length).
    pub(crate) fn assign_bytes(&self, bytes: Vec<u8>) -> Result<()> {
        if bytes.len() != self.byte_range().len() {
            return Err(Error::InvalidArgument {
                call: "NDArray::assign_bytes",
                reason: format!(
                    "{} bytes into a view of {} bytes",
                    bytes.len(),
                    self.byte_range().len()
                ),
            });
        }
        self.write_region("assign_bytes", move |dst| dst.copy_from_slice(&bytes))
    }

    /// The view's bytes as they are now (call after a wait).
    pub(crate) fn bytes_snapshot(&self) -> Result<Vec<u8>> {
        if self.chunk.device().is_some() {
            return super::transfer::read_bytes(self);
        }
        Ok(self.chunk.host("bytes_snapshot")?.read().as_bytes()[self.byte_range()].to_vec())
    }

    /// Copies `src`'s values into this array (MXNet's `a[:] = b`); shapes and dtypes must match.
    pub fn assign(&self, src: &NDArray) -> Result<()> {
        if src.shape != self.shape || src.dtype != self.dtype {
            return Err(Error::InvalidArgument {
                call: "NDArray::assign",
                reason: format!(
                    "cannot assign {:?} {} to {:?} {}",
                    src.shape, src.dtype, self.shape, self.dtype
                ),
            });
        }
        if self.chunk.device().is_some() || src.chunk.device().is_some() {
            return super::transfer::copy(src, self);
        }
        let (from, to) = (src.byte_range(), self.byte_range());
        let dst = Arc::clone(self.chunk.host("NDArray::assign")?);
        if self.shares_storage_with(src) {
            // One storage: one var (written) and one lock.
            let op = Operation::sync("copy_within", move |_| {
                dst.write().as_bytes_mut().copy_within(from, to.start);
                Ok(())
            });
            self.chunk
                .engine
                .push(op.writes(&[&self.chunk.var]).context(self.context()))?;
            return Ok(());
        }
        let source = Arc::clone(src.chunk.host("NDArray::assign")?);
        let op = Operation::sync("copy", move |_| {
            let source = source.read();
            dst.write().as_bytes_mut()[to].copy_from_slice(&source.as_bytes()[from]);
            Ok(())
        });
        self.chunk.engine.push(
            op.reads(&[&src.chunk.var])
                .writes(&[&self.chunk.var])
                .context(self.context()),
        )?;
        Ok(())
    }

    /// A new array with a copy of the values, on the same context.
    pub fn copy(&self) -> Result<NDArray> {
        self.copy_to(self.context())
    }

    /// A copy on `context` (MXNet's `copyto(ctx)`).
    pub fn copy_to(&self, context: Context) -> Result<NDArray> {
        let out = NDArray::new(&self.shape, self.dtype, context)?;
        out.assign(self)?;
        Ok(out)
    }

    /// This array if it is on `context` already, else a copy there (MXNet's `as_in_context`).
    pub fn as_in_context(&self, context: Context) -> Result<NDArray> {
        if context == self.context() {
            Ok(self.clone())
        } else {
            self.copy_to(context)
        }
    }
}

/// Fills `bytes` (whole elements of `dtype`) with `value` converted to the dtype.
fn fill(bytes: &mut [u8], dtype: DType, value: f64) {
    fn typed<T: Element>(bytes: &mut [u8], v: T) {
        bytemuck::cast_slice_mut::<u8, T>(bytes).fill(v);
    }
    match dtype {
        DType::F32 => typed(bytes, value as f32),
        DType::F64 => typed(bytes, value),
        DType::F16 => typed(bytes, f16::from_f64(value)),
        DType::U8 => typed(bytes, value as u8),
        DType::I8 => typed(bytes, value as i8),
        DType::I32 => typed(bytes, value as i32),
        DType::I64 => typed(bytes, value as i64),
    }
}

/// Blocks until every operation pushed so far has finished (MXNet's `nd.waitall`); returns the
/// first error nobody has observed yet.
pub fn waitall() -> Result<()> {
    Ok(engine()?.wait_all()?)
}
