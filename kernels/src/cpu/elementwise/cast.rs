//! `Cast`: every element converted to another numeric type, as MXNet 1.9.1's `static_cast`
//! does on x86-64: a float to an integer truncates toward zero; an integer to a narrower
//! integer keeps the low bits (wraps).
//!
//! ```
//! use mxr_kernels::cpu::elementwise::cast;
//! let mut y = [0i32; 3];
//! cast(&[-1.7f32, 2.5, 7.0], &mut y);
//! assert_eq!(y, [-1, 2, 7]);
//! let mut b = [0u8; 2];
//! cast(&[-1i32, 300], &mut b);
//! assert_eq!(b, [255, 44]);
//! ```

use super::Num;
use crate::{DType, Element};

/// The range of an integer dtype, `None` for a float one.
fn int_range(d: DType) -> Option<(f64, f64)> {
    match d {
        DType::U8 => Some((0.0, 255.0)),
        DType::I8 => Some((-128.0, 127.0)),
        DType::I32 => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
        DType::I64 => Some((i64::MIN as f64, i64::MAX as f64)),
        DType::F32 | DType::F64 | DType::F16 => None,
    }
}

/// `out[i] = x[i]` converted to `D`: floats go through `f64`, integers wrap into `D`'s range.
/// Integers are carried exactly up to 2^53.
pub fn cast<S: Num, D: Num + Element>(x: &[S], out: &mut [D]) {
    let Some((min, max)) = int_range(D::DTYPE) else {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = D::from_f64(v.to_f64());
        }
        return;
    };
    // D's range: [min, min + span) with span = 2^bits.
    let span = max - min + 1.0;
    for (o, &v) in out.iter_mut().zip(x) {
        let t = v.to_f64().trunc();
        let wrapped = if (min..=max).contains(&t) {
            t
        } else if t.is_finite() {
            (t - min).rem_euclid(span) + min
        } else {
            0.0
        };
        *o = D::from_f64(wrapped);
    }
}

#[cfg(test)]
mod tests {
    use super::cast;

    #[test]
    fn floats_truncate_and_integers_wrap() {
        let mut y = [0i8; 4];
        cast(&[127.9f64, -128.5, 128.0, -129.0], &mut y);
        assert_eq!(y, [127, -128, -128, 127]);
        let mut z = [0f32; 2];
        cast(&[3i64, -5], &mut z);
        assert_eq!(z, [3.0, -5.0]);
        let mut w = [0i64; 2];
        cast(&[255u8, 0], &mut w);
        assert_eq!(w, [255, 0]);
    }
}
