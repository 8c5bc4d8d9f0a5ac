//! MXNet's NDArray file format (`mx.nd.save` / `mx.nd.load`, `.params` files), read and written on a
//! neutral representation: [`RawArray`] (dtype, shape, context, raw bytes) and [`ParamsFile`] (a
//! list, or named arrays in file order).
//!
//! Layout (all little-endian, no padding; `shared/spec/ndarray_format.md`):
//!
//! ```text
//! u64 0x112 (list magic)   u64 0 (reserved)   u64 N
//! N records:  u32 0xF993FAC9 (V2)  i32 storage type (0 dense)  i32 ndim  i64 dims[ndim]
//!             [ndim 0 ends the record here]  i32 dev_type  i32 dev_id  i32 dtype flag  data
//! u64 K (0: a list, N: named)   K × (u64 byte length + UTF-8 bytes)
//! ```
//!
//! Decoding accepts exactly what MXNet 1.9.1 writes for dense arrays outside numpy-shape mode, so
//! that re-encoding a decoded file gives back its bytes (one exception: a cpu_shared context, see
//! [`decode_params`]). Everything else is an [`Error::Format`] naming the field and its byte offset.

use std::any::Any;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use mxr_engine::{Context, DeviceType};
use mxr_kernels::{DType, Element, f16};

use crate::{Error, Result};

/// The `format` of every decoding error.
const FORMAT: &str = "MXNet NDArray file";
/// The `format` of errors about an array built in memory.
const ARRAY: &str = "array";
const LIST_MAGIC: u64 = 0x112;
const V2_MAGIC: u32 = 0xF993_FAC9;
const V3_MAGIC: u32 = 0xF993_FACA;
const V1_MAGIC: u32 = 0xF993_FAC8;
/// The smallest record (magic, storage type, ndim 0): bounds the capacity reserved for a count.
const MIN_RECORD_BYTES: usize = 12;
/// MXNet's device code for shared-memory CPU arrays, which loads as a CPU context.
const CPU_SHARED: i32 = 5;

/// How much memory a loader may take for one input before it has checked it: at most
/// `max_expansion` bytes per input byte, or `min_budget` bytes for small inputs, whichever is
/// larger. The `.params` decoder ([`decode_params_with_limits`]) and the symbol JSON loader
/// ([`Symbol::from_json_with_limits`](crate::sym::Symbol::from_json_with_limits)) account for
/// what they build while parsing and stop with [`Error::Format`] at the limit, so a crafted
/// file (a count of 2⁶⁰ records, a million empty records, `[[[[…`) costs an error, not the
/// process's memory.
///
/// ```
/// use mxr::format::{LoadLimits, decode_params_with_limits};
/// // A file announcing 1000 "none" records of 12 bytes each: about 5 bytes of memory per byte.
/// let mut file = [0x112u64.to_le_bytes(), [0; 8], 1000u64.to_le_bytes()].concat();
/// for _ in 0..1000 {
///     file.extend(0xF993_FAC9u32.to_le_bytes());
///     file.extend([0; 8]);
/// }
/// file.extend([0; 8]);
/// let tight = LoadLimits { max_expansion: 2, min_budget: 0 };
/// let e = decode_params_with_limits(&file, "crafted", tight).unwrap_err();
/// assert!(e.to_string().contains("memory limit"), "{e}");
/// assert_eq!(decode_params_with_limits(&file, "crafted", LoadLimits::default())?.len(), 1000);
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Bytes of memory allowed per byte of input.
    pub max_expansion: usize,
    /// Bytes always allowed, whatever the input's size.
    pub min_budget: usize,
}

impl Default for LoadLimits {
    /// 64 bytes per input byte, at least 1 MiB: more than the densest valid inputs need (a
    /// `.params` file of empty records: 5.3 bytes per byte; a JSON list of one-digit numbers:
    /// about 5, counted as 8), while MXNet's own files need far less (a `.params` file decodes
    /// to its size).
    fn default() -> Self {
        LoadLimits {
            max_expansion: 64,
            min_budget: 1 << 20,
        }
    }
}

impl LoadLimits {
    /// The budget in bytes for an input of `len` bytes.
    pub fn budget(&self, len: usize) -> usize {
        len.saturating_mul(self.max_expansion).max(self.min_budget)
    }
}

