//! Ordering and concurrency semantics, shown with timestamps and counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mxr::engine::{Context, Engine, EngineConfig, EngineKind, Error, Operation, Var};
use parking_lot::Mutex;

use crate::util::{on_each_config, on_each_engine, threaded, with_timeout};

type Intervals = Arc<Mutex<Vec<(bool, Instant, Instant)>>>;

/// Pushes the operation `name` on `reads` and `writes`: it sleeps for `hold` and logs its
/// interval in `log`, marked a write when `write`.
fn push_timed(
    engine: &Engine,
    log: &Intervals,
    name: &'static str,
    (reads, writes): (&[&Var], &[&Var]),
    write: bool,
    hold: Duration,
) {
    let log = Arc::clone(log);
    engine
        .push_sync(name, reads, writes, move |_| {
            let start = Instant::now();
            std::thread::sleep(hold);
            log.lock().push((write, start, Instant::now()));
            Ok(())
        })
        .unwrap();
}

/// Two operations `name` on one var of a 2-worker engine, each listing it `reads` times as read
/// and once as written when `write`, each held for `hold`: their intervals in the order they
/// ended, and the var's final version.
fn twice_on_one_var(
    name: &'static str,
    reads: usize,
    write: bool,
    hold: Duration,
) -> (Vec<(bool, Instant, Instant)>, u64) {
    let engine = threaded(2);
    let v = Var::new();
    let log: Intervals = Arc::default();
    let read_list = vec![&v; reads];
    let write_list = if write { vec![&v] } else { vec![] };
    for _ in 0..2 {
        push_timed(&engine, &log, name, (&read_list, &write_list), write, hold);
    }
    engine.wait_all().unwrap();
    let log = log.lock().clone();
    (log, v.version())
}

#[test]
fn reads_of_one_var_overlap_in_time() {
    with_timeout(30, || {
        let (log, _) = twice_on_one_var("read", 1, false, Duration::from_millis(150));
        let (a, b) = (log[0], log[1]);
        // Two intervals overlap when each starts before the other ends.
        assert!(
            a.1 < b.2 && b.1 < a.2,
            "reads ran one after the other: {log:?}"
        );
    });
}

#[test]
fn a_write_never_overlaps_another_access_to_its_var() {
    with_timeout(60, || {
        let engine = threaded(4);
        let v = Var::new();
        let log: Intervals = Arc::default();
        for i in 0..60 {
            let write = i % 3 == 0;
            let (reads, writes): (&[&Var], &[&Var]) =
                if write { (&[], &[&v]) } else { (&[&v], &[]) };
            let hold = Duration::from_millis(2);
            push_timed(&engine, &log, "access", (reads, writes), write, hold);
        }
        engine.wait_all().unwrap();
        let log = log.lock();
        assert_eq!(log.len(), 60);
        for (i, a) in log.iter().enumerate() {
            for b in log.iter().skip(i + 1) {
                let overlap = a.1 < b.2 && b.1 < a.2;
                assert!(
                    !(overlap && (a.0 || b.0)),
                    "a write overlapped: {a:?} {b:?}"
                );
            }
        }
        // Some reads did overlap (between two writes, reads run together).
        let read_overlaps = log
            .iter()
            .enumerate()
            .flat_map(|(i, a)| log.iter().skip(i + 1).map(move |b| (a, b)))
            .filter(|(a, b)| !a.0 && !b.0 && a.1 < b.2 && b.1 < a.2)
            .count();
        assert!(read_overlaps > 0, "reads never ran together");
    });
}

#[test]
fn the_worked_example_of_the_spec() {
    // shared/spec/engine.md §10: final versions Va 2, Vb 1, Vc 1, Vd 1, Ve 1, and the values of
    // a = 0; b = a + 1; c = a * 2; a += 1; d = b + c; e = a + d.
    on_each_engine(30, |label, engine| {
        let vars: Vec<Var> = (0..5).map(|_| Var::new()).collect();
        let [va, vb, vc, vd, ve] = [0, 1, 2, 3, 4].map(|i| &vars[i]);
        let data = Arc::new(Mutex::new([0i64; 5]));
        let op = |f: fn(&mut [i64; 5])| {
            let data = Arc::clone(&data);
            move |_: &_| {
                f(&mut data.lock());
                Ok(())
            }
        };
        engine
            .push_sync("a = 0", &[], &[va], op(|d| d[0] = 0))
            .unwrap();
        engine
            .push_sync("b = a + 1", &[va], &[vb], op(|d| d[1] = d[0] + 1))
            .unwrap();
        engine
            .push_sync("c = a * 2", &[va], &[vc], op(|d| d[2] = d[0] * 2))
            .unwrap();
        engine
            .push_sync("a += 1", &[va], &[va], op(|d| d[0] += 1))
            .unwrap();
        engine
            .push_sync("d = b + c", &[vb, vc], &[vd], op(|d| d[3] = d[1] + d[2]))
            .unwrap();
        engine
            .push_sync("e = a + d", &[va, vd], &[ve], op(|d| d[4] = d[0] + d[3]))
            .unwrap();
        engine.wait_for_var(ve).unwrap();
        assert_eq!(*data.lock(), [1, 1, 0, 1, 2], "{label}");
        let versions: Vec<u64> = vars.iter().map(Var::version).collect();
        assert_eq!(versions, [2, 1, 1, 1, 1], "{label}");
    });
}

