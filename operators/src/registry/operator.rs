//! The operator description: what every frontend asks of an operator.

use std::fmt;
use std::sync::Arc;

use mxr_engine::{Context, DeviceType};
use mxr_kernels::cpu::random::Rng;

use super::gpu::{GpuCall, GpuOpContext, GpuTensor};
use super::gradient::{Entry, GradCtx};
use super::shape::{ShapeCtx, TypeCtx};
use super::tensor::{TensorMut, TensorRef};
use crate::{Error, Result};

/// A resource an operator asks for (MXNet's `FResourceRequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Scratch memory for the duration of the kernel. CPU kernels allocate it themselves; the
    /// request tells the memory planner and GPU backends.
    TempSpace,
    /// The device's random-number state. It is guarded by its own engine var, which the
    /// operation writes, so random operators are ordered and reproducible from a seed.
    Random,
}

/// What a kernel gets besides its tensors (MXNet's `OpContext`).
#[derive(Debug)]
pub struct OpContext<'a> {
    /// Training mode: dropout active, BatchNorm on batch statistics.
    pub is_train: bool,
    /// The device the kernel runs on.
    pub context: Context,
    /// The random state, present when the operator requested [`Resource::Random`].
    pub rng: Option<&'a mut Rng>,
    /// Which outputs anyone reads (MXNet's `kNullOp` requests), when the caller knows: a kernel
    /// may skip computing an output marked `false` (its contents are then unspecified).
    /// `None`: every output is needed.
    pub needed: Option<&'a [bool]>,
}

impl<'a> OpContext<'a> {
    /// A context for a kernel on `context`, every output needed, no random state.
    pub fn new(is_train: bool, context: Context) -> OpContext<'a> {
        OpContext {
            is_train,
            context,
            rng: None,
            needed: None,
        }
    }

    /// Whether output `k` must be computed.
    pub fn output_needed(&self, k: usize) -> bool {
        self.needed
            .is_none_or(|m| m.get(k).copied().unwrap_or(true))
    }
}

impl OpContext<'_> {
    /// The random state; an error naming `op` when it was not requested.
    pub fn rng(&mut self, op: &str) -> Result<&mut Rng> {
        self.rng.as_deref_mut().ok_or_else(|| Error::Unsupported {
            op: op.to_string(),
            what: "random numbers without requesting Resource::Random".into(),
        })
    }
}

/// One call of a CPU kernel ([`Operator::forward`]): the context and the tensors, by name.
///
/// A kernel takes the parts it uses (`call.inputs`, `call.outputs`), and a part added later
/// (MXNet's per-output write requests, say) reaches every kernel without changing its signature.
#[derive(Debug)]
pub struct Call<'c, 'a, 't> {
    /// What the kernel gets besides its tensors.
    pub ctx: &'c mut OpContext<'a>,
    /// One view per input.
    pub inputs: &'c [TensorRef<'t>],
    /// One view per output, then one per mutated input (the contract of [`Operator`]).
    pub outputs: &'c mut [TensorMut<'t>],
}

impl<'c, 'a, 't> Call<'c, 'a, 't> {
    /// The call of a kernel with `ctx` on `inputs`, writing `outputs`.
    pub fn new(
        ctx: &'c mut OpContext<'a>,
        inputs: &'c [TensorRef<'t>],
        outputs: &'c mut [TensorMut<'t>],
    ) -> Self {
        Call {
            ctx,
            inputs,
            outputs,
        }
    }
}

