//! The LeakyReLU family (`leaky`, `elu`, `selu`, `gelu`, PReLU, RReLU) and their gradients.

use super::{Num, erf, map, map_inplace, zip_map};

/// SELU's α.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;
/// SELU's λ.
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;

/// A `LeakyReLU` activation without a learned or random slope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LeakyAct {
    /// `x > 0 ? x : slope·x`.
    Leaky {
        /// The slope for negative inputs.
        slope: f64,
    },
    /// `x > 0 ? x : slope·(eˣ − 1)`.
    Elu {
        /// The scale of the negative part.
        slope: f64,
    },
    /// `λ·(x > 0 ? x : α·(eˣ − 1))`.
    Selu,
    /// `x·Φ(x) = 0.5·x·(1 + erf(x/√2))`.
    Gelu,
}

#[inline(always)]
fn gelu<T: Num>(v: T) -> T {
    let x = v.to_f64();
    T::from_f64(0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2)))
}

#[inline(always)]
fn gelu_grad(x: f64) -> f64 {
    // Φ(x) + x·φ(x)
    let pdf = (-0.5 * x * x).exp()
        * (0.5 * std::f64::consts::FRAC_2_SQRT_PI)
        * std::f64::consts::FRAC_1_SQRT_2;
    0.5 * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2)) + x * pdf
}

/// `out = act(x)`.
pub fn leaky<T: Num>(act: LeakyAct, x: &[T], out: &mut [T]) {
    match act {
        LeakyAct::Leaky { slope } => {
            let a = T::from_f64(slope);
            map(x, out, move |v| if v > T::ZERO { v } else { a.times(v) });
        }
        LeakyAct::Elu { slope } => {
            let a = T::from_f64(slope);
            map(
                x,
                out,
                |v| if v > T::ZERO { v } else { a.times(v.exp_m1()) },
            );
        }
        LeakyAct::Selu => {
            let l = T::from_f64(SELU_LAMBDA);
            let la = T::from_f64(SELU_LAMBDA * SELU_ALPHA);
            map(x, out, move |v| {
                if v > T::ZERO {
                    l.times(v)
                } else {
                    la.times(v.exp_m1())
                }
            });
        }
        LeakyAct::Gelu => map(x, out, gelu),
    }
}

/// [`leaky`] in place.
pub fn leaky_inplace<T: Num>(act: LeakyAct, data: &mut [T]) {
    match act {
        LeakyAct::Leaky { slope } => {
            let a = T::from_f64(slope);
            map_inplace(data, move |v| if v > T::ZERO { v } else { a.times(v) });
        }
        LeakyAct::Elu { slope } => {
            let a = T::from_f64(slope);
            map_inplace(
                data,
                move |v| if v > T::ZERO { v } else { a.times(v.exp_m1()) },
            );
        }
        LeakyAct::Selu => {
            let l = T::from_f64(SELU_LAMBDA);
            let la = T::from_f64(SELU_LAMBDA * SELU_ALPHA);
            map_inplace(data, move |v| {
                if v > T::ZERO {
                    l.times(v)
                } else {
                    la.times(v.exp_m1())
                }
            });
        }
        LeakyAct::Gelu => map_inplace(data, gelu),
    }
}

