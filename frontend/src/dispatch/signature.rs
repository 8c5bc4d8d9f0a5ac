//! Output shapes and dtypes of an imperative call: inference with the inputs (and any given
//! outputs) as constraints, and a per-thread cache so that a loop applying the same operators
//! to arrays of the same shapes infers once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mxr_kernels::DType;
use mxr_operators::registry::{OpRef, Shape, ShapeCtx, TypeCtx};
use smallvec::SmallVec;

use crate::nd::NDArray;
use crate::nd::ndarray::Dims;
use crate::{Error, Result};

/// The shapes and dtypes of an operator's outputs.
pub(crate) type Signature = Arc<[(Dims, DType)]>;

/// A remembered inference: the operator (kept alive, so its address is not reused), the input
/// shapes and dtypes, and the outputs.
struct CachedSignature {
    op: OpRef,
    inputs: SmallVec<[(Dims, DType); 4]>,
    outputs: Signature,
}

thread_local! {
    /// Output signatures by operator and input signature: a loop applying the same operators to
    /// arrays of the same shapes infers once.
    static SIGNATURES: RefCell<HashMap<u64, CachedSignature, KeyHasher>> =
        const { RefCell::new(HashMap::with_hasher(KeyHasher)) };
    /// The signatures used last (at most [`RECENT_SIGNATURES`], replaced in turn), checked before
    /// `SIGNATURES`: a loop of a few operators (W2's four) finds them without hashing.
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { entries: Vec::new(), next: 0 })
    };
}

/// Signatures kept in [`RECENT`].
const RECENT_SIGNATURES: usize = 8;

/// The recently used signatures, and the entry to replace next once full.
struct Recent {
    entries: Vec<CachedSignature>,
    next: usize,
}

impl CachedSignature {
    /// Whether this is the signature of `op` on inputs of these shapes and dtypes.
    fn matches(&self, op: &OpRef, inputs: &[&NDArray]) -> bool {
        Arc::ptr_eq(&self.op, op)
            && self.inputs.len() == inputs.len()
            && self
                .inputs
                .iter()
                .zip(inputs)
                .all(|((d, t), a)| d.as_slice() == a.shape() && *t == a.dtype())
    }
}

/// Remembers `entry` among the recent signatures.
fn remember_recent(entry: CachedSignature) {
    RECENT.with(|r| {
        let mut recent = r.borrow_mut();
        if recent.entries.len() < RECENT_SIGNATURES {
            recent.entries.push(entry);
        } else {
            let at = recent.next;
            recent.entries[at] = entry;
            recent.next = (at + 1) % RECENT_SIGNATURES;
        }
    });
}

/// FxHash's multiply-rotate mixing: the signature key only needs to spread small integers
/// (addresses, dimensions, dtype flags) and is checked for equality on a hit.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The signature map's hasher: its keys are already hashes.
#[derive(Clone, Copy, Default)]
struct KeyHasher;

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

/// Passes a `u64` key through unchanged.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn signature_key(op: &OpRef, inputs: &[&NDArray]) -> u64 {
    let mut h = FxHasher::default();
    (Arc::as_ptr(op) as *const () as usize).hash(&mut h);
    inputs.len().hash(&mut h);
    for a in inputs {
        a.shape().hash(&mut h);
        a.dtype().hash(&mut h);
    }
    h.finish()
}

pub(crate) fn cached_signature(op: &OpRef, inputs: &[&NDArray]) -> Result<Signature> {
    let recent = RECENT.with(|r| {
        r.borrow()
            .entries
            .iter()
            .find(|entry| entry.matches(op, inputs))
            .map(|entry| Arc::clone(&entry.outputs))
    });
    if let Some(signature) = recent {
        return Ok(signature);
    }
    let key = signature_key(op, inputs);
    let hit = SIGNATURES.with(|c| {
        c.borrow().get(&key).and_then(|entry| {
            entry
                .matches(op, inputs)
                .then(|| Arc::clone(&entry.outputs))
        })
    });
    let outputs = match hit {
        Some(signature) => signature,
        None => {
            let outputs: Signature = Arc::from(infer_signature(op, inputs, &[])?);
            SIGNATURES.with(|c| {
                let mut cache = c.borrow_mut();
                if cache.len() >= 1024 {
                    cache.clear();
                }
                cache.insert(key, CachedSignature::new(op, inputs, &outputs));
            });
            outputs
        }
    };
    remember_recent(CachedSignature::new(op, inputs, &outputs));
    Ok(outputs)
}

