//! What every metric keeps (MXNet's `num_inst` / `sum_metric` and their global twins) and the
//! host-side helpers the metrics compute with.

use crate::nd::NDArray;
use crate::{DType, Error, Result};

/// Running sums of a metric: local (reset by `reset_local`) and global (reset by `reset`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Instances counted since the last reset (either kind).
    pub num_inst: u64,
    /// The metric summed over them.
    pub sum_metric: f64,
    /// Instances counted since the last full reset.
    pub global_num_inst: u64,
    /// The metric summed over them.
    pub global_sum_metric: f64,
}

impl Stats {
    /// Adds `sum` over `count` instances to both the local and the global sums.
    pub fn add(&mut self, sum: f64, count: u64) {
        self.sum_metric += sum;
        self.global_sum_metric += sum;
        self.num_inst += count;
        self.global_num_inst += count;
    }

    /// `sum_metric / num_inst`; NaN before any instance (MXNet's `get`).
    pub fn value(&self) -> f64 {
        if self.num_inst == 0 {
            f64::NAN
        } else {
            self.sum_metric / self.num_inst as f64
        }
    }

    /// The global mean; NaN before any instance (MXNet's `get_global`).
    pub fn global_value(&self) -> f64 {
        if self.global_num_inst == 0 {
            f64::NAN
        } else {
            self.global_sum_metric / self.global_num_inst as f64
        }
    }

    /// Clears everything.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// Clears the local sums.
    pub fn reset_local(&mut self) {
        self.num_inst = 0;
        self.sum_metric = 0.0;
    }
}

/// Checks that there are as many labels as predictions (MXNet's `check_label_shapes`).
pub(crate) fn check_lengths(labels: usize, preds: usize) -> Result<()> {
    if labels != preds {
        return Err(Error::InvalidArgument {
            call: "EvalMetric::update",
            reason: format!("shape of labels {labels} does not match shape of predictions {preds}"),
        });
    }
    Ok(())
}

/// The values of `a` as f64 (any dtype). Blocks until they are computed.
pub(crate) fn host(a: &NDArray) -> Result<Vec<f64>> {
    Ok(match a.dtype() {
        DType::F32 => a.to_vec::<f32>()?.into_iter().map(f64::from).collect(),
        DType::F64 => a.to_vec::<f64>()?,
        DType::F16 => a
            .to_vec::<mxr_kernels::f16>()?
            .into_iter()
            .map(|v| v.to_f64())
            .collect(),
        DType::U8 => a.to_vec::<u8>()?.into_iter().map(f64::from).collect(),
        DType::I8 => a.to_vec::<i8>()?.into_iter().map(f64::from).collect(),
        DType::I32 => a.to_vec::<i32>()?.into_iter().map(f64::from).collect(),
        DType::I64 => a.to_vec::<i64>()?.into_iter().map(|v| v as f64).collect(),
    })
}

/// numpy's `astype('int32')` of a float: truncation toward zero.
pub(crate) fn as_int(v: f64) -> i64 {
    v.trunc() as i64
}

/// `f(a, b)` element by element with numpy broadcasting; returns the values (row-major over
/// the broadcast shape).
pub(crate) fn broadcast(
    a: &[f64],
    a_shape: &[usize],
    b: &[f64],
    b_shape: &[usize],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Vec<f64>> {
    let ndim = a_shape.len().max(b_shape.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut p = vec![1; ndim - s.len()];
        p.extend_from_slice(s);
        p
    };
    let (sa, sb) = (pad(a_shape), pad(b_shape));
    let mut out_shape = Vec::with_capacity(ndim);
    for (&x, &y) in sa.iter().zip(&sb) {
        out_shape.push(match (x, y) {
            _ if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::InvalidArgument {
                    call: "EvalMetric::update",
                    reason: format!(
                        "labels of shape {a_shape:?} and predictions of shape {b_shape:?} \
                         cannot be broadcast together"
                    ),
                });
            }
        });
    }
    let strides = |s: &[usize]| -> Vec<usize> {
        let mut st = vec![0; ndim];
        let mut acc = 1;
        for i in (0..ndim).rev() {
            st[i] = if s[i] == 1 { 0 } else { acc };
            acc *= s[i];
        }
        st
    };
    let (ta, tb) = (strides(&sa), strides(&sb));
    let total: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut index = vec![0usize; ndim];
    for _ in 0..total {
        let ia: usize = index.iter().zip(&ta).map(|(i, s)| i * s).sum();
        let ib: usize = index.iter().zip(&tb).map(|(i, s)| i * s).sum();
        out.push(f(a[ia], b[ib]));
        for d in (0..ndim).rev() {
            index[d] += 1;
            if index[d] < out_shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(out)
}
