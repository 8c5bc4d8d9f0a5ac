//! NDArray operators: arithmetic, in-place forms and aliasing, views, ordering of asynchronous
//! work (a randomized program against a host model), contexts, invoke by name, errors.

use mxr::engine::Context;
use mxr::nd::{self, NDArray};

fn vals(a: &NDArray) -> Vec<f32> {
    a.to_vec::<f32>().unwrap()
}

#[test]
fn arithmetic_matches_mxnet_scenario_3() {
    let a = NDArray::ones(&[10]).unwrap();
    let b = NDArray::ones(&[10]).unwrap();
    let c = (&a * 5.0 + &b) / 2.0;
    let d = &c + 1.0;
    assert_eq!(vals(&c), vec![3.0; 10]);
    assert_eq!(vals(&d), vec![4.0; 10]);
    let a = NDArray::ones(&[2, 3]).unwrap() * 2.0;
    let b = NDArray::ones(&[2, 3]).unwrap() * 4.0;
    assert_eq!(vals(&(&a + &b)), vec![6.0; 6]);
    assert_eq!(vals(&(&a * &b)), vec![8.0; 6]);
    assert_eq!(vals(&(&b - &a)), vec![2.0; 6]);
    assert_eq!(vals(&(&b / &a)), vec![2.0; 6]);
}

#[test]
fn scalars_on_either_side() {
    let x = NDArray::from_vec(&[3], vec![1.0f32, 2.0, 4.0]).unwrap();
    assert_eq!(vals(&(&x + 1.0)), vec![2.0, 3.0, 5.0]);
    assert_eq!(vals(&(1.0 + &x)), vec![2.0, 3.0, 5.0]);
    assert_eq!(vals(&(&x - 1.0)), vec![0.0, 1.0, 3.0]);
    assert_eq!(vals(&(1.0 - &x)), vec![0.0, -1.0, -3.0]);
    assert_eq!(vals(&(&x * 3.0)), vec![3.0, 6.0, 12.0]);
    assert_eq!(vals(&(&x / 2.0)), vec![0.5, 1.0, 2.0]);
    assert_eq!(vals(&(8.0 / &x)), vec![8.0, 4.0, 2.0]);
    assert_eq!(vals(&(-&x)), vec![-1.0, -2.0, -4.0]);
    let p = nd::invoke("_power_scalar", &[&x], &[("scalar", "2")]).unwrap();
    assert_eq!(vals(&p[0]), vec![1.0, 4.0, 16.0]);
}