impl CachedSignature {
    fn new(op: &OpRef, inputs: &[&NDArray], outputs: &Signature) -> CachedSignature {
        CachedSignature {
            op: Arc::clone(op),
            inputs: inputs.iter().map(|a| (a.shape.clone(), a.dtype)).collect(),
            outputs: Arc::clone(outputs),
        }
    }
}

/// Runs shape and type inference with the inputs (and any given outputs) as constraints; every
/// output must come out known and the inputs unchanged.
pub(crate) fn infer_signature(
    op: &OpRef,
    inputs: &[&NDArray],
    given: &[NDArray],
) -> Result<Vec<(Dims, DType)>> {
    let name = op.name();
    let input_names = op.input_names();
    if inputs.len() != input_names.len() {
        return Err(mxr_operators::Error::InputCount {
            op: name.into(),
            expected: input_names.len(),
            names: input_names.join(", "),
            got: inputs.len(),
        }
        .into());
    }
    let num_outputs = op.num_outputs();
    if given.len() > num_outputs || (!given.is_empty() && given.len() < op.num_visible_outputs()) {
        return Err(Error::InvalidArgument {
            call: "nd::apply",
            reason: format!(
                "operator {name} has {} visible outputs ({num_outputs} in all); {} `out` arrays given",
                op.num_visible_outputs(),
                given.len()
            ),
        });
    }
    let mut in_shapes: Vec<Shape> = inputs.iter().map(|a| Shape::known(a.shape())).collect();
    let mut out_shapes: Vec<Shape> = (0..num_outputs)
        .map(|k| {
            given
                .get(k)
                .map_or_else(Shape::unknown, |a| Shape::known(a.shape()))
        })
        .collect();
    for _ in 0..2 {
        op.infer_shape(&mut ShapeCtx::new(
            name,
            &input_names,
            &mut in_shapes,
            &mut out_shapes,
        ))?;
    }
    let mut in_types: Vec<Option<DType>> = inputs.iter().map(|a| Some(a.dtype())).collect();
    let mut out_types: Vec<Option<DType>> = (0..num_outputs)
        .map(|k| given.get(k).map(NDArray::dtype))
        .collect();
    op.infer_type(&mut TypeCtx::new(
        name,
        &input_names,
        &mut in_types,
        &mut out_types,
    ))?;
    let describe_inputs = || {
        input_names
            .iter()
            .zip(inputs)
            .map(|(n, a)| format!("{n}={} {}", Shape::known(a.shape()), a.dtype()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, (shape, a)) in in_shapes.iter().zip(inputs).enumerate() {
        if shape.dims().as_deref() != Some(a.shape()) || in_types[i] != Some(a.dtype()) {
            return Err(mxr_operators::Error::Shape {
                op: name.into(),
                reason: format!(
                    "input `{}` must be {shape} of {}",
                    input_names[i],
                    in_types[i].map_or("?".into(), |d| d.to_string())
                ),
                inputs: describe_inputs(),
            }
            .into());
        }
    }
    let mut signature = Vec::with_capacity(num_outputs);
    for k in 0..num_outputs {
        let (Some(dims), Some(dtype)) = (out_shapes[k].dims(), out_types[k]) else {
            return Err(mxr_operators::Error::Shape {
                op: name.into(),
                reason: format!("cannot infer output {k} (known: {})", out_shapes[k]),
                inputs: describe_inputs(),
            }
            .into());
        };
        signature.push((Dims::from_vec(dims), dtype));
    }
    Ok(signature)
}
