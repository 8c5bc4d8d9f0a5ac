//! Deletion, shutdown and threads (the profiler: profiler.rs).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mxr::engine::{Engine, EngineConfig, Error, Var};
use parking_lot::Mutex;

use crate::util::{on_each_engine, threaded, with_timeout};

/// Waiting on or deleting the deleted `v` again is an error, never a hang.
fn assert_deleted(engine: &Engine, v: &Var) {
    assert!(matches!(
        engine.wait_for_var(v),
        Err(Error::VarDeleted { .. })
    ));
    assert!(matches!(
        engine.delete_var(v, || ()),
        Err(Error::VarDeleted { .. })
    ));
}

#[test]
fn delete_runs_after_every_earlier_operation() {
    on_each_engine(30, |label, engine| {
        let v = Var::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        for i in 0..50 {
            let log = Arc::clone(&log);
            let (reads, writes): (&[&Var], &[&Var]) = if i % 2 == 0 {
                (&[], &[&v])
            } else {
                (&[&v], &[])
            };
            engine
                .push_sync("use", reads, writes, move |_| {
                    std::thread::sleep(Duration::from_micros(200));
                    log.lock().push(i);
                    Ok(())
                })
                .unwrap();
        }
        let freed_after = Arc::new(Mutex::new(None));
        let (f, l) = (Arc::clone(&freed_after), Arc::clone(&log));
        engine
            .delete_var(&v, move || *f.lock() = Some(l.lock().len()))
            .unwrap();
        assert!(v.is_deleted());
        // Using or waiting on a deleted var is an error, never a hang.
        assert!(matches!(
            engine.push_sync("late", &[&v], &[], |_| Ok(())),
            Err(Error::VarDeleted { .. })
        ));
        assert_deleted(&engine, &v);
        engine.wait_all().unwrap();
        assert_eq!(*freed_after.lock(), Some(50), "{label}");
    });
}

