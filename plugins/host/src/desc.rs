//! A plugin's operator description, copied out of its [`OpDesc`]: parameter checking, the
//! operator state the plugin makes, and the registry factories. The operators themselves are
//! in `ops.rs`.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::{Arc, Mutex, PoisonError};

use libloading::Library;
use mxr_engine::DeviceType;
use mxr_operators::Error as OpError;
use mxr_operators::registry::attrs::ParamSpec;
use mxr_operators::registry::{OpContext, OpDef, OpFactory, OpRef};
use mxr_plugin_abi::ffi::{
    AttrDesc, BackwardFn, CallInfo, CreateFn, DestroyFn, ErrorBuf, ForwardFn, InferShapeFn,
    InferTypeFn, OpDesc,
};
use mxr_plugin_abi::{STATUS_ERROR, STATUS_OK, STATUS_PANIC};

use super::CudaSource;
use super::ops::{PluginBackwardOp, PluginOp};

pub(super) type OpResult<T> = std::result::Result<T, OpError>;

/// A string for the rest of the process: registered operators live that long, and the
/// registry and the `Operator` trait hand out `&'static str` names. Each distinct string is
/// leaked once and kept in a process-wide set, so that a plugin loaded again, or a description
/// refused after its strings were copied, leaks nothing more (and LeakSanitizer sees the
/// strings as reachable, which they are).
fn leak(s: String) -> &'static str {
    static STRINGS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut strings = STRINGS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&kept) = strings.get(s.as_str()) {
        return kept;
    }
    let kept: &'static str = Box::leak(s.into_boxed_str());
    strings.insert(kept);
    kept
}

/// A plugin operator's description, owned by the host.
pub(super) struct PluginOpDef {
    pub(super) name: &'static str,
    pub(super) backward_name: &'static str,
    pub(super) description: &'static str,
    pub(super) inputs: Vec<String>,
    pub(super) outputs: Vec<String>,
    pub(super) aux: Vec<String>,
    pub(super) params: Vec<ParamSpec>,
    pub(super) cuda: Option<CudaSource>,
    pub(super) create: CreateFn,
    pub(super) destroy: DestroyFn,
    pub(super) infer_shape: InferShapeFn,
    pub(super) infer_type: Option<InferTypeFn>,
    pub(super) forward: ForwardFn,
    pub(super) backward: Option<BackwardFn>,
    /// Keeps the plugin loaded while any function pointer above may be called. Declared last,
    /// so it is dropped after them.
    _library: Arc<Library>,
}

impl std::fmt::Debug for PluginOpDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginOpDef")
            .field("name", &self.name)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("aux", &self.aux)
            .field("has_backward", &self.backward.is_some())
            .finish_non_exhaustive()
    }
}

/// A string of the description; `what` names it in the error.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string valid during the registration call.
unsafe fn desc_str(ptr: *const c_char, what: &str) -> Result<String, String> {
    if ptr.is_null() {
        return Err(format!("{what} is a null pointer"));
    }
    // SAFETY: non-null and NUL-terminated (caller, per the ABI).
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| format!("{what} is not UTF-8"))
}

/// An optional string (null = none).
///
/// # Safety
/// As for [`desc_str`].
unsafe fn desc_opt_str(ptr: *const c_char, what: &str) -> Result<Option<String>, String> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { desc_str(ptr, what) }.map(Some)
    }
}

/// A list of `n` strings.
///
/// # Safety
/// `ptr` is null (only when `n == 0`) or points to `n` strings valid during the call.
unsafe fn desc_list(ptr: *const *const c_char, n: u32, what: &str) -> Result<Vec<String>, String> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(format!("{what}: a null pointer for {n} names"));
    }
    // SAFETY: `n` pointers (caller, per the ABI).
    let ptrs = unsafe { std::slice::from_raw_parts(ptr, n as usize) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each is a string valid during the call (ABI).
        .map(|(i, p)| unsafe { desc_str(*p, &format!("{what} #{i}")) })
        .collect()
}

