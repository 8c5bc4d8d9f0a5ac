//! Building a batch: rows of one or more arrays copied into a new array by one engine operation
//! (MXNet's `slice_axis`, `concat`, `tile` and `take` along the batch axis, fused).

use std::ops::Range;
use std::sync::Arc;

use mxr_engine::{Operation, Var};

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

    // What the operation needs of each source: its buffer, where the view starts, the rows.
    let sources = parts
        .iter()
        .map(|(src, rows)| {
            Ok((
                Arc::clone(src.chunk.host("io::gather_rows")?),
                src.byte_range().start,
                rows.clone(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let dst = Arc::clone(out.chunk.host("io::gather_rows")?);
    let dst_start = out.byte_range().start;
    let op = Operation::sync("io_gather_rows", move |_| {
        let mut dst = dst.write();
        let dst = &mut dst.as_bytes_mut()[dst_start..dst_start + total * row_bytes];
        let mut at = 0;
        for (data, start, rows) in &sources {
            let src = data.read();
            let src = &src.as_bytes()[*start..];
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
    });
    let reads: Vec<&Var> = parts.iter().map(|(src, _)| &src.chunk.var).collect();
    out.chunk.engine.push(
        op.reads(&reads)
            .writes(&[&out.chunk.var])
            .context(out.context()),
    )?;
    Ok(out)
}