#[test]
fn dropping_an_engine_finishes_pending_work() {
    on_each_engine(60, |label, engine| {
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..200 {
            let done = Arc::clone(&done);
            engine
                .push_sync("work", &[], &[&Var::new()], move |_| {
                    if i % 20 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
                .unwrap();
        }
        drop(engine);
        assert_eq!(done.load(Ordering::SeqCst), 200, "{label}");
    });
}

#[test]
fn shutdown_reports_an_unobserved_error() {
    with_timeout(30, || {
        let engine = threaded(2);
        engine
            .push_sync("lost", &[], &[&Var::new()], |_| Err("nobody looked".into()))
            .unwrap();
        let err = engine.shutdown().unwrap_err();
        assert!(err.to_string().contains("nobody looked"), "{err}");
    });
}

thread_local! {
    static SENTINEL: std::cell::RefCell<Option<Arc<()>>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn dropping_an_engine_joins_its_threads() {
    with_timeout(30, || {
        let engine = threaded(4);
        let alive = Arc::new(());
        // Park a clone of `alive` in each worker's thread-local storage: it is dropped only when
        // that thread exits.
        let vars: Vec<Var> = (0..64).map(|_| Var::new()).collect();
        for v in &vars {
            let a = Arc::clone(&alive);
            engine
                .push_sync("park", &[], &[v], move |_| {
                    std::thread::sleep(Duration::from_millis(1));
                    SENTINEL.with(|s| *s.borrow_mut() = Some(a));
                    Ok(())
                })
                .unwrap();
        }
        engine.wait_all().unwrap();
        assert!(Arc::strong_count(&alive) > 1);
        drop(engine);
        assert_eq!(
            Arc::strong_count(&alive),
            1,
            "a worker thread outlived its engine"
        );
    });
}

#[test]
fn invalid_configurations_are_errors() {
    // The name of the setting the engine refuses.
    let refused = |config: EngineConfig| match Engine::new(config) {
        Err(Error::Config { name, .. }) => name,
        other => panic!("expected a configuration error, got {other:?}"),
    };
    let defaults = EngineConfig::default;
    assert_eq!(refused(defaults().with_cpu_workers(0)), "cpu_workers");
    assert_eq!(refused(defaults().with_max_inflight(0)), "max_inflight");
}

#[test]
fn the_last_handle_dropped_inside_an_operation_shuts_down_cleanly() {
    with_timeout(30, || {
        let engine = Arc::new(threaded(2));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (finished_tx, finished) = std::sync::mpsc::channel::<()>();
        let e = Arc::clone(&engine);
        engine
            .push_sync("holds_the_engine", &[], &[&Var::new()], move |_| {
                gate.recv().expect("the test sends once");
                drop(e); // the last handle: shutdown runs on this worker
                finished_tx.send(()).expect("the test is waiting");
                Ok(())
            })
            .unwrap();
        drop(engine);
        release.send(()).unwrap();
        finished.recv().unwrap();
    });
}

#[test]
fn deleting_a_var_returns_its_storage_to_the_pool_after_the_last_use() {
    on_each_engine(30, |label, engine| {
        let pool = engine.cpu_storage().clone();
        let before = pool.stats();
        let buffer = Arc::new(Mutex::new(pool.alloc_zeroed(1000 * 4).unwrap()));
        let class = buffer.lock().capacity();
        assert_eq!(pool.stats().bytes_in_use, before.bytes_in_use + class);
        let v = Var::new();
        for i in 0..100 {
            let b = Arc::clone(&buffer);
            engine
                .push_sync("fill", &[], &[&v], move |_| {
                    b.lock().as_mut_slice::<f32>()[i] = i as f32;
                    Ok(())
                })
                .unwrap();
        }
        let sum = Arc::new(Mutex::new(0.0f32));
        let (b, s) = (Arc::clone(&buffer), Arc::clone(&sum));
        engine
            .push_sync("sum", &[&v], &[&Var::new()], move |_| {
                *s.lock() = b.lock().as_slice::<f32>().iter().sum();
                Ok(())
            })
            .unwrap();
        // The delete owns the last handle: the memory goes back only when it runs.
        engine.delete_var(&v, move || drop(buffer)).unwrap();
        engine.wait_all().unwrap();
        assert_eq!(*sum.lock(), (0..100).sum::<usize>() as f32, "{label}");
        let after = pool.stats();
        assert_eq!(after.bytes_in_use, before.bytes_in_use, "{label}");
        assert_eq!(after.bytes_pooled, before.bytes_pooled + class, "{label}");
        // The next allocation of that class reuses the block.
        let again = pool.alloc(1000 * 4).unwrap();
        assert_eq!(pool.stats().reuses, after.reuses + 1, "{label}");
        drop(again);
    });
}

#[test]
fn deleting_an_idle_var_frees_before_returning() {
    on_each_engine(30, |label, engine| {
        // Nothing was ever pushed on `v`: it is idle, freed at once.
        let v = Var::new();
        let freed = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&freed);
        engine
            .delete_var(&v, move || {
                f.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        assert_eq!(freed.load(Ordering::SeqCst), 1, "{label}: freed at once");
        assert_deleted(&engine, &v);
        // A var with pending work is freed after it, not at once (threaded engines; the
        // naive engine would run the gated operation inline at push and never return).
        if label.contains("naive") {
            return;
        }
        let busy = Var::new();
        let gate = Arc::new(AtomicUsize::new(0));
        let g = Arc::clone(&gate);
        engine
            .push_sync("slow", &[], &[&busy], move |_| {
                while g.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
                Ok(())
            })
            .unwrap();
        let f = Arc::clone(&freed);
        engine
            .delete_var(&busy, move || {
                f.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        assert_eq!(
            freed.load(Ordering::SeqCst),
            1,
            "{label}: not freed while in use"
        );
        gate.store(1, Ordering::SeqCst);
        engine.wait_all().unwrap();
        assert_eq!(
            freed.load(Ordering::SeqCst),
            2,
            "{label}: freed after the last use"
        );
    });
}