impl PluginOpDef {
    /// Copies a plugin's description; an error says what is malformed.
    ///
    /// # Safety
    /// `desc` points to an [`OpDesc`] valid during the call whose function pointers stay
    /// valid while `library` is loaded.
    pub(super) unsafe fn from_desc(
        desc: *const OpDesc,
        library: Arc<Library>,
    ) -> Result<PluginOpDef, String> {
        // SAFETY: valid for the call, or null (checked by `as_ref`).
        let d = unsafe { desc.as_ref() }.ok_or("a null operator description")?;
        if d.struct_size as usize != std::mem::size_of::<OpDesc>() {
            return Err(format!(
                "an operator description of {} bytes, expected {} (built against another \
                 mxr-plugin-abi)",
                d.struct_size,
                std::mem::size_of::<OpDesc>()
            ));
        }
        // SAFETY: every pointer of a valid description is valid during the call (caller).
        let (name, description, inputs, outputs, aux) = unsafe {
            let name = desc_str(d.name, "the operator name")?;
            let what = |w: &str| format!("operator `{name}`: {w}");
            (
                name.clone(),
                desc_opt_str(d.description, &what("the description"))?.unwrap_or_default(),
                desc_list(d.inputs, d.num_inputs, &what("input names"))?,
                desc_list(d.outputs, d.num_outputs, &what("output names"))?,
                desc_list(d.aux, d.num_aux, &what("auxiliary state names"))?,
            )
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_name {
            return Err(format!(
                "operator name {name:?}: use letters, digits, `_` and `.` only"
            ));
        }
        if name.starts_with("_backward") {
            return Err(format!(
                "operator `{name}`: names starting with `_backward` are reserved for gradients"
            ));
        }
        if outputs.is_empty() {
            return Err(format!("operator `{name}` declares no output"));
        }
        let mut params = Vec::with_capacity(d.num_params as usize);
        if d.num_params > 0 {
            if d.params.is_null() {
                return Err(format!("operator `{name}`: null parameter list"));
            }
            // SAFETY: `num_params` descriptions valid during the call (ABI).
            let descs = unsafe { std::slice::from_raw_parts(d.params, d.num_params as usize) };
            for (i, p) in descs.iter().enumerate() {
                let what = format!("operator `{name}`: parameter #{i}");
                // SAFETY: strings valid during the call (ABI).
                let (pname, type_name, default, doc) = unsafe {
                    (
                        desc_str(p.name, &format!("{what} name"))?,
                        desc_opt_str(p.type_name, &format!("{what} type"))?.unwrap_or_default(),
                        desc_opt_str(p.default, &format!("{what} default"))?,
                        desc_opt_str(p.doc, &format!("{what} doc"))?.unwrap_or_default(),
                    )
                };
                if params.iter().any(|s: &ParamSpec| s.name == pname) {
                    return Err(format!(
                        "operator `{name}`: parameter `{pname}` declared twice"
                    ));
                }
                params.push(ParamSpec {
                    name: leak(pname),
                    type_name,
                    default,
                    doc,
                });
            }
        }
        // SAFETY: strings valid during the call (ABI).
        let cuda = unsafe {
            match (
                desc_opt_str(d.cuda_source, "the CUDA source")?,
                desc_opt_str(d.cuda_kernel, "the CUDA kernel name")?,
            ) {
                (Some(source), Some(kernel)) => Some(CudaSource { source, kernel }),
                (None, None) => None,
                _ => {
                    return Err(format!(
                        "operator `{name}`: CUDA source and kernel name come together"
                    ));
                }
            }
        };
        Ok(PluginOpDef {
            backward_name: leak(format!("_backward_{name}")),
            name: leak(name),
            description: leak(description),
            inputs,
            outputs,
            aux,
            params,
            cuda,
            create: d.create,
            destroy: d.destroy,
            infer_shape: d.infer_shape,
            infer_type: d.infer_type,
            forward: d.forward,
            backward: d.backward,
            _library: library,
        })
    }

    /// Whether the plugin has a backward kernel.
    pub(super) fn has_backward(&self) -> bool {
        self.backward.is_some()
    }

    /// The registry definitions: the operator, and `_backward_<name>` when it has a gradient.
    /// Their factories live for the rest of the process once registered (the registry holds
    /// `&'static` references); they are added to `factories`, which frees them if the
    /// registry refuses the definitions ([`Factories::free`]).
    pub(super) fn op_defs(self: &Arc<Self>, factories: &mut Factories) -> Vec<OpDef> {
        let mut op = OpDef::dynamic(self.name, self.description, factories.add(self, false));
        if !self.has_backward() {
            op = op.no_gradient();
        }
        let mut defs = vec![op];
        if self.has_backward() {
            let doc = leak(format!("Gradient of {} (from a plugin).", self.name));
            let backward = factories.add(self, true);
            defs.push(OpDef::dynamic(self.backward_name, doc, backward));
        }
        defs
    }

    pub(super) fn plugin_error(&self, reason: String) -> OpError {
        OpError::Plugin {
            op: self.name.to_string(),
            reason,
        }
    }

    /// Validates `attrs` against the declared parameters, fills in defaults and asks the
    /// plugin for a state. `op` names the operator in errors (the forward or backward name).
    fn instantiate(
        self: &Arc<Self>,
        op: &'static str,
        attrs: &[(&str, &str)],
    ) -> OpResult<PluginOp> {
        let is_user_attr = |k: &str| k.len() > 4 && k.starts_with("__") && k.ends_with("__");
        let mut values: Vec<Option<String>> =
            self.params.iter().map(|p| p.default.clone()).collect();
        let mut given = Vec::new();
        for (key, value) in attrs {
            if is_user_attr(key) {
                continue;
            }
            let Some(i) = self.params.iter().position(|p| p.name == *key) else {
                let valid: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                return Err(OpError::UnknownParam {
                    op: op.to_string(),
                    name: (*key).to_string(),
                    valid: if valid.is_empty() {
                        "none".into()
                    } else {
                        valid.join(", ")
                    },
                });
            };
            values[i] = Some((*value).to_string());
            given.retain(|(k, _): &(String, String)| k != key);
            given.push(((*key).to_string(), (*value).to_string()));
        }
        let mut c_attrs = Vec::with_capacity(values.len());
        for (p, v) in self.params.iter().zip(&values) {
            let Some(v) = v else {
                return Err(OpError::MissingParam {
                    op: op.to_string(),
                    name: p.name.to_string(),
                    type_name: p.type_name.clone(),
                });
            };
            let bad = |_| OpError::BadParam {
                op: op.to_string(),
                name: p.name.to_string(),
                value: v.clone(),
                type_name: p.type_name.clone(),
                hint: "; a NUL character".into(),
            };
            c_attrs.push((
                CString::new(p.name).map_err(bad)?,
                CString::new(v.as_str()).map_err(bad)?,
            ));
        }
        let raw: Vec<AttrDesc> = c_attrs
            .iter()
            .map(|(k, v)| AttrDesc {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let mut state: *mut c_void = std::ptr::null_mut();
        let status = call_plugin(|err| {
            // SAFETY: `create` is the plugin's function (loaded while `self` lives); the
            // attribute strings and the state slot outlive the call.
            unsafe { (self.create)(raw.as_ptr(), count(raw.len()), &mut state, err) }
        });
        if let Err(f) = status {
            return Err(self.plugin_error(f.describe("parameter parsing (create)")));
        }
        if state.is_null() {
            return Err(self.plugin_error("create returned no state".into()));
        }
        given.sort_by_key(|(k, _)| self.params.iter().position(|p| p.name == k.as_str()));
        Ok(PluginOp {
            def: Arc::clone(self),
            state: Arc::new(State {
                ptr: state,
                def: Arc::clone(self),
            }),
            attrs: given,
        })
    }

    pub(super) fn call_info(ctx: &OpContext<'_>) -> CallInfo {
        CallInfo {
            is_train: i32::from(ctx.is_train),
            dev_type: match ctx.context.device_type() {
                DeviceType::Gpu => 2,
                _ => 1,
            },
            dev_id: i32::try_from(ctx.context.device_id()).unwrap_or(i32::MAX),
        }
    }
}

pub(super) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A failed plugin call: its status and message.
pub(super) struct Failure {
    pub(super) status: i32,
    pub(super) message: String,
}

impl Failure {
    pub(super) fn describe(&self, what: &str) -> String {
        match self.status {
            STATUS_PANIC => format!("{what} panicked: {}", self.message),
            STATUS_ERROR => format!("{what} failed: {}", self.message),
            other => format!("{what} returned status {other}: {}", self.message),
        }
    }
}

/// Calls a plugin function with an error buffer; a status other than OK is a [`Failure`]
/// with the plugin's message.
pub(super) fn call_plugin(f: impl FnOnce(*mut ErrorBuf) -> i32) -> Result<(), Failure> {
    // On the stack: no allocation per kernel call. Longer messages are truncated.
    let mut buf = [0u8; 2048];
    let mut err = ErrorBuf {
        buf: buf.as_mut_ptr(),
        cap: buf.len(),
        len: 0,
    };
    let status = f(&mut err);
    if status == STATUS_OK {
        return Ok(());
    }
    let len = err.len.min(buf.len());
    Err(Failure {
        status,
        message: String::from_utf8_lossy(&buf[..len]).into_owned(),
    })
}

/// The registry's factory for a plugin operator or its backward operator.
#[derive(Debug)]
struct Factory {
    def: Arc<PluginOpDef>,
    backward: bool,
}

/// The factories of a plugin's definitions ([`PluginOpDef::op_defs`]): allocated for the
/// registry's `&'static` references, kept for good once the registry has the definitions
/// ([`Factories::keep`]), freed if it refuses them ([`Factories::free`]), with the definitions,
/// the strings they copied and the plugin's library, which they hold.
#[derive(Debug, Default)]
pub(super) struct Factories(Vec<*mut Factory>);

impl Factories {
    /// A new factory, referred to for as long as it is not freed.
    fn add(&mut self, def: &Arc<PluginOpDef>, backward: bool) -> &'static dyn OpFactory {
        let factory = Box::into_raw(Box::new(Factory {
            def: Arc::clone(def),
            backward,
        }));
        self.0.push(factory);
        // SAFETY: from `Box::into_raw`: valid and aligned; freed only by `free`, whose caller
        // guarantees that no reference to it remains.
        unsafe { &*factory }
    }

    /// The definitions are registered: their factories live for the rest of the process.
    pub(super) fn keep(self) {}

    /// Frees the factories.
    ///
    /// # Safety
    /// Nothing refers to them any more: the definitions made with them were refused by the
    /// registry, which then keeps none of them, and have been dropped.
    pub(super) unsafe fn free(self) {
        for factory in self.0 {
            // SAFETY: from `Box::into_raw` in `add`, freed once, here; unreferenced (caller).
            drop(unsafe { Box::from_raw(factory) });
        }
    }
}

impl OpFactory for Factory {
    fn params(&self) -> Vec<ParamSpec> {
        self.def.params.clone()
    }

    fn create(&self, attrs: &[(&str, &str)]) -> OpResult<OpRef> {
        if self.backward {
            let op = self.def.instantiate(self.def.backward_name, attrs)?;
            Ok(Arc::new(PluginBackwardOp {
                def: op.def,
                state: op.state,
                attrs: op.attrs,
            }))
        } else {
            Ok(Arc::new(self.def.instantiate(self.def.name, attrs)?))
        }
    }
}

/// A plugin's operator state; destroyed by the plugin when the last operator using it goes.
pub(super) struct State {
    pub(super) ptr: *mut c_void,
    def: Arc<PluginOpDef>,
}

// SAFETY: the state is only passed back to the plugin's functions, which the ABI requires to
// be callable from any thread, concurrently (the Rust layer requires `Op: Send + Sync`).
unsafe impl Send for State {}
// SAFETY: as above; the host never touches the pointee.
unsafe impl Sync for State {}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from the plugin's `create` and is destroyed once, here; `def`
        // keeps the library loaded until after this call.
        unsafe { (self.def.destroy)(self.ptr) };
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::{CString, c_char, c_void};
    use std::sync::Arc;

    use libloading::Library;
    use mxr_plugin_abi::ffi::{
        AttrDesc, CallInfo, ErrorBuf, OpDesc, ParamDesc, ShapeDesc, TensorDesc,
    };

    use super::{PluginOpDef, leak};

    unsafe extern "C" fn create(
        _: *const AttrDesc,
        _: u32,
        _: *mut *mut c_void,
        _: *mut ErrorBuf,
    ) -> i32 {
        -1
    }
    unsafe extern "C" fn destroy(_: *mut c_void) {}
    unsafe extern "C" fn infer_shape(
        _: *const c_void,
        _: *mut ShapeDesc,
        _: u32,
        _: *mut ShapeDesc,
        _: u32,
        _: *mut ErrorBuf,
    ) -> i32 {
        -1
    }
    unsafe extern "C" fn forward(
        _: *const c_void,
        _: *const CallInfo,
        _: *const TensorDesc,
        _: u32,
        _: *const TensorDesc,
        _: u32,
        _: *mut ErrorBuf,
    ) -> i32 {
        -1
    }

    /// Copies a description of `name` with `outputs` and `params`, changed by `edit`.
    fn copy(
        name: &str,
        outputs: &[&str],
        params: &[&str],
        edit: impl FnOnce(&mut OpDesc),
    ) -> Result<PluginOpDef, String> {
        let c = |s: &str| CString::new(s).unwrap();
        let name = c(name);
        let (inputs, outputs) = (
            vec![c("data")],
            outputs.iter().map(|s| c(s)).collect::<Vec<_>>(),
        );
        let ptrs = |v: &[CString]| v.iter().map(|s| s.as_ptr()).collect::<Vec<*const c_char>>();
        let (in_ptrs, out_ptrs) = (ptrs(&inputs), ptrs(&outputs));
        let names: Vec<CString> = params.iter().map(|s| c(s)).collect();
        let params: Vec<ParamDesc> = names
            .iter()
            .map(|n| ParamDesc {
                name: n.as_ptr(),
                type_name: c"float".as_ptr(),
                default: std::ptr::null(),
                doc: c"doc".as_ptr(),
            })
            .collect();
        let mut desc = OpDesc {
            struct_size: std::mem::size_of::<OpDesc>() as u32,
            name: name.as_ptr(),
            description: c"a test".as_ptr(),
            inputs: in_ptrs.as_ptr(),
            num_inputs: 1,
            outputs: out_ptrs.as_ptr(),
            num_outputs: out_ptrs.len() as u32,
            aux: std::ptr::null(),
            num_aux: 0,
            params: params.as_ptr(),
            num_params: params.len() as u32,
            cuda_source: std::ptr::null(),
            cuda_kernel: std::ptr::null(),
            create,
            destroy,
            infer_shape,
            infer_type: None,
            forward,
            backward: None,
        };
        edit(&mut desc);
        let this: Library = libloading::os::unix::Library::this().into();
        // SAFETY: `desc` and every string it points to live until after the call; the dummy
        // functions are this binary's, which stays loaded.
        unsafe { PluginOpDef::from_desc(&desc, Arc::new(this)) }
    }

    #[test]
    fn strings_are_kept_once() {
        let a = leak("kept_once_op".to_string());
        let b = leak(String::from("kept_once_op"));
        assert!(std::ptr::eq(a, b), "the second copy is the first one");
        assert_eq!(a, "kept_once_op");
        assert_ne!(leak("kept_once_op2".to_string()), a);
    }

    #[test]
    fn a_good_description_is_copied() {
        let def = copy("good_op", &["out"], &["alpha"], |_| {}).unwrap();
        assert_eq!(
            (def.name, def.backward_name),
            ("good_op", "_backward_good_op")
        );
        assert_eq!(
            (def.inputs.clone(), def.outputs.clone()),
            (vec!["data".to_string()], vec!["out".to_string()])
        );
        assert_eq!(
            (def.params[0].name, def.params[0].default.clone()),
            ("alpha", None)
        );
        assert!(!def.has_backward() && def.cuda.is_none());
    }

    #[test]
    fn malformed_descriptions_are_refused_with_the_reason() {
        let err = |r: Result<PluginOpDef, String>| r.map(|d| d.name).unwrap_err();
        let e = err(copy("op", &["out"], &[], |d| d.struct_size -= 8));
        assert!(e.contains("built against another mxr-plugin-abi"), "{e}");
        let e = err(copy("op", &["out"], &[], |d| d.name = std::ptr::null()));
        assert_eq!(e, "the operator name is a null pointer");
        let e = err(copy("my op", &["out"], &[], |_| {}));
        assert_eq!(
            e,
            "operator name \"my op\": use letters, digits, `_` and `.` only"
        );
        let e = err(copy("_backward_op", &["out"], &[], |_| {}));
        assert!(e.contains("reserved for gradients"), "{e}");
        let e = err(copy("op", &[], &[], |_| {}));
        assert_eq!(e, "operator `op` declares no output");
        let e = err(copy("op", &["out"], &["a", "a"], |_| {}));
        assert_eq!(e, "operator `op`: parameter `a` declared twice");
        let e = err(copy("op", &["out"], &[], |d| d.num_aux = 2));
        assert_eq!(
            e,
            "operator `op`: auxiliary state names: a null pointer for 2 names"
        );
        let e = err(copy("op", &["out"], &[], |d| {
            d.cuda_source = c"// src".as_ptr()
        }));
        assert_eq!(
            e,
            "operator `op`: CUDA source and kernel name come together"
        );
    }
}
