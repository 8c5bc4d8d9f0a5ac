//! ONNX tensors (`TensorProto`) to and from host values and mxr arrays: the element types
//! both sides share, every storage form a file may use (`raw_data`, the typed repeated fields,
//! external data beside the model), sizes checked against dims.

use std::path::Path;

use mxr_frontend::DType;
use mxr_frontend::nd::NDArray;

use crate::error::{Error, Result};
use crate::proto::TensorProto;
use crate::proto::tensor_proto::{DataLocation, DataType};

/// A tensor's values on the host, in one of the element types mxr and ONNX share.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// `FLOAT`.
    F32(Vec<f32>),
    /// `DOUBLE`.
    F64(Vec<f64>),
    /// `INT64`.
    I64(Vec<i64>),
    /// `INT32`.
    I32(Vec<i32>),
    /// `UINT8`.
    U8(Vec<u8>),
    /// `INT8`.
    I8(Vec<i8>),
}

/// A decoded tensor: its dims and values (as many as the dims' product).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub(crate) dims: Vec<usize>,
    pub(crate) values: Values,
}

impl Values {
    /// The values at `indices`, in that order (each index in range).
    pub(crate) fn select(&self, indices: &[usize]) -> Values {
        fn pick<T: Copy>(v: &[T], indices: &[usize]) -> Vec<T> {
            indices.iter().map(|&i| v[i]).collect()
        }
        match self {
            Values::F32(v) => Values::F32(pick(v, indices)),
            Values::F64(v) => Values::F64(pick(v, indices)),
            Values::I64(v) => Values::I64(pick(v, indices)),
            Values::I32(v) => Values::I32(pick(v, indices)),
            Values::U8(v) => Values::U8(pick(v, indices)),
            Values::I8(v) => Values::I8(pick(v, indices)),
        }
    }

    /// The number of values.
    pub(crate) fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::U8(v) => v.len(),
            Values::I8(v) => v.len(),
        }
    }
}

impl Tensor {
    /// The values as integers (for attribute-carrying tensors: shapes, axes, pads); `None`
    /// for floating-point tensors.
    pub(crate) fn as_i64(&self) -> Option<Vec<i64>> {
        match &self.values {
            Values::I64(v) => Some(v.clone()),
            Values::I32(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            Values::U8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            Values::I8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            Values::F32(_) | Values::F64(_) => None,
        }
    }

    /// The values as `f64` (any element type).
    pub(crate) fn as_f64(&self) -> Vec<f64> {
        match &self.values {
            Values::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Values::F64(v) => v.clone(),
            // Attribute values (clip bounds, scalars): exact below 2^53.
            Values::I64(v) => v.iter().map(|&x| x as f64).collect(),
            Values::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Values::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Values::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        }
    }

    /// An mxr array holding the same dims and values (moved in).
    pub(crate) fn into_ndarray(self) -> Result<NDArray> {
        let d = &self.dims;
        Ok(match self.values {
            Values::F32(v) => NDArray::from_vec(d, v)?,
            Values::F64(v) => NDArray::from_vec(d, v)?,
            Values::I64(v) => NDArray::from_vec(d, v)?,
            Values::I32(v) => NDArray::from_vec(d, v)?,
            Values::U8(v) => NDArray::from_vec(d, v)?,
            Values::I8(v) => NDArray::from_vec(d, v)?,
        })
    }

    /// The values of an mxr array (copied to the host).
    pub(crate) fn from_ndarray(name: &str, array: &NDArray) -> Result<Tensor> {
        let values = match array.dtype() {
            DType::F32 => Values::F32(array.to_vec()?),
            DType::F64 => Values::F64(array.to_vec()?),
            DType::I64 => Values::I64(array.to_vec()?),
            DType::I32 => Values::I32(array.to_vec()?),
            DType::U8 => Values::U8(array.to_vec()?),
            DType::I8 => Values::I8(array.to_vec()?),
            other => {
                return Err(Error::Tensor {
                    name: name.to_owned(),
                    reason: format!("dtype {other} has no ONNX export in mxr"),
                });
            }
        };
        Ok(Tensor {
            dims: array.shape().to_vec(),
            values,
        })
    }

    /// The ONNX tensor, its data in `raw_data` (little-endian).
    pub(crate) fn to_proto(&self, name: &str) -> TensorProto {
        let (data_type, raw_data): (DataType, Vec<u8>) = match &self.values {
            Values::F32(v) => (DataType::Float, le_bytes(v, |x| x.to_le_bytes())),
            Values::F64(v) => (DataType::Double, le_bytes(v, |x| x.to_le_bytes())),
            Values::I64(v) => (DataType::Int64, le_bytes(v, |x| x.to_le_bytes())),
            Values::I32(v) => (DataType::Int32, le_bytes(v, |x| x.to_le_bytes())),
            Values::U8(v) => (DataType::Uint8, v.clone()),
            Values::I8(v) => (DataType::Int8, le_bytes(v, |x| x.to_le_bytes())),
        };
        TensorProto {
            name: Some(name.to_owned()),
            // Dims of an array in memory fit i64.
            dims: self.dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type as i32),
            raw_data: Some(raw_data),
            ..Default::default()
        }
    }
}

