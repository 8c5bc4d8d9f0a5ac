//! Bad input: clear errors naming the block or parameter, never a panic.

use mxr::gluon::nn::{BatchNorm, Dense};
use mxr::gluon::{Block, autograd};
use mxr::nd::{self, NDArray};

use super::common::{cpu, mlp, ramp, scratch};

fn message<T: std::fmt::Debug>(r: Result<T, mxr::gluon::Error>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn call_before_initialize_names_the_parameter() {
    let net = mlp();
    let err = message(net.call(&ramp(&[2, 5])));
    assert!(err.contains("hybridsequential0_dense0_weight"), "{err}");
    assert!(err.contains("initialize"), "{err}");
}

#[test]
fn unresolvable_deferred_shape_names_the_block() {
    // BatchNorm over axis 3 of a 2-D input: inference cannot give the channels.
    let bn = BatchNorm::new().axis(3);
    bn.initialize("xavier", cpu()).unwrap();
    let err = message(bn.call(&ramp(&[2, 5])));
    assert!(err.contains("batchnorm0_"), "{err}");
}

#[test]
fn backward_outside_record_is_an_error() {
    let x = ramp(&[3]);
    let y = nd::invoke("square", &[&x], &[]).unwrap().remove(0);
    let err = message(autograd::backward(&[&y]));
    assert!(err.contains("record"), "{err}");
    // Recorded something else: the head is still not in the graph.
    {
        let _rec = autograd::record();
        let d = Dense::new(2);
        d.initialize("xavier", cpu()).unwrap();
        d.call(&ramp(&[1, 3])).unwrap();
    }
    let err = message(autograd::backward(&[&y]));
    assert!(err.contains("not in a computational graph"), "{err}");
}

#[test]
fn parameter_files_that_do_not_fit_are_errors_naming_the_parameter() {
    let dir = scratch("badfiles");
    let net = mlp();
    net.initialize("xavier", cpu()).unwrap();
    net.call(&ramp(&[2, 5])).unwrap();
    let path = dir.join("good.params");
    net.save_parameters(&path).unwrap();
    let named = match nd::load(&path).unwrap() {
        nd::Loaded::Named(n) => n,
        nd::Loaded::List(_) => panic!("unnamed"),
    };
    let missing: Vec<(String, NDArray)> = named[1..].to_vec();
    nd::save_named(dir.join("missing.params"), &missing).unwrap();
    let err = message(net.load_parameters(&dir.join("missing.params"), cpu()));
    assert!(err.contains("0.weight") && err.contains("missing"), "{err}");
    let mut extra = named.clone();
    extra.push(("2.weight".into(), ramp(&[1])));
    nd::save_named(dir.join("extra.params"), &extra).unwrap();
    let err = message(net.load_parameters(&dir.join("extra.params"), cpu()));
    assert!(
        err.contains("2.weight") && err.contains("not a parameter"),
        "{err}"
    );
    let mut wrong = named.clone();
    wrong[0].1 = ramp(&[4, 6]);
    nd::save_named(dir.join("wrong.params"), &wrong).unwrap();
    let err = message(net.load_parameters(&dir.join("wrong.params"), cpu()));
    assert!(err.contains("0.weight") && err.contains("[4, 6]"), "{err}");
    let err = message(net.load_parameters(&dir.join("absent.params"), cpu()));
    assert!(err.contains("absent.params"), "{err}");
}