/// `_backward_LeakyReLU` for [`LeakyAct`]: `out = g·act'(x)`, computed as MXNet does from the
/// output `y` (leaky: `y > 0 ? 1 : slope`; elu: `y > 0 ? 1 : y + slope`; selu:
/// `y > 0 ? λ : λ·(y + α)`) or from the input `x` (gelu).
///
/// SELU keeps MXNet 1.9.1's formula, which for `x ≤ 0` gives `λ·(y + α) = λα·(λ·eˣ − λ + 1)`
/// instead of the exact derivative `λα·eˣ` (at `x = −2` MXNet's gradient is 0.1609 where the
/// derivative is 0.2379): results match MXNet's.
pub fn leaky_backward<T: Num>(act: LeakyAct, g: &[T], x: &[T], y: &[T], out: &mut [T]) {
    match act {
        LeakyAct::Leaky { slope } => {
            let a = T::from_f64(slope);
            zip_map(
                g,
                y,
                out,
                |gv, yv| if yv > T::ZERO { gv } else { gv.times(a) },
            );
        }
        LeakyAct::Elu { slope } => {
            let a = T::from_f64(slope);
            zip_map(g, y, out, move |gv, yv| {
                if yv > T::ZERO {
                    gv
                } else {
                    gv.times(yv.plus(a))
                }
            });
        }
        LeakyAct::Selu => {
            // MXNet's formula, λ·(y + α) for y ≤ 0; the exact derivative would be y + λα.
            let l = T::from_f64(SELU_LAMBDA);
            let a = T::from_f64(SELU_ALPHA);
            zip_map(g, y, out, move |gv, yv| {
                gv.times(if yv > T::ZERO { l } else { l.times(yv.plus(a)) })
            });
        }
        LeakyAct::Gelu => {
            zip_map(g, x, out, move |gv, xv| {
                gv.times(T::from_f64(gelu_grad(xv.to_f64())))
            });
        }
    }
}

/// PReLU: `x` viewed as `(outer, gamma.len(), inner)`; `out = x > 0 ? x : gamma[c]·x`.
pub fn prelu<T: Num>(x: &[T], gamma: &[T], inner: usize, out: &mut [T]) {
    let inner = inner.max(1);
    let channels = gamma.len().max(1);
    let blocks = out.chunks_mut(inner).zip(x.chunks(inner));
    for (k, (o, xs)) in blocks.enumerate() {
        let a = gamma.get(k % channels).copied().unwrap_or(T::ZERO);
        map(xs, o, move |v| if v > T::ZERO { v } else { a.times(v) });
    }
}

/// The PReLU gradient: `dx = g·(x > 0 ? 1 : gamma[c])`, `dgamma[c] = Σ g·x` over the
/// non-positive `x` of channel `c` (layout as in [`prelu`]).
pub fn prelu_backward<T: Num>(
    g: &[T],
    x: &[T],
    gamma: &[T],
    inner: usize,
    dx: &mut [T],
    dgamma: &mut [T],
) {
    let inner = inner.max(1);
    let channels = gamma.len().max(1);
    dgamma.fill(T::ZERO);
    let blocks = dx
        .chunks_mut(inner)
        .zip(x.chunks(inner).zip(g.chunks(inner)));
    for (k, (d, (xs, gs))) in blocks.enumerate() {
        let c = k % channels;
        let a = gamma.get(c).copied().unwrap_or(T::ZERO);
        let mut acc = T::ZERO;
        for (dv, (&xv, &gv)) in d.iter_mut().zip(xs.iter().zip(gs)) {
            if xv > T::ZERO {
                *dv = gv;
            } else {
                *dv = gv.times(a);
                acc = acc.plus(gv.times(xv));
            }
        }
        if let Some(dg) = dgamma.get_mut(c) {
            *dg = dg.plus(acc);
        }
    }
}

/// RReLU with per-element slopes `mask`: `out = x > 0 ? x : mask·x`.
pub fn rrelu<T: Num>(x: &[T], mask: &[T], out: &mut [T]) {
    for (o, (&v, &m)) in out.iter_mut().zip(x.iter().zip(mask)) {
        *o = if v > T::ZERO { v } else { m.times(v) };
    }
}

/// The RReLU gradient from the output: `out = g·(y > 0 ? 1 : mask)`.
pub fn rrelu_backward<T: Num>(g: &[T], y: &[T], mask: &[T], out: &mut [T]) {
    for (o, (&gv, (&yv, &m))) in out.iter_mut().zip(g.iter().zip(y.iter().zip(mask))) {
        *o = if yv > T::ZERO { gv } else { gv.times(m) };
    }
}
