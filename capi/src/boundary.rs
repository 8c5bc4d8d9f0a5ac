//! The boundary between C and Rust: the crate's error type, the calling thread's last error,
//! the call guard (status codes, panics), and checked reads of C pointers.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The errors of the C API, reported through `MXGetLastError`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A handle that is null, forged, of another kind, or already freed.
    #[error("{call}: invalid {kind} handle {handle:#x}: {reason}")]
    Handle {
        /// The C function.
        call: &'static str,
        /// The kind of handle expected.
        kind: &'static str,
        /// The handle's value.
        handle: usize,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A bad argument: a null pointer, an unknown name, a wrong size or shape.
    #[error("{call}: {reason}")]
    Argument {
        /// The C function.
        call: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An error of mxr itself (parsing, shape inference, binding, running).
    #[error("{call}: {source}")]
    Mxr {
        /// The C function.
        call: &'static str,
        /// mxr's error.
        source: Box<mxr_frontend::Error>,
    },
    /// A panic caught at the boundary.
    #[error("{call}: internal error (panic): {message}")]
    Panic {
        /// The C function.
        call: &'static str,
        /// The panic's message.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches the C function's name to mxr's errors.
pub(crate) trait Context<T> {
    /// Maps an mxr error to [`Error::Mxr`] for `call`.
    fn during(self, call: &'static str) -> Result<T>;
}

impl<T> Context<T> for mxr_frontend::Result<T> {
    fn during(self, call: &'static str) -> Result<T> {
        self.map_err(|source| Error::Mxr {
            call,
            source: Box::new(source),
        })
    }
}

/// An [`Error::Argument`].
pub(crate) fn argument(call: &'static str, reason: impl Into<String>) -> Error {
    Error::Argument {
        call,
        reason: reason.into(),
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as the calling thread's last error (interior NULs become spaces).
fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// The calling thread's last error message; the pointer stays valid until the thread's next
/// failing call.
pub(crate) fn last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Runs one C API call: 0 when `body` succeeds, -1 with the thread's last error set when it
/// fails or panics.
pub(crate) fn guard(call: &'static str, body: impl FnOnce() -> Result<()>) -> c_int {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return 0,
        Ok(Err(e)) => e,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Error::Panic { call, message }
        }
    };
    set_last_error(&error.to_string());
    -1
}

/// The UTF-8 string at `p`.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn c_str<'a>(
    p: *const c_char,
    call: &'static str,
    what: &str,
) -> Result<&'a str> {
    if p.is_null() {
        return Err(argument(call, format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller guarantees a NUL-terminated string living for 'a.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| argument(call, format!("{what} is not valid UTF-8")))
}

/// The `len` values at `p` (an empty slice when `len` is 0, whatever `p` is).
///
/// # Safety
/// When `len > 0`, `p` is null or points to `len` initialised values that live for `'a`.
pub(crate) unsafe fn c_slice<'a, T>(
    p: *const T,
    len: usize,
    call: &'static str,
    what: &str,
) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(argument(call, format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller guarantees `len` initialised values living for 'a.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// The `len` writable values at `p` (an empty slice when `len` is 0).
///
/// # Safety
/// When `len > 0`, `p` is null or points to `len` writable values, not otherwise referenced
/// during `'a`.
pub(crate) unsafe fn c_slice_mut<'a, T>(
    p: *mut T,
    len: usize,
    call: &'static str,
    what: &str,
) -> Result<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(argument(call, format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller guarantees `len` exclusive writable values for 'a.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// Writes `value` to the out-parameter `p`.
///
/// # Safety
/// `p` is null or valid for a write of one `T`.
pub(crate) unsafe fn write_out<T>(
    p: *mut T,
    value: T,
    call: &'static str,
    what: &str,
) -> Result<()> {
    if p.is_null() {
        return Err(argument(call, format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller guarantees it is valid for one write of T.
    unsafe { p.write(value) };
    Ok(())
}
