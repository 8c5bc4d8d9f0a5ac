//! `NDArrayIter` against MXNet 1.9.1's orders, pads and descriptions.

use crate::engine::Context;
use crate::io::{DataBatch, DataIter, Inputs, LastBatchHandle, NDArrayIter};
use crate::nd::NDArray;
use crate::{DType, Error};

/// Rows `[2i, 2i + 1]` with label `i`, as MXNet's tests here build them.
fn arrays(n: usize) -> (NDArray, NDArray) {
    let x = NDArray::from_vec(&[n, 2], (0..2 * n).map(|v| v as f32).collect::<Vec<_>>()).unwrap();
    let y = NDArray::from_vec(&[n], (0..n).map(|v| v as f32).collect::<Vec<_>>()).unwrap();
    (x, y)
}

fn labels(batch: &DataBatch) -> Vec<usize> {
    let y = batch.label[0].to_vec::<f32>().unwrap();
    let x = batch.data[0].to_vec::<f32>().unwrap();
    // Data and label rows travel together.
    let want: Vec<f32> = y.iter().flat_map(|&l| [2.0 * l, 2.0 * l + 1.0]).collect();
    assert_eq!(x, want);
    // The index tells the same rows.
    let index: Vec<usize> = y.iter().map(|&l| l as usize).collect();
    assert_eq!(batch.index.as_deref(), Some(index.as_slice()));
    index
}

type Epoch = Vec<(Vec<usize>, usize)>;

/// `epochs` epochs of (labels, pad) per batch, with a reset after each.
fn run(it: &mut NDArrayIter, epochs: usize) -> Vec<Epoch> {
    (0..epochs)
        .map(|_| {
            let epoch = it
                .batches()
                .map(|b| {
                    let b = b.unwrap();
                    (labels(&b), b.pad)
                })
                .collect();
            it.reset().unwrap();
            epoch
        })
        .collect()
}

fn iter(n: usize, b: usize, mode: LastBatchHandle, seed: Option<u32>) -> NDArrayIter {
    let (x, y) = arrays(n);
    let it = NDArrayIter::new(x, y, b).unwrap().last_batch_handle(mode);
    match seed {
        Some(s) => it.shuffle(s),
        None => it,
    }
}

fn epoch(batches: &[(&[usize], usize)]) -> Epoch {
    batches.iter().map(|(l, p)| (l.to_vec(), *p)).collect()
}

#[test]
fn pad_fills_the_last_batch_from_the_start() {
    let mut it = iter(10, 4, LastBatchHandle::Pad, None);
    let want = epoch(&[(&[0, 1, 2, 3], 0), (&[4, 5, 6, 7], 0), (&[8, 9, 0, 1], 2)]);
    assert_eq!(run(&mut it, 3), vec![want; 3]);
    // Default mode is pad.
    let (x, y) = arrays(10);
    let mut it = NDArrayIter::new(x, y, 4).unwrap();
    assert_eq!(run(&mut it, 1)[0].last().unwrap().1, 2);
}

#[test]
fn pad_larger_than_the_data_repeats_it() {
    // MXNet: NDArrayIter(np.arange(3), None, 8) -> [0 1 2 0 1 2 0 1], pad 5.
    let x = NDArray::arange(0.0, 3.0, 1.0).unwrap();
    let mut it = NDArrayIter::new(x, None, 8).unwrap();
    let b = it.next_batch().unwrap().unwrap();
    assert_eq!(
        b.data[0].to_vec::<f32>().unwrap(),
        [0., 1., 2., 0., 1., 2., 0., 1.]
    );
    assert_eq!((b.pad, b.label.len()), (5, 0));
    assert_eq!(b.index, Some(vec![0, 1, 2, 0, 1, 2, 0, 1]));
    assert!(it.next_batch().unwrap().is_none());
}

#[test]
fn discard_drops_the_incomplete_batch() {
    let mut it = iter(10, 4, LastBatchHandle::Discard, None);
    let want = epoch(&[(&[0, 1, 2, 3], 0), (&[4, 5, 6, 7], 0)]);
    assert_eq!(run(&mut it, 3), vec![want; 3]);
    let x = NDArray::arange(0.0, 3.0, 1.0).unwrap();
    let mut it = NDArrayIter::new(x, None, 8)
        .unwrap()
        .last_batch_handle(LastBatchHandle::Discard);
    assert!(it.next_batch().unwrap().is_none());
}

#[test]
fn roll_over_completes_the_batch_in_the_next_epoch() {
    let mut it = iter(10, 4, LastBatchHandle::RollOver, None);
    let first = epoch(&[(&[0, 1, 2, 3], 0), (&[4, 5, 6, 7], 0)]);
    let second = epoch(&[(&[8, 9, 0, 1], 2), (&[2, 3, 4, 5], 0), (&[6, 7, 8, 9], 0)]);
    assert_eq!(
        run(&mut it, 4),
        vec![first.clone(), second.clone(), first, second]
    );
}