#[test]
fn broadcasting_follows_numpy() {
    let a = NDArray::from_vec(&[2, 3], vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let row = NDArray::from_vec(&[3], vec![10.0f32, 20.0, 30.0]).unwrap();
    let col = NDArray::from_vec(&[2, 1], vec![100.0f32, 200.0]).unwrap();
    assert_eq!(vals(&(&a + &row)), vec![10.0, 21.0, 32.0, 13.0, 24.0, 35.0]);
    assert_eq!(
        vals(&(&a + &col)),
        vec![100.0, 101.0, 102.0, 203.0, 204.0, 205.0]
    );
    let err = nd::add(&a, &NDArray::ones(&[4]).unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("broadcast_add") && msg.contains("(2, 3)") && msg.contains("(4,)"),
        "{msg}"
    );
}

#[test]
fn in_place_forms_write_the_shared_storage() {
    let mut a = NDArray::ones(&[2, 3]).unwrap();
    let mut b = a.clone();
    let mut c = a.copy().unwrap();
    a += 1.0;
    b *= 3.0;
    c *= 3.0;
    assert_eq!(vals(&a), vec![6.0; 6]);
    assert_eq!(vals(&b), vec![6.0; 6]);
    assert_eq!(vals(&c), vec![3.0; 6]);
    let other = NDArray::full(&[2, 3], 2.0).unwrap();
    a -= &other;
    a /= &other;
    a += &other;
    a *= &other;
    assert_eq!(vals(&b), vec![8.0; 6]);
}

#[test]
fn views_share_storage_with_their_array() {
    let a = NDArray::from_vec(&[3, 2], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let mut row = a.slice(1, 2).unwrap();
    row += 10.0;
    assert_eq!(vals(&a), vec![1.0, 2.0, 13.0, 14.0, 5.0, 6.0]);
    let mut flat = a.reshape(&[-1]).unwrap();
    flat *= 2.0;
    assert_eq!(vals(&a), vec![2.0, 4.0, 26.0, 28.0, 10.0, 12.0]);
    // An operator reading a view and writing another view of the same storage.
    let top = a.slice(0, 1).unwrap();
    let bottom = a.slice(2, 3).unwrap();
    nd::invoke_into("_plus_scalar", &[&top], &[("scalar", "1")], &[&bottom]).unwrap();
    assert_eq!(vals(&a), vec![2.0, 4.0, 26.0, 28.0, 3.0, 5.0]);
    // a[1:2] = row of another array
    a.slice(1, 2)
        .unwrap()
        .assign(&NDArray::zeros(&[1, 2]).unwrap())
        .unwrap();
    assert_eq!(vals(&a), vec![2.0, 4.0, 0.0, 0.0, 3.0, 5.0]);
}

/// A random program of in-place and out-of-place operations over a few arrays (some of them
/// views of one storage) must give what running it in order on the host gives.
#[test]
fn random_programs_agree_with_sequential_execution() {
    let mut seed = 0x9e37_79b9_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _program in 0..20 {
        let base = NDArray::zeros(&[4, 4]).unwrap();
        // Arrays 0..4 are rows of `base` (one storage), 4..7 have storage of their own.
        let mut arrays: Vec<NDArray> = (0..4).map(|i| base.at(i).unwrap()).collect();
        for _ in 0..3 {
            arrays.push(NDArray::zeros(&[4]).unwrap());
        }
        let mut model: Vec<Vec<f64>> = vec![vec![0.0; 4]; arrays.len()];
        for _step in 0..200 {
            let i = next(7) as usize;
            let j = next(7) as usize;
            let s = (next(5) + 1) as f64;
            match next(5) {
                0 => {
                    arrays[i] += s;
                    model[i].iter_mut().for_each(|v| *v += s);
                }
                1 => {
                    arrays[i] *= 0.5;
                    model[i].iter_mut().for_each(|v| *v *= 0.5);
                }
                2 if i != j => {
                    let rhs = arrays[j].clone();
                    arrays[i] += &rhs;
                    let m = model[j].clone();
                    model[i].iter_mut().zip(m).for_each(|(v, w)| *v += w);
                }
                3 => {
                    let t = &arrays[j] * s;
                    arrays[i].assign(&t).unwrap();
                    model[i] = model[j].iter().map(|w| w * s).collect();
                }
                _ => {
                    let t = &arrays[j] - &arrays[i];
                    arrays[i].assign(&t).unwrap();
                    model[i] = model[j].iter().zip(&model[i]).map(|(w, v)| w - v).collect();
                }
            }
        }
        for (a, m) in arrays.iter().zip(&model) {
            let got = vals(a);
            for (g, w) in got.iter().zip(m) {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-3 * w.abs().max(1.0),
                    "{got:?} vs {m:?}"
                );
            }
        }
    }
}

#[test]
fn contexts_must_match_and_copies_move_between_them() {
    let a = NDArray::ones_on(&[2], Context::cpu(0)).unwrap();
    let b = NDArray::ones_on(&[2], Context::cpu(1)).unwrap();
    let err = nd::add(&a, &b).unwrap_err().to_string();
    assert!(err.contains("cpu(0)") && err.contains("cpu(1)"), "{err}");
    let moved = a.copy_to(Context::cpu(1)).unwrap();
    let c = &moved + &b;
    assert_eq!(c.context(), Context::cpu(1));
    assert_eq!(vals(&c), vec![2.0, 2.0]);
    {
        let _scope = nd::context_scope(Context::cpu(1));
        let z = nd::random_uniform(0.0, 1.0, &[3]).unwrap();
        assert_eq!(z.context(), Context::cpu(1));
    }
}

#[test]
fn invoke_by_name_with_out_and_errors() {
    let x = NDArray::from_vec(&[2, 2], vec![1.0f32, -2.0, 3.0, -4.0]).unwrap();
    let out = NDArray::zeros(&[2, 2]).unwrap();
    nd::invoke_into("Activation", &[&x], &[("act_type", "relu")], &[&out]).unwrap();
    assert_eq!(vals(&out), vec![1.0, 0.0, 3.0, 0.0]);
    // Wrong out shape.
    let small = NDArray::zeros(&[3]).unwrap();
    let err = nd::invoke_into("relu", &[&x], &[], &[&small])
        .unwrap_err()
        .to_string();
    assert!(err.contains("relu"), "{err}");
    // Unknown operator: suggestions.
    let err = nd::invoke("Activaton", &[&x], &[]).unwrap_err().to_string();
    assert!(err.contains("Activation"), "{err}");
    // Unknown parameter: the valid ones are listed.
    let err = nd::invoke("Activation", &[&x], &[("act", "relu")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("act_type"), "{err}");
    // Bad enum value: the accepted ones are listed.
    let err = nd::invoke("Activation", &[&x], &[("act_type", "ReLU")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("relu") && err.contains("sigmoid"), "{err}");
    // Shape mismatch names the op, its inputs and their shapes.
    let w = NDArray::zeros(&[5, 3]).unwrap();
    let err = nd::fully_connected(&x, &w, None, 5)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("FullyConnected") && err.contains("weight") && err.contains("(5, 3)"),
        "{err}"
    );
    // Wrong input count.
    let err = nd::invoke("elemwise_add", &[&x], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("elemwise_add") && err.contains("lhs"), "{err}");
}

#[test]
fn typed_helpers_compute_mxnets_values() {
    let x = NDArray::from_vec(&[2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    assert_eq!(
        vals(&nd::sum(&x, Some(&[0]), false).unwrap()),
        vec![5.0, 7.0, 9.0]
    );
    assert_eq!(vals(&nd::mean(&x, None, false).unwrap()), vec![3.5]);
    assert_eq!(
        vals(&nd::max(&x, Some(&[1]), true).unwrap()),
        vec![3.0, 6.0]
    );
    assert_eq!(vals(&nd::argmax(&x, Some(1)).unwrap()), vec![2.0, 2.0]);
    let s = nd::softmax(&x, -1).unwrap();
    let row: f32 = vals(&s)[..3].iter().sum();
    assert!((row - 1.0).abs() < 1e-6);
    let t = nd::transpose(&x, &[]).unwrap();
    assert_eq!(t.shape(), &[3, 2]);
    assert_eq!(vals(&t), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let d = nd::dot(&x, &t).unwrap();
    assert_eq!(vals(&d), vec![14.0, 32.0, 32.0, 77.0]);
    let e = nd::exp(&NDArray::zeros(&[2]).unwrap()).unwrap();
    assert_eq!(vals(&e), vec![1.0, 1.0]);
    let c = nd::concat(&[&x, &x], 0).unwrap();
    assert_eq!(c.shape(), &[4, 3]);
    let oh = nd::one_hot(&NDArray::from_vec(&[2], vec![1.0f32, 0.0]).unwrap(), 3).unwrap();
    assert_eq!(vals(&oh), vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn random_operators_are_seeded_and_dropout_follows_training_mode() {
    nd::random::seed(42).unwrap();
    let a = nd::random_normal(0.0, 1.0, &[64]).unwrap();
    nd::random::seed(42).unwrap();
    let b = nd::random_normal(0.0, 1.0, &[64]).unwrap();
    assert_eq!(vals(&a), vals(&b));
    let x = NDArray::ones(&[1000]).unwrap();
    let inference = nd::invoke("Dropout", &[&x], &[("p", "0.25")]).unwrap();
    assert_eq!(vals(&inference[0]), vec![1.0; 1000]);
    let _train = nd::train_mode(true);
    let trained = nd::invoke("Dropout", &[&x], &[("p", "0.25")]).unwrap();
    let v = vals(&trained[0]);
    assert!(v.iter().all(|&y| y == 0.0 || (y - 4.0 / 3.0).abs() < 1e-6));
    let dropped = v.iter().filter(|&&y| y == 0.0).count();
    assert!(
        (150..350).contains(&dropped),
        "{dropped} of 1000 dropped at p = 0.25"
    );
}

#[test]
fn failed_operators_report_on_read_and_leave_values() {
    let mut a = NDArray::ones(&[3]).unwrap();
    a += &NDArray::ones(&[2]).unwrap();
    let err = a.wait_to_read().unwrap_err().to_string();
    assert!(err.contains("broadcast_add"), "{err}");
    assert_eq!(vals(&a), vec![1.0; 3]);
    let bad = &a * &NDArray::ones(&[2]).unwrap();
    assert!(bad.to_vec::<f32>().is_err());
}