/// The product of `dims`, `None` when it overflows (dims after a zero may, as the tensor's own
/// element count does not).
pub(crate) fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

fn le_bytes<T: Copy, const N: usize>(values: &[T], bytes: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&x| bytes(x)).collect()
}

/// Decodes an ONNX tensor; `base` is the model's directory, where external data lives.
pub(crate) fn decode(t: &TensorProto, base: Option<&Path>) -> Result<Tensor> {
    let name = t.name().to_owned();
    let err = |reason: String| Error::Tensor {
        name: name.clone(),
        reason,
    };
    let mut dims = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        dims.push(usize::try_from(d).map_err(|_| err(format!("negative dim in {:?}", t.dims)))?);
    }
    let count = checked_product(&dims).ok_or_else(|| err(format!("dims {:?} overflow", t.dims)))?;
    if t.segment.is_some() {
        return Err(err("segmented tensors are not supported".into()));
    }
    let data_type = DataType::try_from(t.data_type.unwrap_or(0))
        .map_err(|_| err(format!("unknown data type {}", t.data_type.unwrap_or(0))))?;
    let external;
    let raw: Option<&[u8]> = if t.data_location() == DataLocation::External {
        external = read_external(t, base).map_err(err)?;
        Some(&external)
    } else {
        t.raw_data.as_deref()
    };
    let values = match raw {
        Some(bytes) => from_raw(data_type, bytes, count).map_err(err)?,
        None => from_fields(t, data_type).map_err(err)?,
    };
    if values.len() != count {
        return Err(err(format!(
            "{} values for dims {:?} ({count} elements)",
            values.len(),
            t.dims
        )));
    }
    Ok(Tensor { dims, values })
}

fn unsupported(data_type: DataType) -> String {
    format!(
        "data type {} is not supported (mxr reads FLOAT, DOUBLE, INT64, INT32, UINT8, INT8, BOOL as UINT8)",
        data_type.as_str_name()
    )
}

/// Values from little-endian bytes (`raw_data` or an external file).
fn from_raw(data_type: DataType, bytes: &[u8], count: usize) -> Result<Values, String> {
    /// The elements of `bytes`, whose length is a multiple of N (checked below).
    fn chunks<T, const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            // chunks_exact yields slices of exactly N bytes.
            .map(|c| f(c.try_into().expect("chunk of N bytes")))
            .collect()
    }
    let element = match data_type {
        DataType::Float | DataType::Int32 => 4,
        DataType::Double | DataType::Int64 => 8,
        DataType::Uint8 | DataType::Int8 | DataType::Bool => 1,
        other => return Err(unsupported(other)),
    };
    if bytes.len() != count.saturating_mul(element) {
        return Err(format!(
            "{} bytes of data for {count} elements of {} bytes",
            bytes.len(),
            element
        ));
    }
    Ok(match data_type {
        DataType::Float => Values::F32(chunks(bytes, f32::from_le_bytes)),
        DataType::Double => Values::F64(chunks(bytes, f64::from_le_bytes)),
        DataType::Int64 => Values::I64(chunks(bytes, i64::from_le_bytes)),
        DataType::Int32 => Values::I32(chunks(bytes, i32::from_le_bytes)),
        DataType::Uint8 => Values::U8(bytes.to_vec()),
        DataType::Bool => Values::U8(bytes.iter().map(|&b| u8::from(b != 0)).collect()),
        _ => Values::I8(chunks(bytes, i8::from_le_bytes)),
    })
}

