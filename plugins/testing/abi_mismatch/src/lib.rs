//! A test plugin built for an ABI version mxr does not speak: it exports both entry points,
//! but its version is `ABI_VERSION + 1000`. The host must refuse it without calling
//! `mxr_plugin_register`, which aborts the process to prove that.

/// Reports the wrong ABI version.
#[unsafe(no_mangle)]
pub extern "C" fn mxr_plugin_abi_version() -> u32 {
    mxr_plugin_abi::ABI_VERSION + 1000
}

/// Must never be called: a host that ignores the version mismatch dies here.
#[unsafe(no_mangle)]
pub extern "C" fn mxr_plugin_register(_api: *const mxr_plugin_abi::HostApi) -> i32 {
    std::process::abort()
}