#[test]
fn roll_over_reset_mid_epoch_starts_over() {
    let mut it = iter(10, 4, LastBatchHandle::RollOver, None);
    it.next_batch().unwrap().unwrap();
    it.reset().unwrap();
    let want = epoch(&[(&[0, 1, 2, 3], 0), (&[4, 5, 6, 7], 0)]);
    assert_eq!(run(&mut it, 1), vec![want]);
    // hard_reset drops the rolled-over rows.
    let mut it = iter(10, 4, LastBatchHandle::RollOver, None);
    run(&mut it, 1);
    it.hard_reset().unwrap();
    let b = it.next_batch().unwrap().unwrap();
    assert_eq!((labels(&b), b.pad), (vec![0, 1, 2, 3], 0));
}

#[test]
fn roll_over_with_batches_larger_than_the_data() {
    // MXNet, 4 rows in batches of 6: nothing, then [0 1 2 3 0 1] pad 4, then [2 3 0 1 2 3] pad 2.
    let mut it = iter(4, 6, LastBatchHandle::RollOver, None);
    let got = run(&mut it, 3);
    let want = vec![
        epoch(&[]),
        epoch(&[(&[0, 1, 2, 3, 0, 1], 4)]),
        epoch(&[(&[2, 3, 0, 1, 2, 3], 2)]),
    ];
    assert_eq!(got, want);
    // 3 rows in batches of 5: MXNet fails in the third epoch; mxr wraps around the data.
    let mut it = iter(3, 5, LastBatchHandle::RollOver, None);
    let got = run(&mut it, 3);
    assert_eq!(got[1], epoch(&[(&[0, 1, 2, 0, 1], 3)]));
    assert_eq!(got[2], epoch(&[(&[2, 0, 1, 2, 0], 1)]));
}

#[test]
fn shuffle_reproduces_mxnet_orders() {
    // np.random.seed(seed); mx.io.NDArrayIter(x, y, batch, True, last_batch_handle=mode)
    let mut it = iter(10, 4, LastBatchHandle::Pad, Some(42));
    let want = vec![
        epoch(&[(&[8, 1, 5, 0], 0), (&[7, 2, 9, 4], 0), (&[3, 6, 8, 1], 2)]),
        epoch(&[(&[3, 1, 0, 5], 0), (&[8, 4, 7, 9], 0), (&[6, 2, 3, 1], 2)]),
        epoch(&[(&[4, 5, 6, 8], 0), (&[2, 9, 0, 7], 0), (&[1, 3, 4, 5], 2)]),
        epoch(&[(&[8, 0, 6, 1], 0), (&[5, 9, 2, 3], 0), (&[7, 4, 8, 0], 2)]),
    ];
    assert_eq!(run(&mut it, 4), want);

    let mut it = iter(10, 4, LastBatchHandle::Discard, Some(1));
    let want = vec![
        epoch(&[(&[2, 9, 6, 4], 0), (&[0, 3, 1, 7], 0)]),
        epoch(&[(&[3, 4, 0, 6], 0), (&[8, 2, 1, 5], 0)]),
        epoch(&[(&[4, 0, 3, 5], 0), (&[2, 1, 6, 7], 0)]),
        epoch(&[(&[4, 1, 7, 0], 0), (&[5, 3, 6, 9], 0)]),
    ];
    assert_eq!(run(&mut it, 4), want);

    let mut it = iter(7, 3, LastBatchHandle::RollOver, Some(7));
    let want = vec![
        epoch(&[(&[2, 5, 0], 0), (&[6, 3, 1], 0)]),
        epoch(&[(&[4, 6, 5], 1), (&[4, 2, 1], 0)]),
        epoch(&[(&[0, 3, 5], 2), (&[3, 4, 6], 0), (&[1, 0, 2], 0)]),
        epoch(&[(&[0, 2, 1], 0), (&[3, 6, 4], 0)]),
    ];
    assert_eq!(run(&mut it, 4), want);
}

#[test]
fn shuffle_is_a_deterministic_permutation_per_seed() {
    let order = |seed: u32| -> Vec<Vec<usize>> {
        let mut it = iter(50, 10, LastBatchHandle::Discard, Some(seed));
        run(&mut it, 3)
            .into_iter()
            .map(|e| e.into_iter().flat_map(|(l, _)| l).collect())
            .collect()
    };
    let (a, b, c) = (order(3), order(3), order(4));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a[0], a[1], "each epoch draws a new order");
    for epoch in &a {
        let mut sorted = epoch.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}