/// Values from the typed repeated fields (`float_data`, `int64_data`, ...).
fn from_fields(t: &TensorProto, data_type: DataType) -> Result<Values, String> {
    let narrow = |what: &str| format!("an int32_data value does not fit {what}");
    Ok(match data_type {
        DataType::Float => Values::F32(t.float_data.clone()),
        DataType::Double => Values::F64(t.double_data.clone()),
        DataType::Int64 => Values::I64(t.int64_data.clone()),
        DataType::Int32 => Values::I32(t.int32_data.clone()),
        DataType::Bool => Values::U8(t.int32_data.iter().map(|&x| u8::from(x != 0)).collect()),
        DataType::Uint8 => Values::U8(
            t.int32_data
                .iter()
                .map(|&x| u8::try_from(x).map_err(|_| narrow("UINT8")))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Int8 => Values::I8(
            t.int32_data
                .iter()
                .map(|&x| i8::try_from(x).map_err(|_| narrow("INT8")))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(unsupported(other)),
    })
}

/// The bytes of external data: `location` relative to the model's directory, with optional
/// `offset` and `length`.
fn read_external(t: &TensorProto, base: Option<&Path>) -> Result<Vec<u8>, String> {
    let field = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key() == key)
            .map(|e| e.value().to_owned())
    };
    let location = field("location").ok_or("external data without a `location`")?;
    let relative = Path::new(&location);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "external data location {location:?} is not a path inside the model's directory"
        ));
    }
    let base = base.ok_or_else(|| {
        format!("external data in {location:?}, but the model was not read from a file")
    })?;
    let path = base.join(relative);
    let number = |key: &str| -> Result<Option<usize>, String> {
        field(key)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| format!("external data {key} {v:?} is not a byte count"))
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("cannot read external data {}: {e}", path.display()))?;
    let end = match number("length")? {
        Some(length) => offset.checked_add(length),
        None => Some(bytes.len()),
    };
    match end {
        Some(end) if offset <= end && end <= bytes.len() => Ok(bytes[offset..end].to_vec()),
        _ => Err(format!(
            "external data {}: offset {offset} and length beyond its {} bytes",
            path.display(),
            bytes.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(dims: &[i64], data_type: DataType) -> TensorProto {
        TensorProto {
            name: Some("t".into()),
            dims: dims.to_vec(),
            data_type: Some(data_type as i32),
            ..Default::default()
        }
    }

    #[test]
    fn every_storage_form_decodes() {
        let t = Tensor {
            dims: vec![2, 2],
            values: Values::F32(vec![1.0, -2.0, 3.5, 4.0]),
        };
        assert_eq!(decode(&t.to_proto("t"), None).unwrap(), t);
        let mut p = proto(&[3], DataType::Int64);
        p.int64_data = vec![1, 0, -1];
        assert_eq!(decode(&p, None).unwrap().as_i64(), Some(vec![1, 0, -1]));
        let mut p = proto(&[2], DataType::Uint8);
        p.int32_data = vec![7, 255];
        assert_eq!(decode(&p, None).unwrap().values, Values::U8(vec![7, 255]));
    }

    #[test]
    fn sizes_must_match_dims() {
        let mut p = proto(&[2, 3], DataType::Float);
        p.float_data = vec![1.0; 5];
        let e = decode(&p, None).unwrap_err().to_string();
        assert!(e.contains("5 values for dims [2, 3]"), "{e}");
        p.float_data.clear();
        p.raw_data = Some(vec![0; 23]);
        let e = decode(&p, None).unwrap_err().to_string();
        assert!(e.contains("23 bytes of data for 6 elements"), "{e}");
        let p = proto(&[-1], DataType::Float);
        assert!(decode(&p, None).is_err());
        let p = proto(&[i64::MAX, i64::MAX], DataType::Float);
        assert!(
            decode(&p, None)
                .unwrap_err()
                .to_string()
                .contains("overflow")
        );
        let p = proto(&[1], DataType::Bfloat16);
        assert!(
            decode(&p, None)
                .unwrap_err()
                .to_string()
                .contains("BFLOAT16")
        );
    }

    #[test]
    fn external_data_is_read_beside_the_model() {
        let dir = std::env::temp_dir().join(format!("mxr-onnx-ext-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = [9.0f32, 1.0, 2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(dir.join("w.bin"), &bytes).unwrap();
        let mut p = proto(&[2], DataType::Float);
        p.data_location = Some(DataLocation::External as i32);
        let entry = |k: &str, v: &str| crate::proto::StringStringEntryProto {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        p.external_data = vec![entry("location", "w.bin"), entry("offset", "4")];
        let t = decode(&p, Some(&dir)).unwrap();
        assert_eq!(t.values, Values::F32(vec![1.0, 2.0]));
        p.external_data[0] = entry("location", "../w.bin");
        assert!(decode(&p, Some(&dir)).is_err());
        p.external_data[0] = entry("location", "missing.bin");
        let e = decode(&p, Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("cannot read external data"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