/// One array as stored in a `.params` file: dtype, shape, context at save time, and the elements as
/// raw little-endian bytes in C (row-major) order.
///
/// The shape is MXNet 1.x's (legacy shape semantics): at least one dimension; a dimension may be 0
/// (a zero-size array, no data). The one array with an empty shape is [`RawArray::none`], MXNet's
/// "none" array, whose record in a file is its shape alone: it has no data, and its dtype and context
/// are not stored (they read back as float32 on `cpu(0)`).
///
/// ```
/// use mxr::format::RawArray;
/// let a = RawArray::from_slice(&[2, 2], &[1i32, 2, 3, 4])?;
/// assert_eq!((a.dtype(), a.shape(), a.len()), (mxr::DType::I32, &[2, 2][..], 4));
/// assert_eq!(a.to_vec::<i32>()?, [1, 2, 3, 4]);
/// assert!(a.to_vec::<f32>().is_err());
/// # Ok::<(), mxr::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawArray {
    dtype: DType,
    shape: Vec<usize>,
    context: Context,
    data: Vec<u8>,
}

impl RawArray {
    /// An array on `cpu(0)` from raw little-endian C-order bytes. Errors when `shape` is empty (use
    /// [`RawArray::none`]), a dimension exceeds `i64::MAX`, or `data` is not exactly
    /// `product(shape) × dtype.size()` bytes.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let fail = |reason: String| invalid_array("RawArray::new", reason);
        if shape.is_empty() {
            return Err(fail(
                "the shape is empty: MXNet 1.x cannot store 0-dim arrays (use shape [1]; \
                 RawArray::none() is the array without data)"
                    .into(),
            ));
        }
        if i32::try_from(shape.len()).is_err() || shape.iter().any(|&d| i64::try_from(d).is_err()) {
            return Err(fail(format!(
                "shape of {} dims does not fit the file format",
                shape.len()
            )));
        }
        match byte_len(dtype, &shape) {
            Some(n) if n == data.len() => Ok(RawArray {
                dtype,
                shape,
                context: Context::cpu(0),
                data,
            }),
            Some(n) => Err(fail(format!(
                "data is {} bytes, but shape {shape:?} of {dtype} needs {n}",
                data.len()
            ))),
            None => Err(fail(format!(
                "shape {shape:?} of {dtype} has more bytes than memory can hold"
            ))),
        }
    }

    /// An array on `cpu(0)` holding `values` in C order; errors as [`RawArray::new`].
    pub fn from_slice<T: Element>(shape: &[usize], values: &[T]) -> Result<Self> {
        RawArray::new(T::DTYPE, shape.to_vec(), le_bytes_of(values))
    }

    /// MXNet's "none" array (no shape, no data): the record a file holds for an array with ndim 0.
    pub fn none() -> Self {
        RawArray {
            dtype: DType::F32,
            shape: Vec::new(),
            context: Context::cpu(0),
            data: Vec::new(),
        }
    }

    /// The same array recorded as saved from `context`. Errors when the device index exceeds
    /// `i32::MAX`. A none array stores no context and stays on `cpu(0)`.
    pub fn with_context(mut self, context: Context) -> Result<Self> {
        if i32::try_from(context.device_id()).is_err() {
            return Err(invalid_array(
                "RawArray::with_context",
                format!("device index of {context} does not fit the file format"),
            ));
        }
        if !self.is_none() {
            self.context = context;
        }
        Ok(self)
    }

    /// The elements, copied out as `T`; errors when `T` is not the array's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(invalid_array(
                "RawArray::to_vec",
                format!("it holds {}, not {}", self.dtype, T::DTYPE),
            ));
        }
        Ok(values_from_le(&self.data))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape (empty only for the none array).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The context the array was saved from (`cpu(0)` for arrays built in memory).
    pub fn context(&self) -> Context {
        self.context
    }

    /// The raw little-endian C-order bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The raw bytes, without copying.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The number of elements (0 for a zero-size or the none array).
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Whether it is the none array (empty shape).
    pub fn is_none(&self) -> bool {
        self.shape.is_empty()
    }
}

/// A `.params` file's contents: a list, or named arrays in file order (MXNet loads those as a
/// dict; checkpoints name them `arg:<name>` / `aux:<name>`).
///
/// MXNet writes an empty dict like an empty list, so `Named(vec![])` reads back as `List(vec![])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsFile {
    /// Arrays without names (`mx.nd.save(f, [a, b])`).
    List(Vec<RawArray>),
    /// Named arrays (`mx.nd.save(f, {"a": a})`), in file order.
    Named(Vec<(String, RawArray)>),
}