/// One operator with its parameters parsed: MXNet's `NodeAttrs` plus the op's attribute
/// functions (`FListInputNames`, `FInferShape`, `FCompute<cpu>`, `FGradient`, ...).
///
/// Kernel contract ([`Operator::forward`]): `inputs` has one view per input; `outputs` has one
/// view per output (hidden ones included), followed by one view per mutated input (in
/// [`Operator::mutate_inputs`] order) whose bytes start as that input's current value. The kernel
/// overwrites every output; the caller handles MXNet's `kAddTo` and in-place aliasing. Shapes
/// have been inferred and checked before the kernel runs.
pub trait Operator: std::any::Any + Send + Sync + fmt::Debug + 'static {
    /// The canonical MXNet name (`FullyConnected`, `_plus_scalar`).
    fn name(&self) -> &'static str;

    /// The parameters in MXNet's string form: required ones and those differing from their
    /// defaults (what symbol JSON stores).
    fn attrs(&self) -> Vec<(String, String)>;

    /// Input names in order (`data`, `weight`, `bias`).
    fn input_names(&self) -> Vec<String> {
        vec!["data".into()]
    }

    /// The number of inputs.
    fn num_inputs(&self) -> usize {
        self.input_names().len()
    }

    /// Output names (`output`, or `output0`.. for several).
    fn output_names(&self) -> Vec<String> {
        match self.num_outputs() {
            1 => vec!["output".into()],
            n => (0..n).map(|i| format!("output{i}")).collect(),
        }
    }

    /// The number of outputs, hidden ones included.
    fn num_outputs(&self) -> usize {
        1
    }

    /// Outputs past this count are hidden from users (Dropout's mask, BatchNorm's mean/var).
    fn num_visible_outputs(&self) -> usize {
        self.num_outputs()
    }

    /// Inputs the operator writes (auxiliary states such as BatchNorm's moving statistics).
    fn mutate_inputs(&self) -> Vec<usize> {
        Vec::new()
    }

    /// Fills in unknown input and output shapes from known ones, in both directions; an error on
    /// a conflict.
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()>;

    /// Fills in unknown dtypes; by default every input and output shares one dtype.
    fn infer_type(&self, types: &mut TypeCtx<'_>) -> Result<()> {
        types.all_same()
    }

    /// The operator's GPU kernel, when it has one: an operator implementing [`GpuForward`]
    /// returns `Some(self)`. `devices()`, `has_gpu()` and `forward_gpu()` (methods of
    /// `dyn Operator`, the same for every operator) follow from it.
    fn gpu(&self) -> Option<&dyn GpuForward> {
        None
    }

    /// Computes the outputs (see the trait docs for the contract). A kernel takes the parts of
    /// the call it uses: `let (inputs, outputs) = (call.inputs, call.outputs);`.
    fn forward(&self, call: Call<'_, '_, '_>) -> Result<()>;

    /// Whether [`Operator::forward_inplace`] is implemented. Such an operator promises that its
    /// one output has its one input's shape and dtype, needs no resources and mutates no input,
    /// so an in-place call (`a += 1`) can skip shape inference.
    fn is_inplace_unary(&self) -> bool {
        false
    }

    /// For one-input, one-output operators that can overwrite their input: computes in place
    /// on `data` and returns `Some`; `None` (the default) when not supported.
    fn forward_inplace(
        &self,
        _ctx: &mut OpContext<'_>,
        _data: &mut TensorMut<'_>,
    ) -> Option<Result<()>> {
        None
    }

    /// Builds the gradient as further graph nodes: one entry per input (`None` where no gradient
    /// flows: labels, indices, auxiliary states).
    fn gradient(&self, grad: &mut GradCtx<'_>) -> Result<Vec<Option<Entry>>> {
        let _ = grad;
        Err(Error::Unsupported {
            op: self.name().to_string(),
            what: "a gradient".into(),
        })
    }

    /// A loss layer ignores its head gradient (SoftmaxOutput, *RegressionOutput, MakeLoss).
    fn is_loss(&self) -> bool {
        false
    }

    /// `(input, output)` pairs whose memory the output may reuse (`FInplaceOption`).
    fn inplace_option(&self) -> Vec<(usize, usize)> {
        Vec::new()
    }

    /// Whether the in-place pairs are identities (reshape-like: output bytes == input bytes).
    fn inplace_identity(&self) -> bool {
        false
    }

    /// Inputs whose data the kernel never reads (`FIgnoreInputs`), e.g. `zeros_like`.
    fn ignore_inputs(&self) -> Vec<usize> {
        Vec::new()
    }

    /// Resources the kernel needs.
    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }
}

/// An operator's GPU kernel (MXNet's `FCompute<gpu>`). An operator with one implements this
/// trait and returns `Some(self)` from [`Operator::gpu`].
pub trait GpuForward {
    /// Queues the GPU kernel on the device's compute stream: the contract of
    /// [`Operator::forward`] with device views. The caller copies inputs that share memory with
    /// an output first, so a kernel may assume its inputs and outputs do not alias (except
    /// through [`Operator::inplace_option`] pairs, which it must then support).
    fn forward_gpu(&self, call: GpuCall<'_, '_, '_>) -> Result<()>;
}

/// What follows from [`Operator::gpu`], for every operator alike.
impl dyn Operator {
    /// The devices with a kernel: the CPU, and the GPU when the operator has a GPU kernel.
    ///
    /// ```
    /// use mxr_engine::DeviceType;
    /// use mxr_operators::registry::create;
    /// let relu = create("relu", &[], None)?;
    /// assert!(relu.has_gpu());
    /// assert_eq!(relu.devices(), &[DeviceType::Cpu, DeviceType::Gpu]);
    /// # Ok::<(), mxr_operators::Error>(())
    /// ```
    pub fn devices(&self) -> &'static [DeviceType] {
        if self.has_gpu() {
            &[DeviceType::Cpu, DeviceType::Gpu]
        } else {
            &[DeviceType::Cpu]
        }
    }

    /// Whether the operator has a GPU kernel ([`Operator::gpu`]).
    pub fn has_gpu(&self) -> bool {
        self.gpu().is_some()
    }

    /// Queues the GPU kernel ([`GpuForward::forward_gpu`]); an error saying the operator has
    /// no GPU kernel when it has none.
    pub fn forward_gpu(
        &self,
        ctx: &mut GpuOpContext<'_>,
        inputs: &[GpuTensor<'_>],
        outputs: &[GpuTensor<'_>],
    ) -> Result<()> {
        match self.gpu() {
            Some(kernel) => kernel.forward_gpu(GpuCall::new(ctx, inputs, outputs)),
            None => Err(Error::Unsupported {
                op: self.name().to_string(),
                what: "a GPU kernel (it runs on the CPU only)".into(),
            }),
        }
    }
}

/// A shared, parsed operator.
pub type OpRef = Arc<dyn Operator>;

/// The concrete operator behind `op`, when it is a `T` (graph passes use it to read an
/// operator's parsed parameters).
///
/// ```
/// use mxr_operators::ops::convolution::Convolution;
/// use mxr_operators::registry::{create, downcast};
/// let op = create("Convolution", &[("kernel", "(3, 3)"), ("num_filter", "8")], None)?;
/// assert_eq!(downcast::<Convolution>(&op).map(|c| c.0.param.num_filter), Some(8));
/// assert!(downcast::<Convolution>(&create("relu", &[], None)?).is_none());
/// # Ok::<(), mxr_operators::Error>(())
/// ```
pub fn downcast<T: Operator>(op: &OpRef) -> Option<&T> {
    let any: &dyn std::any::Any = op.as_ref();
    any.downcast_ref::<T>()
}