#[test]
fn many_threads_pushing_at_once() {
    on_each_config(60, |label, config| {
        let engine = Arc::new(Engine::new(config).unwrap());
        let shared = Var::new();
        let total = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (engine, shared, total) =
                    (Arc::clone(&engine), shared.clone(), Arc::clone(&total));
                std::thread::spawn(move || {
                    let own = Var::new();
                    let log = Arc::new(Mutex::new(Vec::new()));
                    for i in 0..2000 {
                        let log = Arc::clone(&log);
                        engine
                            .push_sync("own", &[], &[&own], move |_| {
                                log.lock().push(i);
                                Ok(())
                            })
                            .unwrap();
                        let total = Arc::clone(&total);
                        engine
                            .push_sync("shared", &[&own], &[&shared], move |_| {
                                total.fetch_add(1, Ordering::Relaxed);
                                Ok(())
                            })
                            .unwrap();
                    }
                    engine.wait_for_var(&own).unwrap();
                    // Push order is kept per var, whatever the other threads do.
                    assert_eq!(*log.lock(), (0..2000).collect::<Vec<_>>(), "thread {t}");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        engine.wait_for_var(&shared).unwrap();
        assert_eq!(total.load(Ordering::Relaxed), 8000, "{label}");
        assert_eq!(shared.version(), 8000, "{label}");
    });
}

#[test]
fn priority_lane_runs_first() {
    with_timeout(30, || {
        let engine = threaded(1);
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        let order = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&gate);
        // Occupy the only worker until every other operation is queued.
        engine
            .push_sync("gate", &[], &[&Var::new()], move |_| {
                drop(g.lock());
                Ok(())
            })
            .unwrap();
        for i in 0..10 {
            let order = Arc::clone(&order);
            let body = move |_: &_| {
                order.lock().push(i);
                Ok(())
            };
            engine
                .push(Operation::sync("normal", body).writes(&[&Var::new()]))
                .unwrap();
        }
        let o = Arc::clone(&order);
        let urgent = move |_: &_| {
            o.lock().push(100);
            Ok(())
        };
        engine
            .push(
                Operation::sync("urgent", urgent)
                    .writes(&[&Var::new()])
                    .priority(5),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        engine.wait_all().unwrap();
        let order = order.lock();
        assert_eq!(order[0], 100, "{order:?}");
        assert_eq!(&order[1..], (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn naive_engine_runs_inline_at_push() {
    let engine = Engine::new(EngineConfig::default().with_kind(EngineKind::Naive)).unwrap();
    let v = Var::new();
    let ran_on = Arc::new(Mutex::new(None));
    let r = Arc::clone(&ran_on);
    engine
        .push_sync("where", &[], &[&v], move |rc| {
            *r.lock() = Some((std::thread::current().id(), rc.worker()));
            Ok(())
        })
        .unwrap();
    // No wait: the operation already ran, on this thread.
    assert_eq!(
        *ran_on.lock(),
        Some((std::thread::current().id(), u32::MAX))
    );
    assert_eq!(v.version(), 1);
    assert_eq!(engine.pending(), 0);
}

#[test]
fn operations_run_on_named_workers() {
    let engine = threaded(2);
    let name = Arc::new(Mutex::new(String::new()));
    let n = Arc::clone(&name);
    let v = Var::new();
    engine
        .push_sync("name", &[], &[&v], move |rc| {
            *n.lock() = std::thread::current().name().unwrap_or_default().to_owned();
            assert!(rc.worker() < 2);
            assert_eq!(rc.context(), Context::cpu(0));
            Ok(())
        })
        .unwrap();
    engine.wait_for_var(&v).unwrap();
    assert!(name.lock().starts_with("mxr-cpu-"), "{}", name.lock());
}

#[test]
fn back_pressure_caps_operations_in_flight() {
    with_timeout(60, || {
        let cap = 64;
        let engine = Engine::new(
            EngineConfig::default()
                .with_cpu_workers(2)
                .with_max_inflight(cap),
        )
        .unwrap();
        let v = Var::new();
        let mut most = 0;
        for _ in 0..3000 {
            engine
                .push_sync("slow", &[], &[&v], |_| {
                    std::thread::sleep(Duration::from_micros(20));
                    Ok(())
                })
                .unwrap();
            most = most.max(engine.pending());
        }
        engine.wait_all().unwrap();
        assert!(
            most <= cap + 1,
            "{most} operations in flight with a cap of {cap}"
        );
        assert!(most >= cap / 2, "the cap was never approached ({most})");
        assert_eq!(v.version(), 3000);
    });
}

#[test]
fn pushes_from_inside_an_operation_never_block_on_back_pressure() {
    with_timeout(30, || {
        let engine = Arc::new(
            Engine::new(
                EngineConfig::default()
                    .with_cpu_workers(1)
                    .with_max_inflight(4),
            )
            .unwrap(),
        );
        let count = Arc::new(AtomicUsize::new(0));
        let (e, c) = (Arc::clone(&engine), Arc::clone(&count));
        let parent = Var::new();
        engine
            .push_sync("spawner", &[], &[&parent], move |_| {
                for _ in 0..100 {
                    let c = Arc::clone(&c);
                    e.push_sync("child", &[], &[&Var::new()], move |_| {
                        c.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    })?;
                }
                Ok(())
            })
            .unwrap();
        engine.wait_all().unwrap();
        assert_eq!(count.load(Ordering::Relaxed), 100);
    });
}

#[test]
fn a_gpu_that_does_not_exist_is_refused() {
    // gpu(7): absent with no driver, and beyond the two emulated GPUs other tests switch on.
    let engine = threaded(1);
    let v = Var::new();
    let err = engine
        .push(
            Operation::sync("on_gpu", |_| Ok(()))
                .writes(&[&v])
                .context(Context::gpu(7)),
        )
        .unwrap_err();
    assert!(matches!(err, Error::DeviceUnavailable { context, .. } if context == Context::gpu(7)));
    assert!(err.to_string().contains("gpu(7)"), "{err}");
    assert_eq!(v.version(), 0);
}

#[test]
fn a_var_listed_as_read_and_write_counts_as_a_write() {
    with_timeout(30, || {
        let (log, version) = twice_on_one_var("rw", 2, true, Duration::from_millis(60));
        let (a, b) = (log[0], log[1]);
        assert!(a.2 <= b.1, "read+write operations overlapped: {log:?}");
        assert_eq!(version, 2);
    });
}

#[test]
fn inline_if_ready_runs_on_the_pusher_only_when_ready() {
    with_timeout(30, || {
        let engine = Engine::new(EngineConfig::default().with_cpu_workers(2)).unwrap();
        let v = Var::new();
        let me = std::thread::current().id();
        // Ready at push: runs before push returns, on this thread.
        let ran_on = Arc::new(Mutex::new(None));
        let r = Arc::clone(&ran_on);
        engine
            .push(
                Operation::sync("ready", move |_| {
                    *r.lock() = Some(std::thread::current().id());
                    Ok(())
                })
                .writes(&[&v])
                .inline_if_ready(true),
            )
            .unwrap();
        assert_eq!(*ran_on.lock(), Some(me), "ran inline before push returned");
        // Not ready (a slow writer holds the var): queued, runs later on a worker, in order.
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = Arc::clone(&log);
        engine
            .push(
                Operation::sync("slow", move |_| {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    l.lock().push("slow");
                    Ok(())
                })
                .writes(&[&v]),
            )
            .unwrap();
        let l = Arc::clone(&log);
        let r = Arc::clone(&ran_on);
        engine
            .push(
                Operation::sync("after", move |_| {
                    l.lock().push("after");
                    *r.lock() = Some(std::thread::current().id());
                    Ok(())
                })
                .writes(&[&v])
                .inline_if_ready(true),
            )
            .unwrap();
        engine.wait_for_var(&v).unwrap();
        assert_eq!(*log.lock(), vec!["slow", "after"]);
        assert_ne!(
            *ran_on.lock(),
            Some(me),
            "a waiting operation runs on a worker"
        );
        // Errors of inline operations poison as usual.
        engine
            .push(
                Operation::sync("fails", |_| Err("inline failure".into()))
                    .writes(&[&v])
                    .inline_if_ready(true),
            )
            .unwrap();
        let err = engine.wait_for_var(&v).unwrap_err().to_string();
        assert!(err.contains("inline failure"), "{err}");
    });
}
