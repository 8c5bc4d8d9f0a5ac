use crate::check::{
    GradCheck, HostTensor, check_gradient, gradients, infer_shapes, run, run_seeded,
};
use crate::ops::test_util::{assert_create_err, make_op};
use crate::registry::{Resource, Shape};

fn data(shape: &[usize]) -> HostTensor {
    let n: usize = shape.iter().product();
    HostTensor::from_f32(shape, (0..n).map(|i| i as f32 * 0.5 - 3.0).collect())
}

#[test]
fn inference_is_the_identity() {
    let op = make_op("Dropout", &[("p", "0.5")]);
    assert_eq!((op.num_outputs(), op.num_visible_outputs()), (2, 1));
    assert_eq!(op.resources(), vec![Resource::Random]);
    let x = data(&[3, 4]);
    let out = run(op.as_ref(), &mut [x.clone()], false).unwrap();
    assert_eq!(out[0], x);
    assert_eq!(out[1].to_f64(), vec![1.0; 12]);
    // p = 0 is the identity in training too.
    let op = make_op("Dropout", &[("p", "0")]);
    assert_eq!(run(op.as_ref(), &mut [x.clone()], true).unwrap()[0], x);
}

#[test]
fn training_drops_and_rescales() {
    let op = make_op("Dropout", &[("p", "0.25")]);
    let x = HostTensor::from_f32(&[100, 40], vec![1.0; 4000]);
    let out = run(op.as_ref(), &mut [x.clone()], true).unwrap();
    let (y, mask) = (out[0].to_f64(), out[1].to_f64());
    let kept = 1.0 / 0.75;
    assert!(
        mask.iter().all(|&m| m == 0.0 || (m - kept).abs() < 1e-6),
        "mask values"
    );
    assert_eq!(y, mask, "y = 1 · mask");
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / 4000.0;
    assert!((dropped - 0.25).abs() < 0.03, "dropped fraction {dropped}");
    // Seeded: the same seed gives the same mask, another seed another one.
    let again = run(op.as_ref(), &mut [x.clone()], true).unwrap();
    assert_eq!(again, out);
    let other = run_seeded(op.as_ref(), &mut [x.clone()], true, 9).unwrap();
    assert_ne!(other[1], out[1]);
    // mode='always' applies it in inference; p = 1 drops everything.
    let always = make_op("Dropout", &[("p", "0.25"), ("mode", "always")]);
    let out = run(always.as_ref(), &mut [x.clone()], false).unwrap();
    assert!(out[1].to_f64().contains(&0.0));
    let all = make_op("Dropout", &[("p", "1"), ("mode", "always")]);
    let out = run(all.as_ref(), &mut [x], false).unwrap();
    assert_eq!(out[0].to_f64(), vec![0.0; 4000]);
}

