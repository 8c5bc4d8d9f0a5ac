//! The sealed element trait of [`super::GemmElement`] and the strided operand of the native kernels.

/// A read-only strided matrix for the native kernels: element `(i, j)` at
/// `ptr + i * rs + j * cs`. (Public only inside this private module.)
#[derive(Debug, Clone, Copy)]
pub struct Strided<T> {
    pub ptr: *const T,
    pub rs: usize,
    pub cs: usize,
}

pub trait Sealed: Sized {
    /// Runs one product `C = alpha * op(A) · op(B) + beta * C` (`m, n, k > 0`,
    /// `alpha != 0`) with mxr's own kernel when there is one for this type and this CPU
    /// and `backend` allows it (for this shape, with [`super::Backend::Auto`]), and returns
    /// `false` (having done nothing) otherwise.
    ///
    /// # Safety
    /// As [`super::native::run`]: `a`, `b` and `c` describe valid matrices of
    /// `m × k`, `k × n` and `m × n` elements that `C` does not overlap, and `c` is
    /// exclusively the caller's for the call.
    #[allow(clippy::too_many_arguments, reason = "the gemm arguments")]
    unsafe fn native_gemm(
        _backend: super::Backend,
        _m: usize,
        _n: usize,
        _k: usize,
        _alpha: Self,
        _a: Strided<Self>,
        _b: Strided<Self>,
        _beta: Self,
        _c: *mut Self,
        _ldc: usize,
    ) -> bool {
        false
    }

    /// Runs the product with the few-rows kernel ([`super::skinny`]) on up to `threads`
    /// threads when it serves this type, shape and CPU; returns whether it ran.
    ///
    /// # Safety
    /// As [`Sealed::native_gemm`].
    #[allow(clippy::too_many_arguments, reason = "the gemm arguments")]
    unsafe fn skinny_gemm(
        _m: usize,
        _n: usize,
        _k: usize,
        _alpha: Self,
        _a: Strided<Self>,
        _b: Strided<Self>,
        _beta: Self,
        _c: *mut Self,
        _ldc: usize,
        _threads: usize,
    ) -> bool {
        false
    }
}

impl Sealed for f32 {
    unsafe fn skinny_gemm(
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: Strided<f32>,
        b: Strided<f32>,
        beta: f32,
        c: *mut f32,
        ldc: usize,
        threads: usize,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let isa = crate::cpu::isa::Isa::current();
            if super::skinny::serves(isa, m, &b) {
                // SAFETY: forwarded; `serves` holds, and the rest of `skinny::run`'s
                // contract is this function's.
                unsafe { super::skinny::run(isa, m, n, k, alpha, a, b, beta, c, ldc, threads) };
                return true;
            }
        }
        let _ = (m, n, k, alpha, a, b, beta, c, ldc, threads);
        false
    }

    unsafe fn native_gemm(
        backend: super::Backend,
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: Strided<f32>,
        b: Strided<f32>,
        beta: f32,
        c: *mut f32,
        ldc: usize,
    ) -> bool {
        // SAFETY: forwarded; the caller's contract is `native::run`'s.
        unsafe { super::native::run(backend, m, n, k, alpha, a, b, beta, c, ldc) }
    }
}
impl Sealed for f64 {}