impl ParamsFile {
    /// The number of arrays.
    pub fn len(&self) -> usize {
        match self {
            ParamsFile::List(arrays) => arrays.len(),
            ParamsFile::Named(entries) => entries.len(),
        }
    }

    /// Whether it holds no arrays.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes `file` byte for byte as MXNet 1.9.1's `mx.nd.save` would write the same arrays.
///
/// ```
/// use mxr::format::{decode_params, encode_params, ParamsFile, RawArray};
/// let w = RawArray::from_slice(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let m = RawArray::from_slice(&[1], &[7i64])?;
/// let file = ParamsFile::Named(vec![("arg:w".into(), w), ("aux:m".into(), m)]);
/// let bytes = encode_params(&file);
/// assert_eq!(bytes.len(), 162); // the annotated dump in the format's spec
/// assert_eq!(decode_params(&bytes, "memory")?, file);
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn encode_params(file: &ParamsFile) -> Vec<u8> {
    let (arrays, names): (Vec<&RawArray>, Vec<&str>) = match file {
        ParamsFile::List(arrays) => (arrays.iter().collect(), Vec::new()),
        ParamsFile::Named(entries) => entries.iter().map(|(k, a)| (a, k.as_str())).unzip(),
    };
    let size = 32
        + arrays
            .iter()
            .map(|a| 24 + 8 * a.shape.len() + a.data.len())
            .sum::<usize>()
        + names.iter().map(|k| 8 + k.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend(LIST_MAGIC.to_le_bytes());
    out.extend(0u64.to_le_bytes());
    out.extend(len_u64(arrays.len()).to_le_bytes());
    for array in arrays {
        encode_array(array, &mut out);
    }
    out.extend(len_u64(names.len()).to_le_bytes());
    for name in names {
        out.extend(len_u64(name.len()).to_le_bytes());
        out.extend(name.as_bytes());
    }
    out
}

fn encode_array(array: &RawArray, out: &mut Vec<u8>) {
    const CHECKED: &str = "RawArray's constructors check that ndim and dims fit";
    out.extend(V2_MAGIC.to_le_bytes());
    out.extend(0i32.to_le_bytes()); // dense storage
    out.extend(
        i32::try_from(array.shape.len())
            .expect(CHECKED)
            .to_le_bytes(),
    );
    for &dim in &array.shape {
        out.extend(i64::try_from(dim).expect(CHECKED).to_le_bytes());
    }
    if array.is_none() {
        return;
    }
    let dev_id = i32::try_from(array.context.device_id()).expect("with_context checks dev_id");
    out.extend(array.context.device_type().code().to_le_bytes());
    out.extend(dev_id.to_le_bytes());
    out.extend(array.dtype.flag().to_le_bytes());
    out.extend(&array.data);
}

/// Decodes a `.params` file's bytes; `source_name` (a path, or a description of the buffer) names
/// it in errors.
///
/// Accepted: V2 dense records of the seven [`DType`]s, ndim-0 records (as [`RawArray::none`]),
/// zero-size arrays, the saved context (cpu, gpu or cpu_pinned; MXNet's cpu_shared, code 5, loads
/// as `cpu(dev_id)` and so re-encodes as code 1), a list (no names) or one UTF-8 name per array. Errors name what was read and its byte offset: a wrong
/// file or record magic (V3 numpy-shape and legacy V0/V1 records are not supported), sparse storage,
/// an unknown dtype flag or device code, negative dims, a size beyond the input, a name count other
/// than 0 or N, invalid UTF-8, truncation, a non-zero reserved field, and bytes after the last name
/// (MXNet ignores those two, but its writer never produces them). Nothing is allocated beyond what
/// the input's length can justify.
pub fn decode_params(bytes: &[u8], source_name: &str) -> Result<ParamsFile> {
    decode_params_with_limits(bytes, source_name, LoadLimits::default())
}

/// [`decode_params`] with a memory budget other than [`LoadLimits::default`]: the arrays,
/// shapes, names and data it builds are accounted as they are read, and going over
/// [`LoadLimits::budget`] is an [`Error::Format`] naming the record.
pub fn decode_params_with_limits(
    bytes: &[u8],
    source_name: &str,
    limits: LoadLimits,
) -> Result<ParamsFile> {
    let mut r = Reader {
        bytes,
        pos: 0,
        source_name,
        scope: String::new(),
        budget: limits.budget(bytes.len()),
        used: 0,
        limits,
    };
    let magic = r.u64("file magic")?;
    if magic != LIST_MAGIC {
        return Err(r.error(format!(
            "file magic at offset 0 is {magic:#x}, expected {LIST_MAGIC:#x}: not an NDArray file"
        )));
    }
    let reserved = r.u64("reserved field")?;
    if reserved != 0 {
        return Err(r.error(format!(
            "reserved field at offset 8 is {reserved}, expected 0"
        )));
    }
    let count = r.u64("array count")?;
    let capacity = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(r.remaining() / MIN_RECORD_BYTES);
    r.charge(
        capacity.saturating_mul(size_of::<RawArray>()),
        "the array list",
    )?;
    let mut arrays = Vec::with_capacity(capacity);
    for index in 0..count {
        r.scope = format!("array {index} (record at offset {}): ", r.pos);
        if arrays.len() == arrays.capacity() {
            // Growing doubles the list; count the new capacity.
            r.charge(
                arrays.len().max(4).saturating_mul(size_of::<RawArray>()),
                "the array list",
            )?;
        }
        arrays.push(decode_array(&mut r)?);
    }
    r.scope.clear();
    let at = r.pos;
    let name_count = r.u64("name count")?;
    if name_count == 0 {
        r.finish()?;
        return Ok(ParamsFile::List(arrays));
    }
    if name_count != count {
        return Err(r.error(format!(
            "name count at offset {at} is {name_count}, but the file has {count} arrays (must be \
             0 or {count})"
        )));
    }
    r.charge(
        arrays.len() * size_of::<(String, RawArray)>(),
        "the named array list",
    )?;
    let mut entries = Vec::with_capacity(arrays.len());
    for (index, array) in arrays.into_iter().enumerate() {
        r.scope = format!("name {index} (at offset {}): ", r.pos);
        let len = r.u64("length")?;
        let name = r.take(len, "name")?;
        r.charge(name.len(), "the name")?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|e| r.error(format!("not valid UTF-8: {e}")))?;
        entries.push((name, array));
    }
    r.scope.clear();
    r.finish()?;
    Ok(ParamsFile::Named(entries))
}

/// One array record, with `r.scope` naming it.
fn decode_array(r: &mut Reader<'_>) -> Result<RawArray> {
    let fail =
        |r: &Reader<'_>, at: usize, what: String| Err(r.error(format!("{what} at offset {at}")));
    let at = r.pos;
    match r.u32("magic")? {
        V2_MAGIC => {}
        V3_MAGIC => {
            return fail(
                r,
                at,
                format!(
                    "magic {V3_MAGIC:#010X} (V3: saved under numpy shape semantics, not supported; \
                 save it from MXNet outside np_shape mode)"
                ),
            );
        }
        V1_MAGIC => {
            return fail(
                r,
                at,
                format!("magic {V1_MAGIC:#010X} (legacy V1, not supported)"),
            );
        }
        other => {
            return fail(
                r,
                at,
                format!(
                    "magic is {other:#010X}, expected {V2_MAGIC:#010X} (NDArray V2; legacy records \
                 without a magic are not supported)"
                ),
            );
        }
    }
    let at = r.pos;
    match r.i32("storage type")? {
        0 => {}
        1 => return fail(r, at, "storage type 1 (row_sparse, not supported)".into()),
        2 => return fail(r, at, "storage type 2 (csr, not supported)".into()),
        stype => return fail(r, at, format!("unknown storage type {stype}")),
    }
    let at = r.pos;
    let ndim = r.i32("ndim")?;
    let Ok(ndim) = u64::try_from(ndim) else {
        return fail(r, at, format!("negative ndim {ndim}"));
    };
    if ndim == 0 {
        return Ok(RawArray::none());
    }
    let dims_at = r.pos;
    let dims = r.take(ndim * 8, "dims")?;
    r.charge(dims.len(), "the shape")?;
    let mut shape = Vec::with_capacity(dims.len() / 8);
    for (k, dim) in dims.chunks_exact(8).enumerate() {
        let dim = i64::from_le_bytes(dim.try_into().expect("chunks_exact gives 8 bytes"));
        match usize::try_from(dim) {
            Ok(dim) => shape.push(dim),
            Err(_) => return fail(r, dims_at + 8 * k, format!("dim {k} is {dim}")),
        }
    }
    let at = r.pos;
    let code = r.i32("device type")?;
    let dev_type = match DeviceType::from_code(code) {
        Some(t) => t,
        None if code == CPU_SHARED => DeviceType::Cpu,
        None => return fail(r, at, format!("unknown device type {code}")),
    };
    let dev_id = r.i32("device id")?;
    let Ok(dev_id) = u32::try_from(dev_id) else {
        return fail(r, at + 4, format!("negative device id {dev_id}"));
    };
    let at = r.pos;
    let flag = r.i32("dtype flag")?;
    let Some(dtype) = DType::from_flag(flag) else {
        let known = match flag {
            7 => " (bool, not supported)",
            8..=12 => " (int16/uint16/uint32/uint64/bfloat16, not supported)",
            _ => "",
        };
        return fail(r, at, format!("unknown dtype flag {flag}{known}"));
    };
    let Some(size) = byte_len(dtype, &shape) else {
        let what = format!("the byte size of shape {shape:?} ({dtype}) overflows: dims");
        return fail(r, dims_at, what);
    };
    let data = r.take(len_u64(size), &format!("data of shape {shape:?} ({dtype})"))?;
    r.charge(data.len(), "the data")?;
    Ok(RawArray {
        dtype,
        shape,
        context: Context::new(dev_type, dev_id),
        data: data.to_vec(),
    })
}

/// Reads a `.params` file (see [`decode_params`]); errors name the path.
pub fn load_params(path: impl AsRef<Path>) -> Result<ParamsFile> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    decode_params(&bytes, &path.display().to_string())
}