#[test]
fn axes_share_one_mask_value() {
    let op = make_op("Dropout", &[("p", "0.5"), ("axes", "(0, 2)")]);
    let x = HostTensor::from_f32(&[5, 8, 3], vec![1.0; 120]);
    let out = run(op.as_ref(), &mut [x], true).unwrap();
    let m = out[1].to_f64();
    for j in 0..8 {
        let v = m[j * 3];
        for i in 0..5 {
            for k in 0..3 {
                assert_eq!(m[(i * 8 + j) * 3 + k], v, "shared along axes 0 and 2");
            }
        }
    }
    let column: Vec<f64> = (0..8).map(|j| m[j * 3]).collect();
    assert!(column.contains(&0.0) && column.contains(&2.0), "{column:?}");
    let err = infer_shapes(op.as_ref(), &[Shape::known(&[5, 8])]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Dropout") && msg.contains("axes"), "{msg}");
}

#[test]
fn gradient_is_the_head_times_the_mask() {
    for attrs in [vec![("p", "0.4")], vec![("p", "0.3"), ("axes", "(1,)")]] {
        let op = make_op("Dropout", &attrs);
        let x = data(&[4, 5]);
        check_gradient(&op, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        let mask = run(op.as_ref(), &mut [x.clone()], true).unwrap()[1].to_f32();
        let g = HostTensor::from_f32(&[4, 5], (0..20).map(|i| i as f32).collect());
        let zeros = HostTensor::from_f32(&[4, 5], vec![0.0; 20]);
        let dx = gradients(&op, &[x], &[g.clone(), zeros], true, 0).unwrap();
        let want: Vec<f32> = g.to_f32().iter().zip(&mask).map(|(a, b)| a * b).collect();
        assert_eq!(dx[0].as_ref().unwrap().to_f32(), want);
    }
    // In inference the gradient passes through.
    let op = make_op("Dropout", &[]);
    let opts = GradCheck {
        is_train: false,
        ..GradCheck::default()
    };
    check_gradient(&op, &[data(&[2, 3])], &opts).unwrap();
    let back = make_op("_backward_Dropout", &[]);
    assert_eq!(back.input_names(), vec!["ograd", "mask"]);
    let out = run(
        back.as_ref(),
        &mut [
            HostTensor::from_f32(&[3], vec![1.0, 2.0, 3.0]),
            HostTensor::from_f32(&[3], vec![2.0, 0.0, 2.0]),
        ],
        true,
    )
    .unwrap();
    assert_eq!(out[0].to_f64(), vec![2.0, 0.0, 6.0]);
}

#[test]
fn bad_parameters_are_named() {
    assert_create_err("Dropout", &[("p", "1.5")], &["`p`"]);
    assert_create_err("Dropout", &[("mode", "train")], &["mode", "always"]);
    let op = make_op("Dropout", &[("p", "0.25"), ("cudnn_off", "True")]);
    assert_eq!(
        op.attrs(),
        vec![
            ("p".to_string(), "0.25".to_string()),
            ("cudnn_off".to_string(), "True".to_string()),
        ]
    );
}

/// The GPU kernels agree with the CPU bit for bit for the same seed (the mask is drawn on the
/// host in the CPU kernel's order): training, inference, `mode='always'`, p = 0 and 1, shared
/// axes, odd and empty shapes; and the backward op.
#[test]
fn gpu_matches_cpu() {
    use crate::check::gpu::{compare_with_cpu, test_device};
    let dev = test_device().unwrap();
    type Case<'a> = (&'a [usize], Vec<(&'a str, &'a str)>, bool);
    let cases: [Case<'_>; 9] = [
        (&[3, 7], vec![], true),
        (&[3, 7], vec![], false),
        (&[3, 7], vec![("mode", "always")], false),
        (&[5, 3], vec![("p", "0")], true),
        (&[5, 3], vec![("p", "1")], true),
        (&[2, 3, 5], vec![("p", "0.3"), ("axes", "(1,)")], true),
        (&[2, 3, 5], vec![("p", "0.7"), ("axes", "(0, 2)")], true),
        (&[101], vec![("p", "0.25")], true),
        (&[0, 4], vec![], true),
    ];
    for (shape, attrs, train) in cases {
        let n: usize = shape.iter().product();
        let x = HostTensor::from_f32(shape, (0..n).map(|i| i as f32 * 0.5 - 3.0).collect());
        let op = make_op("Dropout", &attrs);
        compare_with_cpu(op.as_ref(), &dev, std::slice::from_ref(&x), train, 0.0, 0.0)
            .unwrap_or_else(|e| panic!("{attrs:?} train={train}: {e}"));
        let mask = crate::check::run_seeded(op.as_ref(), &mut [x], train, 7)
            .unwrap()
            .remove(1);
        let g = HostTensor::from_f32(shape, (0..n).map(|i| (i % 5) as f32 - 2.0).collect());
        let back = make_op("_backward_Dropout", &attrs);
        compare_with_cpu(back.as_ref(), &dev, &[g, mask], train, 0.0, 0.0)
            .unwrap_or_else(|e| panic!("backward {attrs:?}: {e}"));
    }
}
