//! The sealed element trait of [`super::GemmElement`], and the strided operands and product
//! description that every native kernel takes.

/// A read-only strided matrix: element `(i, j)` at `ptr + i * rs + j * cs`. (Public only
/// inside this private module.)
#[derive(Debug, Clone, Copy)]
pub struct Strided<T> {
    /// The first element.
    pub ptr: *const T,
    /// Row stride, in elements.
    pub rs: usize,
    /// Column stride, in elements.
    pub cs: usize,
}

impl<T> Strided<T> {
    /// The element `(i, j)`'s address.
    ///
    /// # Safety
    /// `(i, j)` must be inside the matrix this describes.
    #[inline(always)]
    pub unsafe fn at(self, i: usize, j: usize) -> *const T {
        // SAFETY: the caller promises `(i, j)` is an element of the matrix, so the offset
        // stays inside the allocation `ptr` points into.
        unsafe { self.ptr.add(i * self.rs + j * self.cs) }
    }
}

/// One product `C = alpha * A · B + beta * C`, where `A` is `m × k`, `B` is `k × n` and `C` is
/// `m × n` row-major with leading dimension `ldc`.
#[derive(Debug, Clone, Copy)]
pub struct Product<T> {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// Columns of `A`, rows of `B`.
    pub k: usize,
    /// The factor of the product.
    pub alpha: T,
    /// `A`.
    pub a: Strided<T>,
    /// `B`.
    pub b: Strided<T>,
    /// The factor of `C`'s old value (`0`: not read).
    pub beta: T,
    /// `C`'s first element.
    pub c: *mut T,
    /// `C`'s row stride.
    pub ldc: usize,
}

pub trait Sealed: Sized {
    /// Runs one product `p` (`m, n, k > 0`, `alpha != 0`) with mxr's own kernel when there is
    /// one for this type and this CPU and `backend` allows it (for this shape, with
    /// [`super::Backend::Auto`]), and returns `false` (having done nothing) otherwise.
    ///
    /// # Safety
    /// As [`super::native::run`]: `p.a`, `p.b` and `p.c` describe valid matrices of
    /// `m × k`, `k × n` and `m × n` elements that `C` does not overlap, and `C` is
    /// exclusively the caller's for the call.
    unsafe fn native_gemm(_backend: super::Backend, _p: Product<Self>) -> bool {
        false
    }

    /// Runs the product with the few-rows kernel ([`super::skinny`]) on up to `threads`
    /// threads when it serves this type, shape and CPU; returns whether it ran.
    ///
    /// # Safety
    /// As [`Sealed::native_gemm`].
    unsafe fn skinny_gemm(_p: Product<Self>, _threads: usize) -> bool {
        false
    }
}

impl Sealed for f32 {
    unsafe fn skinny_gemm(p: Product<f32>, threads: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let isa = crate::cpu::isa::Isa::current();
            if super::skinny::serves(isa, p.m, &p.b) {
                // SAFETY: forwarded; `serves` holds, and the rest of `skinny::run`'s
                // contract is this function's.
                unsafe { super::skinny::run(isa, p, threads) };
                return true;
            }
        }
        let _ = (p, threads);
        false
    }

    unsafe fn native_gemm(backend: super::Backend, p: Product<f32>) -> bool {
        // SAFETY: forwarded; the caller's contract is `native::run`'s.
        unsafe { super::native::run(backend, p) }
    }
}
impl Sealed for f64 {}
