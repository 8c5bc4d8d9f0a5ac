//! Pooling: max and average over 1 to 3 spatial dimensions, and their global forms (MXNet's
//! `gluon/nn/conv_layers.py`, `_Pooling`; every one is named `pool<n>_`).

use crate::Result;
use crate::block::{BlockCore, HybridForward, single};
use crate::tensor::Tensor;

use super::{py_bool, py_tuple};

/// A pooling layer.
///
/// ```
/// use mxr::gluon::{Block, nn::Pool};
/// use mxr::nd::NDArray;
/// let pool = Pool::max(&[2, 2]);
/// let y = pool.call(&NDArray::ones(&[1, 3, 8, 8])?)?;
/// assert_eq!(y.shape(), &[1, 3, 4, 4]);
/// assert_eq!(Pool::global_avg(2).call(&y)?.shape(), &[1, 3, 1, 1]);
/// # Ok::<(), mxr::gluon::Error>(())
/// ```
#[derive(Debug)]
pub struct Pool {
    core: BlockCore,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    padding: Vec<usize>,
    ceil_mode: bool,
    global: bool,
    pool_type: &'static str,
    count_include_pad: Option<bool>,
}

/// 1-D max pooling (`Pool::max` with a 1-element window).
pub type MaxPool1D = Pool;
/// 2-D max pooling.
pub type MaxPool2D = Pool;
/// 1-D average pooling.
pub type AvgPool1D = Pool;
/// 2-D average pooling.
pub type AvgPool2D = Pool;
/// Global average pooling (`Pool::global_avg`).
pub type GlobalAvgPool2D = Pool;
/// Global max pooling (`Pool::global_max`).
pub type GlobalMaxPool2D = Pool;

impl Pool {
    fn make(
        kernel: &[usize],
        pool_type: &'static str,
        global: bool,
        include: Option<bool>,
    ) -> Pool {
        Pool {
            core: BlockCore::new("pool", None),
            kernel: kernel.to_vec(),
            strides: kernel.to_vec(),
            padding: vec![0; kernel.len()],
            ceil_mode: global,
            global,
            pool_type,
            count_include_pad: include,
        }
    }

    /// Max pooling over `pool_size` windows, strided by the window (Gluon's `MaxPool2D`).
    pub fn max(pool_size: &[usize]) -> Pool {
        Pool::make(pool_size, "max", false, None)
    }

    /// Average pooling, padding counted (Gluon's `AvgPool2D`).
    pub fn avg(pool_size: &[usize]) -> Pool {
        Pool::make(pool_size, "avg", false, Some(true))
    }

    /// Global max pooling over `ndim` spatial axes.
    pub fn global_max(ndim: usize) -> Pool {
        Pool::make(&vec![1; ndim], "max", true, None)
    }

    /// Global average pooling over `ndim` spatial axes.
    pub fn global_avg(ndim: usize) -> Pool {
        Pool::make(&vec![1; ndim], "avg", true, None)
    }

    /// The strides.
    pub fn strides(mut self, strides: &[usize]) -> Pool {
        self.strides = strides.to_vec();
        self
    }

    /// The padding.
    pub fn padding(mut self, padding: &[usize]) -> Pool {
        self.padding = padding.to_vec();
        self
    }

    /// Rounds output sizes up (`pooling_convention` `full`).
    pub fn ceil_mode(mut self, ceil: bool) -> Pool {
        self.ceil_mode = ceil;
        self
    }
}

impl HybridForward for Pool {
    fn core(&self) -> &BlockCore {
        &self.core
    }

    fn hybrid_forward<F: Tensor>(&self, inputs: &[F]) -> Result<Vec<F>> {
        let x = single(&self.core, inputs)?;
        let (kernel, stride) = (py_tuple(&self.kernel), py_tuple(&self.strides));
        let pad = py_tuple(&self.padding);
        let layout = match self.kernel.len() {
            1 => "NCW",
            3 => "NCDHW",
            _ => "NCHW",
        };
        let convention = if self.ceil_mode { "full" } else { "valid" };
        let mut attrs = vec![
            ("kernel", kernel.as_str()),
            ("stride", stride.as_str()),
            ("pad", pad.as_str()),
            ("global_pool", py_bool(self.global)),
            ("pool_type", self.pool_type),
            ("layout", layout),
            ("pooling_convention", convention),
        ];
        if let Some(include) = self.count_include_pad {
            attrs.push(("count_include_pad", py_bool(include)));
        }
        Ok(vec![F::invoke1("Pooling", Some("fwd"), &[x], &attrs)?])
    }
}