/// Writes `file` to `path` as MXNet's `mx.nd.save` would (see [`encode_params`]), replacing it.
pub fn save_params(path: impl AsRef<Path>, file: &ParamsFile) -> Result<()> {
    let path = path.as_ref();
    fs::write(path, encode_params(file)).map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: Arc::new(e),
    }
}

fn invalid_array(source_name: &str, reason: String) -> Error {
    Error::Format {
        source_name: source_name.to_owned(),
        format: ARRAY,
        reason,
    }
}

/// `product(shape) × dtype.size()`, or `None` on overflow.
fn byte_len(dtype: DType, shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).expect("usize fits in u64 on supported targets")
}

/// A cursor over the input that turns running out of bytes into an error.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    source_name: &'a str,
    /// What is being read (`"array 3 (record at offset 200): "`), to prefix errors with.
    scope: String,
    /// The memory budget in bytes ([`LoadLimits::budget`]), and how much of it is used.
    budget: usize,
    used: usize,
    limits: LoadLimits,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: String) -> Error {
        Error::Format {
            source_name: self.source_name.to_owned(),
            format: FORMAT,
            reason: format!("{}{reason}", self.scope),
        }
    }

    /// Accounts `bytes` of memory for `what`; an error past the budget.
    fn charge(&mut self, bytes: usize, what: &str) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used <= self.budget {
            return Ok(());
        }
        Err(self.error(format!(
            "{what} at offset {} takes the decoded contents to {} bytes, past the memory limit \
             of {} bytes ({} × the input's {} bytes, at least {})",
            self.pos,
            self.used,
            self.budget,
            self.limits.max_expansion,
            self.bytes.len(),
            self.limits.min_budget
        )))
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes; `what` names them in the error when fewer remain.
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => {
                let out = &self.bytes[self.pos..self.pos + n];
                self.pos += n;
                Ok(out)
            }
            _ => Err(self.error(format!(
                "truncated: reading the {what} needs {n} bytes at offset {}, but only {} remain",
                self.pos,
                self.remaining()
            ))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(len_u64(N), what)?;
        Ok(bytes.try_into().expect("take returns N bytes"))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        self.array(what).map(i32::from_le_bytes)
    }

    /// Errors when bytes are left after the last name.
    fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format!(
                "{n} bytes follow the end of the contents at offset {}",
                self.pos
            ))),
        }
    }
}