#[test]
fn provide_data_and_label_describe_a_batch() {
    let (x, y) = arrays(6);
    let it = NDArrayIter::new(x.clone(), y.clone(), 4).unwrap();
    let d = &it.provide_data()[0];
    assert_eq!(
        (d.name.as_str(), d.shape.as_slice(), d.dtype),
        ("data", &[4, 2][..], DType::F32)
    );
    assert_eq!(d.to_string(), "DataDesc[data,(4, 2),float32]");
    let l = &it.provide_label()[0];
    assert_eq!(
        (l.name.as_str(), l.shape.as_slice()),
        ("softmax_label", &[4][..])
    );
    assert_eq!(l.to_string(), "DataDesc[softmax_label,(4,),float32]");
    assert_eq!(it.batch_size(), 4);

    // Renamed; no labels.
    let it = NDArrayIter::new(&x, None, 2)
        .unwrap()
        .data_name("img")
        .label_name("y");
    assert_eq!(it.provide_data()[0].name, "img");
    assert!(it.provide_label().is_empty());

    // A list: _i_data; named arrays: sorted by name (MXNet sorts its dict).
    let ints = NDArray::from_vec(&[6], vec![0i32; 6]).unwrap();
    let it = NDArrayIter::new(vec![x.clone(), ints.clone()], Inputs::None, 3).unwrap();
    let names: Vec<_> = it
        .provide_data()
        .into_iter()
        .map(|d| (d.name, d.dtype))
        .collect();
    assert_eq!(
        names,
        [
            ("_0_data".into(), DType::F32),
            ("_1_data".into(), DType::I32)
        ]
    );
    let it = NDArrayIter::new(
        vec![("b", x.clone()), ("a", ints.clone())],
        vec![("l", y)],
        3,
    )
    .unwrap();
    let names: Vec<_> = it.provide_data().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(it.provide_label()[0].name, "l");
}

#[test]
fn batches_keep_dtypes_and_are_copies() {
    let ints = NDArray::from_vec(&[4, 1], vec![1i32, 2, 3, 4]).unwrap();
    let mut it = NDArrayIter::new(vec![("a", ints.clone())], None, 2).unwrap();
    let b = it.next_batch().unwrap().unwrap();
    assert_eq!(b.data[0].dtype(), DType::I32);
    assert_eq!(b.data[0].shape(), &[2, 1]);
    assert_eq!(b.data[0].context(), Context::cpu(0));
    // Writing to a batch leaves the source alone (MXNet's batches are copies too).
    b.data[0].assign_scalar(9.0).unwrap();
    assert_eq!(ints.to_vec::<i32>().unwrap(), [1, 2, 3, 4]);
    assert!(!b.data[0].shares_storage_with(&ints));
}

#[test]
fn bad_arguments_are_errors() {
    let (x, y) = arrays(5);
    let short = NDArray::zeros(&[4]).unwrap();
    let scalar = NDArray::zeros(&[]).unwrap();
    let is_invalid =
        |r: crate::Result<NDArrayIter>| matches!(r, Err(Error::InvalidArgument { .. }));
    assert!(is_invalid(NDArrayIter::new(&x, &y, 0)));
    assert!(is_invalid(NDArrayIter::new(&x, &short, 2)));
    assert!(is_invalid(NDArrayIter::new(&scalar, None, 2)));
    assert!(is_invalid(NDArrayIter::new(Inputs::None, &y, 2)));
    assert!(is_invalid(NDArrayIter::new(
        vec![("a", x.clone()), ("a", x.clone())],
        None,
        2
    )));
    let err = NDArrayIter::new(&x, &short, 2).unwrap_err().to_string();
    assert!(
        err.contains("softmax_label") && err.contains("[4]"),
        "{err}"
    );
}

#[test]
fn empty_data_gives_no_batches() {
    let x = NDArray::zeros(&[0, 3]).unwrap();
    for mode in [
        LastBatchHandle::Pad,
        LastBatchHandle::Discard,
        LastBatchHandle::RollOver,
    ] {
        let mut it = NDArrayIter::new(&x, None, 2)
            .unwrap()
            .last_batch_handle(mode);
        assert_eq!(run(&mut it, 2), vec![epoch(&[]), epoch(&[])]);
    }
}

#[test]
fn last_batch_handle_parses_mxnet_names() {
    for mode in [
        LastBatchHandle::Pad,
        LastBatchHandle::Discard,
        LastBatchHandle::RollOver,
    ] {
        assert_eq!(LastBatchHandle::parse(mode.as_str()).unwrap(), mode);
    }
    assert!(LastBatchHandle::parse("wrap").is_err());
}

#[test]
fn batches_work_through_dyn_data_iter() {
    let (x, y) = arrays(6);
    let mut it = NDArrayIter::new(x, y, 3).unwrap();
    let dyn_it: &mut dyn DataIter = &mut it;
    let n = crate::io::Batches::new(dyn_it).count();
    assert_eq!(n, 2);
}
