//! Building a batch: rows of one or more arrays copied into a new array by one engine operation
//! (MXNet's `slice_axis`, `concat`, `tile` and `take` along the batch axis, fused).

use std::ops::Range;
use std::sync::Arc;

use crate::dispatch::host;
use crate::nd::NDArray;
use crate::{Error, Result};

/// Which rows of a source to copy, in order.
#[derive(Debug, Clone)]
pub(crate) enum Rows {
    /// Rows `start..end`.
    Range(Range<usize>),
    /// These rows (each `< rows of the source`).
    List(Arc<[usize]>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Range(r) => r.len(),
            Rows::List(l) => l.len(),
        }
    }

    fn max_end(&self) -> usize {
        match self {
            Rows::Range(r) => r.end,
            Rows::List(l) => l.iter().map(|&i| i + 1).max().unwrap_or(0),
        }
    }
}

/// A new array (on the first source's context) holding the chosen rows of each source, one
/// source after the other. The sources must agree in dtype and in every dimension but the first.
/// The copy is pushed to the engine: it reads the sources and writes the new array.
pub(crate) fn gather_rows(parts: &[(&NDArray, Rows)]) -> Result<NDArray> {
    let err = |reason: String| Error::InvalidArgument {
        call: "io::gather_rows",
        reason,
    };
    let (first, _) = parts.first().ok_or_else(|| err("no sources".into()))?;
    if first.ndim() == 0 {
        return Err(err("a 0-dimensional array has no rows".into()));
    }
    let row_shape = &first.shape()[1..];
    let dtype = first.dtype();
    let mut total = 0usize;
    for (src, rows) in parts {
        if src.ndim() == 0 || &src.shape()[1..] != row_shape || src.dtype() != dtype {
            return Err(err(format!(
                "rows of {:?} {} cannot join rows of {:?} {dtype}",
                src.shape(),
                src.dtype(),
                first.shape()
            )));
        }
        if rows.max_end() > src.shape()[0] {
            return Err(err(format!(
                "rows up to {} of an array with {} rows",
                rows.max_end(),
                src.shape()[0]
            )));
        }
        total += rows.len();
    }
    let mut shape = first.shape().to_vec();
    shape[0] = total;
    let out = NDArray::for_output(&shape, dtype, first.context())?;
    let row_bytes = row_shape.iter().product::<usize>() * dtype.size();

    // What the operation needs of each source: the rows.
    let rows: Vec<Rows> = parts.iter().map(|(_, rows)| rows.clone()).collect();
    let sources: Vec<&NDArray> = parts.iter().map(|(src, _)| *src).collect();
    host::push_host("io_gather_rows", &sources, &out, move |srcs, dst| {
        let dst = &mut dst[..total * row_bytes];
        let mut at = 0;
        for (src, rows) in srcs.iter().zip(&rows) {
            match rows {
                Rows::Range(r) => {
                    let n = r.len() * row_bytes;
                    dst[at..at + n].copy_from_slice(&src[r.start * row_bytes..r.end * row_bytes]);
                    at += n;
                }
                Rows::List(list) => {
                    for &i in list.iter() {
                        dst[at..at + row_bytes]
                            .copy_from_slice(&src[i * row_bytes..(i + 1) * row_bytes]);
                        at += row_bytes;
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}