const SEALED: &str = "Element is sealed: T::DTYPE names T";

/// The little-endian bytes of `values` (`Element` is sealed, so each dtype names one Rust type).
fn le_bytes_of<T: Element>(values: &[T]) -> Vec<u8> {
    fn bytes<U, const N: usize>(values: Vec<U>, f: fn(U) -> [u8; N]) -> Vec<u8> {
        values.into_iter().flat_map(f).collect()
    }
    let values: Box<dyn Any> = Box::new(values.to_vec());
    macro_rules! bytes_of {
        ($t:ty) => {
            bytes(
                *values.downcast::<Vec<$t>>().expect(SEALED),
                <$t>::to_le_bytes,
            )
        };
    }
    match T::DTYPE {
        DType::F32 => bytes_of!(f32),
        DType::F64 => bytes_of!(f64),
        DType::F16 => bytes_of!(f16),
        DType::U8 => bytes_of!(u8),
        DType::I32 => bytes_of!(i32),
        DType::I8 => bytes_of!(i8),
        DType::I64 => bytes_of!(i64),
    }
}

/// The values of little-endian `bytes` of `T::DTYPE` (a whole number of elements).
fn values_from_le<T: Element>(bytes: &[u8]) -> Vec<T> {
    fn values<U: 'static, const N: usize>(bytes: &[u8], f: fn([u8; N]) -> U) -> Box<dyn Any> {
        let chunk = |c: &[u8]| f(c.try_into().expect("chunks_exact gives N bytes"));
        Box::new(bytes.chunks_exact(N).map(chunk).collect::<Vec<U>>())
    }
    let values = match T::DTYPE {
        DType::F32 => values(bytes, f32::from_le_bytes),
        DType::F64 => values(bytes, f64::from_le_bytes),
        DType::F16 => values(bytes, f16::from_le_bytes),
        DType::U8 => values(bytes, u8::from_le_bytes),
        DType::I32 => values(bytes, i32::from_le_bytes),
        DType::I8 => values(bytes, i8::from_le_bytes),
        DType::I64 => values(bytes, i64::from_le_bytes),
    };
    *values.downcast::<Vec<T>>().expect(SEALED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: Error) -> String {
        match e {
            Error::Format { reason, .. } => reason,
            other => panic!("not a format error: {other}"),
        }
    }

    #[test]
    fn new_checks_the_data_length_and_the_shape() {
        let e = RawArray::new(DType::F32, vec![2, 3], vec![0; 5]).unwrap_err();
        assert!(reason(e).contains("data is 5 bytes, but shape [2, 3] of float32 needs 24"));
        let e = RawArray::new(DType::F32, vec![], vec![0; 4]).unwrap_err();
        assert!(reason(e).contains("0-dim"));
        let e = RawArray::new(DType::U8, vec![usize::MAX, 2], vec![]).unwrap_err();
        assert!(reason(e).contains("does not fit"));
        let e = RawArray::new(DType::F64, vec![1 << 62, 1 << 2], vec![]).unwrap_err();
        assert!(reason(e).contains("more bytes than memory"));
        let zero = RawArray::new(DType::I64, vec![0, 1 << 62], vec![]).unwrap();
        assert_eq!(
            (zero.len(), zero.is_empty(), zero.is_none()),
            (0, true, false)
        );
    }

    #[test]
    fn values_convert_for_every_dtype() {
        fn check<T: Element>(values: &[T]) {
            let a = RawArray::from_slice(&[values.len()], values).unwrap();
            assert_eq!(a.data().len(), values.len() * T::DTYPE.size());
            assert_eq!(a.to_vec::<T>().unwrap(), values);
        }
        check(&[1.5f32, -2.0]);
        check(&[1.5f64, -2.0]);
        check(&[f16::from_f32(1.5), f16::from_f32(-2.0)]);
        check(&[0u8, 255]);
        check(&[i32::MIN, i32::MAX]);
        check(&[i8::MIN, i8::MAX]);
        check(&[i64::MIN, i64::MAX]);
        let a = RawArray::from_slice(&[1], &[1.0f32]).unwrap();
        assert_eq!(a.data(), 1.0f32.to_le_bytes());
        assert!(reason(a.to_vec::<i32>().unwrap_err()).contains("holds float32, not int32"));
    }

    #[test]
    fn the_none_array_is_its_shape_alone() {
        let file = ParamsFile::List(vec![RawArray::none()]);
        let bytes = encode_params(&file);
        assert_eq!(bytes.len(), 24 + 12 + 8);
        assert_eq!(
            &bytes[24..36],
            [0xc9, 0xfa, 0x93, 0xf9, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(decode_params(&bytes, "m").unwrap(), file);
        let none = RawArray::none().with_context(Context::gpu(1)).unwrap();
        assert_eq!((none.context(), none.len()), (Context::cpu(0), 0));
    }

    #[test]
    fn errors_name_the_source_and_offset() {
        let e = decode_params(&[1, 2, 3], "x.params").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.params: invalid MXNet NDArray file: truncated: reading the file magic needs 8 bytes \
             at offset 0, but only 3 remain"
        );
        let big = Context::gpu(u32::MAX);
        let e = RawArray::from_slice(&[1], &[1u8])
            .unwrap()
            .with_context(big)
            .unwrap_err();
        assert!(e.to_string().contains("gpu(4294967295)"));
    }
}
