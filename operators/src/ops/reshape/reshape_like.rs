//! `reshape_like` (MXNet 1.9.1, `src/operator/tensor/elemwise_unary_op_basic.cc`): `lhs`'s
//! elements in a shape taken from `rhs`.
//!
//! The output's shape is `lhs.shape[..lhs_begin] + rhs.shape[rhs_begin..rhs_end] +
//! lhs.shape[lhs_end..]`, and must have `lhs`'s size. Each bound may be negative (counted from
//! the end) or None (0 for a begin, the rank for an end); after that a begin must be at least
//! 0, an end at most the rank, and a begin below its end, as MXNet checks. The output may
//! share `lhs`'s memory; `rhs` lends only its shape (its bytes are never read). The
//! gradient gives `lhs` the head gradient in `lhs`'s shape (`_backward_reshape` on
//! `[ograd, lhs]`, the computation of MXNet's `_backward_copy` there) and `rhs` none (MXNet:
//! `zeros_like`).

use std::sync::Arc;

use super::{ReshapeLike, ReshapeRule, reshape_sizes, total};
use crate::registry::{OpDef, OpRef, Shape, ShapeCtx};
use crate::{Result, params};

params! {
    /// Parameters of `reshape_like`.
    pub struct ReshapeLikeParam for "reshape_like" {
        /// The first axis of `lhs` to replace (negative counts from the end; None: 0).
        lhs_begin: Option<i64> = None,
        /// The axis of `lhs` after the last one replaced (negative counts from the end;
        /// None: the rank).
        lhs_end: Option<i64> = None,
        /// The first axis of `rhs` whose size is taken (negative counts from the end;
        /// None: 0).
        rhs_begin: Option<i64> = None,
        /// The axis of `rhs` after the last one taken (negative counts from the end;
        /// None: the rank).
        rhs_end: Option<i64> = None,
    }
}

/// The [`ReshapeRule`] of `reshape_like`: `lhs` reshaped to (part of) `rhs`'s shape.
#[derive(Debug, Clone)]
pub struct ReshapeAs(pub ReshapeLikeParam);

/// The axes `[begin, end)` of one side.
type AxisRange = (usize, usize);

/// `[begin, end)` of one side with `rank` axes, canonicalised as MXNet does; `side` is
/// `lhs` or `rhs`.
fn range(
    side: &str,
    (begin, end): (Option<i64>, Option<i64>),
    rank: usize,
) -> std::result::Result<AxisRange, String> {
    let r = rank as i64;
    let b = begin.map_or(0, |b| if b < 0 { b + r } else { b });
    let e = end.map_or(r, |e| if e < 0 { e + r } else { e });
    let shown = |v: Option<i64>| v.map_or_else(|| "None".to_string(), |v| v.to_string());
    let bounds = format!(
        "{side}_begin={}, {side}_end={} for a {rank}-D {side}",
        shown(begin),
        shown(end)
    );
    if e > r {
        return Err(format!("{bounds}: the end is past the last axis"));
    }
    if b < 0 {
        return Err(format!("{bounds}: the begin is before the first axis"));
    }
    if b >= e {
        return Err(format!(
            "{bounds}: the range is empty (begin must be below end)"
        ));
    }
    Ok((b as usize, e as usize))
}

impl ReshapeAs {
    /// The canonical ranges of `lhs` (rank `lr`) and `rhs` (rank `rr`).
    fn ranges(&self, lr: usize, rr: usize) -> std::result::Result<(AxisRange, AxisRange), String> {
        let p = &self.0;
        Ok((
            range("lhs", (p.lhs_begin, p.lhs_end), lr)?,
            range("rhs", (p.rhs_begin, p.rhs_end), rr)?,
        ))
    }
}

impl ReshapeRule for ReshapeAs {
    fn name(&self) -> &'static str {
        "reshape_like"
    }
    fn attrs(&self) -> Vec<(String, String)> {
        self.0.to_attrs()
    }
    fn input_names(&self) -> Vec<String> {
        vec!["lhs".into(), "rhs".into()]
    }
    fn infer_shape(&self, shapes: &mut ShapeCtx<'_>) -> Result<()> {
        let (Some(lhs), Some(rhs)) = (
            shapes.input(0).partial_dims().map(<[_]>::to_vec),
            shapes.input(1).partial_dims().map(<[_]>::to_vec),
        ) else {
            return reshape_sizes(shapes, 0, 0);
        };
        let ((lb, le), (rb, re)) = self
            .ranges(lhs.len(), rhs.len())
            .map_err(|r| shapes.error(r))?;
        let mut out = lhs[..lb].to_vec();
        out.extend_from_slice(&rhs[rb..re]);
        out.extend_from_slice(&lhs[le..]);
        if let (Some(a), Some(b)) = (total(&lhs), total(&out))
            && a != b
        {
            let reason = format!(
                "cannot reshape lhs {} to {} ({b} elements instead of {a})",
                shapes.input(0),
                Shape::partial(out)
            );
            return Err(shapes.error(reason));
        }
        shapes.set_output(0, Shape::partial(out))?;
        // Back from the output: the kept axes of lhs, the taken axes of rhs.
        if let Some(o) = shapes.output(0).partial_dims().map(<[_]>::to_vec) {
            let taken = re - rb;
            let mut l = o[..lb].to_vec();
            l.extend(lhs[lb..le].iter().copied());
            l.extend_from_slice(&o[lb + taken..]);
            shapes.set_input(0, Shape::partial(l))?;
            let mut r = rhs.clone();
            r[rb..re].copy_from_slice(&o[lb..lb + taken]);
            shapes.set_input(1, Shape::partial(r))?;
        }
        reshape_sizes(shapes, 0, 0)
    }
}

fn create_reshape_like(attrs: &[(&str, &str)]) -> Result<OpRef> {
    let param = ReshapeLikeParam::parse(attrs.iter().copied())?;
    Ok(Arc::new(ReshapeLike(ReshapeAs(param))))
}

inventory::submit! {
    OpDef::new("reshape_like", "Reshapes lhs to rhs's shape, or replaces lhs's axes [lhs_begin, lhs_end) by rhs's axes [rhs_begin, rhs_end).",
        ReshapeLikeParam::specs, create_reshape_like)
}
