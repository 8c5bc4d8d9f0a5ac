//! The KVStore from C, with MXNet `c_api.h`'s exact names and signatures (integer keys):
//! create, init, push, pull, free.

// MXNet's names (MXKVStoreCreate) are the API.
#![allow(non_snake_case)]

use std::ffi::{c_char, c_int, c_void};

use mxr_frontend::kv::KVStore;
use mxr_frontend::nd::NDArray;

use super::ndarray::{ND_ARRAYS, NDArrayHandle};
use crate::boundary::{Context, Result, argument, c_slice, c_str, guard, write_out};
use crate::handle::HandleTable;

/// MXNet's `KVStoreHandle`.
pub type KVStoreHandle = *mut c_void;

/// The live stores.
static STORES: HandleTable<KVStore> = HandleTable::new(7, "KVStore");

/// Creates a store of a type (`local`, `device`, ...; MXNet's names).
///
/// # Safety
/// `type_` is a C string and `out` is valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXKVStoreCreate(type_: *const c_char, out: *mut KVStoreHandle) -> c_int {
    const CALL: &str = "MXKVStoreCreate";
    guard(CALL, || {
        // SAFETY: the caller guarantees a C string.
        let kind = unsafe { c_str(type_, CALL, "type") }?;
        if out.is_null() {
            return Err(argument(CALL, "out is a null pointer"));
        }
        let handle = STORES.insert(KVStore::create(kind).during(CALL)?, CALL)?;
        // SAFETY: non-null and valid for one write, by the caller's guarantee.
        unsafe { write_out(out, handle, CALL, "out") }
    })
}

/// Frees a store.
#[unsafe(no_mangle)]
pub extern "C" fn MXKVStoreFree(handle: KVStoreHandle) -> c_int {
    const CALL: &str = "MXKVStoreFree";
    guard(CALL, || STORES.remove(handle, CALL).map(drop))
}

/// The `num` (key, array) pairs of a call, grouped by key in first-seen order (MXNet merges
/// the values given for one key in one call).
///
/// # Safety
/// `keys` and `vals` point to `num` values each.
unsafe fn pairs(
    num: u32,
    keys: *const c_int,
    vals: *const NDArrayHandle,
    call: &'static str,
) -> Result<(Vec<i32>, Vec<Vec<NDArray>>)> {
    let n = num as usize;
    // SAFETY: the caller guarantees `num` keys and handles.
    let (keys, vals) = unsafe {
        (
            c_slice(keys, n, call, "keys")?,
            c_slice(vals, n, call, "vals")?,
        )
    };
    let mut grouped_keys: Vec<i32> = Vec::new();
    let mut grouped: Vec<Vec<NDArray>> = Vec::new();
    for (&key, &handle) in keys.iter().zip(vals) {
        let array = (*ND_ARRAYS.get(handle, call)?).clone();
        match grouped_keys.iter().position(|&k| k == key) {
            Some(i) => grouped[i].push(array),
            None => {
                grouped_keys.push(key);
                grouped.push(vec![array]);
            }
        }
    }
    Ok((grouped_keys, grouped))
}

/// Initialises `num` keys with arrays (one per key).
///
/// # Safety
/// `keys` and `vals` point to `num` values each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXKVStoreInit(
    handle: KVStoreHandle,
    num: u32,
    keys: *const c_int,
    vals: *mut NDArrayHandle,
) -> c_int {
    const CALL: &str = "MXKVStoreInit";
    guard(CALL, || {
        let store = STORES.get(handle, CALL)?;
        // SAFETY: the caller guarantees `num` keys and handles.
        let (keys, vals) = unsafe { pairs(num, keys, vals.cast_const(), CALL) }?;
        let firsts = keys
            .iter()
            .zip(&vals)
            .map(|(k, v)| match v.as_slice() {
                [one] => Ok(one),
                _ => Err(argument(
                    CALL,
                    format!("key {k} is given {} arrays, init takes one", v.len()),
                )),
            })
            .collect::<Result<Vec<&NDArray>>>()?;
        store.init_list(&keys, &firsts).during(CALL)
    })
}

/// Runs `op` (a push or a pull) on the store with the call's arrays grouped by key.
///
/// # Safety
/// `keys` and `vals` point to `num` values each.
unsafe fn grouped(
    handle: KVStoreHandle,
    num: u32,
    keys: *const c_int,
    vals: *mut NDArrayHandle,
    call: &'static str,
    op: impl FnOnce(&KVStore, &[i32], &[Vec<&NDArray>]) -> mxr_frontend::Result<()>,
) -> c_int {
    guard(call, || {
        let store = STORES.get(handle, call)?;
        // SAFETY: the caller guarantees `num` keys and handles.
        let (keys, arrays) = unsafe { pairs(num, keys, vals.cast_const(), call) }?;
        let refs: Vec<Vec<&NDArray>> = arrays.iter().map(|v| v.iter().collect()).collect();
        op(&store, &keys, &refs).during(call)
    })
}

/// Pushes `num` (key, array) pairs; the arrays given for one key are summed.
///
/// # Safety
/// `keys` and `vals` point to `num` values each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXKVStorePush(
    handle: KVStoreHandle,
    num: u32,
    keys: *const c_int,
    vals: *mut NDArrayHandle,
    priority: c_int,
) -> c_int {
    let _ = priority; // the engine orders by dependencies only
    // SAFETY: the caller's pointers, as documented.
    unsafe {
        grouped(
            handle,
            num,
            keys,
            vals,
            "MXKVStorePush",
            |store, keys, arrays| store.push_list(keys, arrays),
        )
    }
}

/// Pulls `num` keys into arrays (a key may be given several arrays) and waits for them.
///
/// # Safety
/// `keys` and `vals` point to `num` values each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn MXKVStorePull(
    handle: KVStoreHandle,
    num: u32,
    keys: *const c_int,
    vals: *mut NDArrayHandle,
    priority: c_int,
) -> c_int {
    let _ = priority; // the engine orders by dependencies only
    // SAFETY: the caller's pointers, as documented.
    unsafe {
        grouped(
            handle,
            num,
            keys,
            vals,
            "MXKVStorePull",
            |store, keys, outs| {
                store.pull_list(keys, outs)?;
                outs.iter().flatten().try_for_each(|out| out.wait_to_read())
            },
        )
    }
}
