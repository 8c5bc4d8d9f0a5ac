//! serde support: an `NDArray` serialises as its dtype name, shape and raw little-endian bytes
//! (mxr's counterpart of pickling an MXNet NDArray). Serialising waits for the value.

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{NDArray, current_context};
use mxr_kernels::DType;

#[derive(Serialize, Deserialize)]
struct Wire {
    dtype: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// ```
/// use mxr::nd::NDArray;
/// let a = NDArray::from_vec(&[2], vec![1.5f32, -2.0])?;
/// let json = serde_json::to_string(&a).unwrap();
/// let b: NDArray = serde_json::from_str(&json).unwrap();
/// assert_eq!(b.to_vec::<f32>()?, vec![1.5, -2.0]);
/// # Ok::<(), mxr::Error>(())
/// ```
impl Serialize for NDArray {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wait_to_read().map_err(S::Error::custom)?;
        let wire = Wire {
            dtype: self.dtype().name().to_owned(),
            shape: self.shape().to_vec(),
            data: self.bytes_snapshot().map_err(S::Error::custom)?,
        };
        wire.serialize(serializer)
    }
}

/// Creates the array on the current default context.
impl<'de> Deserialize<'de> for NDArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let dtype = DType::from_name(&wire.dtype)
            .ok_or_else(|| D::Error::custom(format!("unknown NDArray dtype {:?}", wire.dtype)))?;
        let array =
            NDArray::new(&wire.shape, dtype, current_context()).map_err(D::Error::custom)?;
        array.assign_bytes(wire.data).map_err(D::Error::custom)?;
        Ok(array)
    }
}
