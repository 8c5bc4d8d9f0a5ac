//! `hard_sigmoid`: `max(0, min(1, alpha·x + beta))`, and its gradient, as MXNet 1.9.1 computes
//! them (`src/operator/tensor/elemwise_unary_op.h`): the clamp tests `1 < v` then `0 > v`, so
//! NaN passes through the forward and gives a zero gradient.
//!
//! ```
//! use mxr_kernels::cpu::elementwise::{hard_sigmoid, hard_sigmoid_backward};
//! let x = [-4.0f32, 0.0, 1.0, 4.0];
//! let mut y = [0.0f32; 4];
//! hard_sigmoid(&x, 0.2, 0.5, &mut y);
//! assert_eq!(y, [0.0, 0.5, 0.7, 1.0]);
//! let mut dx = [0.0f32; 4];
//! hard_sigmoid_backward(&[1.0; 4], &x, 0.2, 0.5, &mut dx);
//! assert_eq!(dx, [0.0, 0.2, 0.2, 0.0]);
//! ```

use super::{Num, map, map_inplace, zip_map};

#[inline(always)]
fn forward_one<T: Num>(v: T, alpha: T, beta: T) -> T {
    let r = alpha.times(v).plus(beta);
    let r = if T::ONE < r { T::ONE } else { r };
    if T::ZERO > r { T::ZERO } else { r }
}

/// `out = max(0, min(1, alpha·x + beta))` element by element.
pub fn hard_sigmoid<T: Num>(x: &[T], alpha: T, beta: T, out: &mut [T]) {
    map(x, out, move |v| forward_one(v, alpha, beta));
}

/// [`hard_sigmoid`] in place.
pub fn hard_sigmoid_inplace<T: Num>(data: &mut [T], alpha: T, beta: T) {
    map_inplace(data, move |v| forward_one(v, alpha, beta));
}

/// `_backward_hard_sigmoid`: `g·alpha` where `0 < alpha·x + beta < 1`, else 0.
pub fn hard_sigmoid_backward<T: Num>(g: &[T], x: &[T], alpha: T, beta: T, out: &mut [T]) {
    zip_map(g, x, out, move |gv, v| {
        let r = alpha.times(v).plus(beta);
        if r > T::ZERO && r < T::ONE {
            gv.times(alpha)
        } else {
            T::ZERO
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{hard_sigmoid, hard_sigmoid_backward, hard_sigmoid_inplace};

    #[test]
    fn clamps_to_the_unit_interval_and_passes_nan() {
        let x = [-10.0f64, -2.5, 0.0, 1.0, 2.5, 10.0, f64::NAN];
        let mut y = [9.0f64; 7];
        hard_sigmoid(&x, 0.2, 0.5, &mut y);
        assert_eq!(&y[..6], &[0.0, 0.0, 0.5, 0.7, 1.0, 1.0]);
        assert!(y[6].is_nan());
        let mut z = x;
        hard_sigmoid_inplace(&mut z, 0.2, 0.5);
        assert_eq!(&z[..6], &y[..6]);
        assert!(z[6].is_nan());
    }

    #[test]
    fn gradient_flows_strictly_inside_the_linear_part() {
        // alpha·x + beta at x = -2.5 and 2.5 is exactly 0 and 1: no gradient there.
        let x = [-3.0f64, -2.5, -1.0, 0.0, 2.0, 2.5, 3.0, f64::NAN];
        let g = [1.0f64, 1.0, 2.0, -1.0, 0.5, 1.0, 1.0, 1.0];
        let mut dx = [9.0f64; 8];
        hard_sigmoid_backward(&g, &x, 0.2, 0.5, &mut dx);
        assert_eq!(dx, [0.0, 0.0, 0.4, -0.2, 0.1, 0.0, 0.0, 0.0]);
    }
}
