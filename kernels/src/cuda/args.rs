//! Kernel arguments: one Rust value per kernel parameter, passed the same way to CUDA (by
//! reference into `cuLaunchKernel`'s parameter array) and to the emulator (by value, through the
//! C calling convention of the kernel compiled as a host function).

use cudarc::driver::{LaunchArgs, PushKernelArg};
use mxr_engine::gpu::DevicePtr;

mod sealed {
    pub trait Sealed {}
}

/// A whole argument list: a tuple of up to 16 [`KernelArg`]s.
pub trait KernelArgs {
    /// Pushes every argument by reference (they must outlive the launch).
    fn push_cuda<'a>(&'a self, builder: &mut LaunchArgs<'a>);

    /// Calls the emulated kernel `f` with the arguments.
    ///
    /// # Safety
    /// `f` must be a host function whose C parameters match the arguments.
    unsafe fn call_emulated(&self, f: *const ());
}

/// One kernel argument: [`DevicePtr`] for any `T*` parameter, `i64` for `long long`, `i32`
/// for `int`, `u32` for `unsigned int`, `f32`, `f64`, `u64`.
///
/// A device pointer is passed as a 64-bit integer, to CUDA (a `CUdeviceptr`) and through the C
/// calling convention to the emulator, where 64-bit targets pass pointers the same way (mxr
/// targets 64-bit hosts).
pub trait KernelArg: sealed::Sealed + Copy {
    /// The passed type.
    type Param: cudarc::driver::DeviceRepr + Copy + 'static;
    /// The value passed.
    fn param(self) -> Self::Param;
}

impl sealed::Sealed for DevicePtr {}
impl KernelArg for DevicePtr {
    type Param = u64;
    fn param(self) -> u64 {
        self.0
    }
}

macro_rules! to_param {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl KernelArg for $t {
            type Param = $t;
            fn param(self) -> $t {
                self
            }
        }
    )*};
}
to_param!(i64, i32, u32, f32, f64, u64);

macro_rules! kernel_args {
    ($(($($name:ident : $idx:tt),+))+) => {$(
        impl<$($name: KernelArg),+> KernelArgs for ($($name,)+) {
            fn push_cuda<'a>(&'a self, builder: &mut LaunchArgs<'a>) {
                $( builder.arg(param_ref(&self.$idx)); )+
            }

            unsafe fn call_emulated(&self, f: *const ()) {
                // SAFETY: the caller guarantees `f`'s C signature is exactly these parameter
                // types in this order.
                let f: extern "C" fn($(<$name as KernelArg>::Param),+) = unsafe { std::mem::transmute(f) };
                f($(self.$idx.param()),+);
            }
        }
    )+};
}

/// A reference to `v` as its passed type: every `KernelArg` type is either its own `Param` or a
/// `repr(transparent)` wrapper of it (`DevicePtr` over `u64`), so the bytes are the same.
fn param_ref<T: KernelArg>(v: &T) -> &T::Param {
    const { assert!(std::mem::size_of::<T>() == std::mem::size_of::<T::Param>()) };
    // SAFETY: `T` and `T::Param` have the same size (checked above) and layout: `T::Param` is
    // `T` itself or the single field of the `repr(transparent)` `T` (`DevicePtr`), and the
    // reference keeps `v`'s lifetime and alignment (equal, by transparency).
    unsafe { &*(v as *const T).cast::<T::Param>() }
}

kernel_args! {
    (A: 0)
    (A: 0, B: 1)
    (A: 0, B: 1, C: 2)
    (A: 0, B: 1, C: 2, D: 3)
    (A: 0, B: 1, C: 2, D: 3, E: 4)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9, K: 10)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9, K: 10, L: 11)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9, K: 10, L: 11, M: 12)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9, K: 10, L: 11, M: 12, N: 13)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9, K: 10, L: 11, M: 12, N: 13, O: 14)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7, I: 8, J: 9, K: 10, L: 11, M: 12, N: 13, O: 14, P: 15)
}
