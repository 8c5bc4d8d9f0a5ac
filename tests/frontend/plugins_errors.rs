//! Plugin failure modes: failing plugin functions, a missing backward kernel, files that are
//! not plugins, ABI version mismatches and duplicate names, each an error with the process
//! alive.

use super::*;

#[test]
fn failing_plugin_functions_are_errors_and_the_process_goes_on() {
    faulty();
    let x = NDArray::from_vec(&[3], vec![1.0f32, -1.0, 2.0]).unwrap();
    let run = |fail: &str| -> Result<Vec<f32>, String> {
        let y = nd::invoke("faulty", &[&x], &[("fail", fail)]).map_err(|e| e.to_string())?;
        y[0].to_vec::<f32>().map_err(|e| e.to_string())
    };
    let expect_err = |fail: &str, want: &str| {
        let err = run(fail).expect_err(fail);
        assert!(err.contains(want), "fail={fail}: {err}");
    };
    expect_err(
        "panic_forward",
        "operator faulty (plugin): the forward kernel panicked: fail=panic_forward: deliberate \
         panic in the kernel",
    );
    expect_err(
        "error_forward",
        "operator faulty (plugin): the forward kernel failed: negative input -1 at index 1",
    );
    expect_err(
        "error_create",
        "operator faulty (plugin): parameter parsing (create) failed: fail=error_create: \
         refusing to create",
    );
    expect_err(
        "panic_create",
        "operator faulty (plugin): parameter parsing (create) panicked: fail=panic_create",
    );
    expect_err(
        "panic_shape",
        "operator faulty (plugin): shape inference panicked: fail=panic_shape",
    );
    expect_err(
        "error_shape",
        "operator faulty: fail=error_shape: no shape for you; input shapes: data=(3,)",
    );
    // The same operator, and everything else, still works.
    assert_eq!(run("none").unwrap(), vec![1.0, -1.0, 2.0]);
    let positive = NDArray::from_vec(&[2], vec![1.0f32, 2.0]).unwrap();
    let y = nd::invoke("faulty", &[&positive], &[("fail", "error_forward")]).unwrap();
    assert_eq!(y[0].to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    assert_eq!((&x + 1.0).to_vec::<f32>().unwrap(), vec![2.0, 0.0, 3.0]);

    // A panicking backward kernel fails the backward pass only.
    let op = registry::create("faulty", &[("fail", "panic_backward")], None).unwrap();
    let h = HostTensor::from_f32(&[2], vec![1.0, 2.0]);
    let one = std::slice::from_ref(&h);
    let err = check::gradients(&op, one, one, false, 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("the backward kernel panicked: fail=panic_backward"),
        "{err}"
    );
    let op = registry::create("faulty", &[], None).unwrap();
    let g = check::gradients(&op, one, one, false, 0).unwrap();
    assert_eq!(g[0].as_ref().unwrap().to_f32(), vec![1.0, 2.0]);
}

#[test]
fn an_operator_without_a_backward_kernel_has_no_gradient() {
    let p = faulty();
    assert_eq!(p.op_names(), ["faulty", "tally", "opaque"]);
    assert!(!p.ops()[2].has_backward);
    assert!(registry::lookup("_backward_opaque").is_err());
    // The registry says so, as for MXNet's operators registered without FGradient.
    assert!(!registry::lookup("opaque").unwrap().has_gradient());
    assert!(registry::lookup("faulty").unwrap().has_gradient());
    let _names = NameManager::scope();
    let x = Symbol::variable("x");
    let y = Symbol::op("opaque", &[("", &x)], &[], None).unwrap();
    let args = vec![NDArray::from_vec(&[2], vec![1.0f32, 2.0]).unwrap()];
    let mut exe = y
        .bind(
            Context::cpu(0),
            args.clone(),
            vec![None],
            &[GradReq::Null],
            vec![],
        )
        .unwrap();
    exe.forward(false).unwrap();
    assert_eq!(exe.outputs()[0].to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    let err = y
        .bind(
            Context::cpu(0),
            args,
            vec![Some(NDArray::zeros(&[2]).unwrap())],
            &[GradReq::Write],
            vec![],
        )
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "operator opaque: a gradient (the plugin has no backward kernel) is not supported"
        ),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_error() {
    let err = mxr::plugin::load("/no/such/dir/libnothing.so").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("plugin /no/such/dir/libnothing.so: cannot open the library: "),
        "{text}"
    );
    assert!(text.contains("No such file or directory"), "{text}");
}

/// A shared library this process already has mapped: the C library.
fn system_library() -> PathBuf {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("Linux /proc");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            let name = Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            name.starts_with("libc.so") || name.starts_with("libc-")
        })
        .map(PathBuf::from)
        .expect("libc is mapped")
}

#[test]
fn a_library_without_the_entry_points_is_an_error() {
    let libc = system_library();
    let err = mxr::plugin::load(&libc).unwrap_err().to_string();
    assert!(
        err.contains("not an mxr plugin (no `mxr_plugin_abi_version`)"),
        "{err}"
    );
    assert!(
        err.contains("undefined symbol: mxr_plugin_abi_version"),
        "{err}"
    );
    // Not a library at all.
    let text = std::env::temp_dir().join(format!("mxr-not-a-lib-{}.so", std::process::id()));
    std::fs::write(&text, "hello").unwrap();
    let err = mxr::plugin::load(&text).unwrap_err().to_string();
    std::fs::remove_file(&text).unwrap();
    assert!(err.contains("cannot load the library"), "{err}");
}

#[test]
fn an_abi_version_mismatch_is_refused_before_registration() {
    // The test plugin's register function aborts the process: reaching it would fail the run.
    let path = plugin_path("mxr_plugin_test_abi_mismatch");
    let err = mxr::plugin::load(&path).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "built for plugin ABI version {}, but this mxr speaks version {}",
            mxr_plugin_abi::ABI_VERSION + 1000,
            mxr_plugin_abi::ABI_VERSION
        )),
        "{err}"
    );
    assert!(
        !mxr::plugin::loaded()
            .iter()
            .any(|p| p.path().ends_with(path.file_name().unwrap()))
    );
}

#[test]
fn a_duplicate_operator_name_is_refused() {
    let first = swish();
    // The same library under another name: a second plugin defining `swish`.
    let dir = std::env::temp_dir().join(format!("mxr-plugin-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("libswish_again.so");
    std::fs::copy(first.path(), &copy).unwrap();
    let err = mxr::plugin::load(&copy).unwrap_err();
    let copy_canonical = std::fs::canonicalize(&copy).unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot register operator `swish` from {}: the name is taken by an operator from {}",
            copy_canonical.display(),
            first.path().display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // The first registration is untouched.
    assert_eq!(registry::origin("swish").as_deref(), first.path().to_str());
    let x = NDArray::from_vec(&[1], vec![0.0f32]).unwrap();
    assert_eq!(
        nd::invoke("swish", &[&x], &[]).unwrap()[0]
            .to_vec::<f32>()
            .unwrap(),
        [0.0]
    );
}
