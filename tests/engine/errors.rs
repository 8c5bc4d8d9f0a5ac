//! Errors travel with data: a failed or panicking operation poisons what it writes, readers are
//! skipped and pass the error on, the next wait on an affected var returns it, and unrelated vars
//! keep working (shared/spec/engine.md §7).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mxr::engine::{Engine, Error, Operation, Var};

use crate::util::{on_each_config, on_each_engine};

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn bump(
    c: &Arc<AtomicUsize>,
) -> impl FnOnce(&mxr::engine::RunContext) -> Result<(), mxr::engine::BoxError> + Send + 'static {
    let c = Arc::clone(c);
    move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_failure_flows_along_dependencies_only() {
    on_each_engine(30, |label, engine| {
        let (a, b, c, unrelated) = (Var::new(), Var::new(), Var::new(), Var::new());
        let ran = counter();
        engine
            .push_sync("fails", &[], &[&a], |_| Err("bad input".into()))
            .unwrap();
        engine
            .push_sync("b = f(a)", &[&a], &[&b], bump(&ran))
            .unwrap();
        engine
            .push_sync("c = g(b)", &[&b], &[&c], bump(&ran))
            .unwrap();
        engine
            .push_sync("other", &[], &[&unrelated], bump(&ran))
            .unwrap();
        let err = engine.wait_for_var(&c).unwrap_err();
        match &err {
            Error::OpFailed { op, source } => {
                assert_eq!(op, "fails", "{label}");
                assert_eq!(source.to_string(), "bad input");
            }
            other => panic!("{label}: unexpected {other:?}"),
        }
        assert!(err.to_string().contains("fails") && err.to_string().contains("bad input"));
        engine.wait_for_var(&unrelated).unwrap();
        // Only the unrelated operation ran; the dependants were skipped.
        assert_eq!(ran.load(Ordering::SeqCst), 1, "{label}");
        // The error is shared: observing it once clears it everywhere (MXNet's behaviour).
        engine.wait_for_var(&c).unwrap();
        engine.wait_for_var(&a).unwrap();
        engine.wait_all().unwrap();
        // The vars work again afterwards.
        engine.push_sync("again", &[&a], &[&b], bump(&ran)).unwrap();
        engine.wait_for_var(&b).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2, "{label}");
    });
}

#[test]
fn a_panic_becomes_an_error_and_the_worker_lives_on() {
    on_each_config(30, |label, config| {
        let engine = Engine::new(config.with_cpu_workers(1)).unwrap();
        let (a, b) = (Var::new(), Var::new());
        engine
            .push_sync("boom", &[], &[&a], |_| panic!("kernel exploded"))
            .unwrap();
        let ran = counter();
        for _ in 0..10 {
            engine.push_sync("after", &[], &[&b], bump(&ran)).unwrap();
        }
        match engine.wait_for_var(&a).unwrap_err() {
            Error::OpPanicked { op, message } => {
                assert_eq!(op, "boom");
                assert_eq!(message, "kernel exploded");
            }
            other => panic!("{label}: unexpected {other:?}"),
        }
        engine.wait_for_var(&b).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 10, "{label}");
    });
}

#[test]
fn wait_all_reports_the_first_error_once() {
    on_each_engine(30, |label, engine| {
        let (a, b) = (Var::new(), Var::new());
        engine
            .push_sync("first", &[], &[&a], |_| Err("one".into()))
            .unwrap();
        engine.wait_for_var(&b).unwrap();
        engine
            .push_sync("second", &[&a], &[&b], |_| Err("two".into()))
            .unwrap();
        let err = engine.wait_all().unwrap_err();
        assert!(
            matches!(&err, Error::OpFailed { op, .. } if op == "first"),
            "{label}: {err}"
        );
        engine.wait_all().unwrap();
        engine.wait_for_var(&a).unwrap();
        engine.wait_for_var(&b).unwrap();
    });
}

#[test]
fn asynchronous_operations_fail_or_drop_their_completion() {
    on_each_engine(30, |label, engine| {
        let (a, b, c) = (Var::new(), Var::new(), Var::new());
        engine
            .push(
                Operation::asynchronous("io", |_, done| {
                    std::thread::spawn(move || done.fail("disk on fire"));
                })
                .writes(&[&a]),
            )
            .unwrap();
        engine
            .push(Operation::asynchronous("forgetful", |_, done| drop(done)).writes(&[&b]))
            .unwrap();
        engine
            .push(
                Operation::asynchronous("async_panic", |_, _done| panic!("async boom"))
                    .writes(&[&c]),
            )
            .unwrap();
        let err = engine.wait_for_var(&a).unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{label}: {err}");
        let err = engine.wait_for_var(&b).unwrap_err();
        assert!(
            matches!(&err, Error::CompletionDropped { op } if op == "forgetful"),
            "{label}: {err}"
        );
        let err = engine.wait_for_var(&c).unwrap_err();
        assert!(
            matches!(&err, Error::OpPanicked { op, .. } if op == "async_panic"),
            "{label}: {err}"
        );
    });
}

#[test]
fn blocking_inside_an_operation_is_refused() {
    on_each_config(30, |label, config| {
        let engine = Arc::new(Engine::new(config).unwrap());
        let (e, v) = (Arc::clone(&engine), Var::new());
        let w = v.clone();
        engine
            .push_sync("waits", &[], &[&Var::new()], move |_| {
                assert!(matches!(
                    e.wait_all(),
                    Err(Error::WouldDeadlock { call: "wait_all" })
                ));
                assert!(matches!(
                    e.wait_for_var(&w),
                    Err(Error::WouldDeadlock { .. })
                ));
                Ok(())
            })
            .unwrap();
        engine.wait_all().unwrap_or_else(|e| panic!("{label}: {e}"));
    });
}
