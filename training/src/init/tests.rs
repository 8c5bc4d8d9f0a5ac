//! Name rules, JSON forms and scales from MXNet 1.9.1 (`mx.init.*`); random draws checked by
//! bounds and moments (mxr's generator is not MXNet's).
#![allow(clippy::excessive_precision)] // MXNet's printed values, kept as printed.

use super::json::{py_float, py_number};
use super::*;
use crate::DType;
use crate::nd::NDArray;

/// What an argument got: the weight rule's marker, a constant, or an error.
#[derive(Debug, PartialEq)]
enum Got {
    Weight,
    Value(f32),
    Error,
}

fn filled(arr: &NDArray) -> Got {
    let v = arr.to_vec::<f32>().unwrap();
    assert!(v.iter().all(|x| *x == v[0]), "not constant: {v:?}");
    if v[0] == 7.5 {
        Got::Weight
    } else {
        Got::Value(v[0])
    }
}

fn run(legacy: bool, name: &str, shape: &[usize]) -> Got {
    let init = Constant::new(7.5); // the weight rule's marker
    let arr = NDArray::full(shape, -3.0).unwrap();
    let result = if legacy {
        init.initialize_by_name(name, &arr)
    } else {
        init.initialize(&InitDesc::new(name), &arr)
    };
    match result {
        Ok(()) => filled(&arr),
        Err(e) => {
            assert!(matches!(e, crate::Error::InvalidArgument { .. }), "{e}");
            Got::Error
        }
    }
}

#[test]
fn name_rules_match_mxnet() {
    use Got::{Error as E, Value as V, Weight as W};
    // (name, InitDesc path, legacy path) as MXNet 1.9.1 fills a (6, 4) array.
    let table = [
        ("fc_weight", W, W),
        ("fc_bias", V(0.0), V(0.0)),
        ("bn_gamma", V(1.0), V(1.0)),
        ("bn_beta", V(0.0), V(0.0)),
        ("bn_moving_mean", E, V(0.0)),
        ("bn_moving_var", E, V(1.0)),
        ("bn_moving_inv_var", E, V(0.0)),
        ("x_moving_avg", E, V(0.0)),
        ("q_min", V(0.0), V(0.0)),
        ("q_max", V(1.0), V(1.0)),
        ("weight", W, W),
        ("bias", V(0.0), V(0.0)),
        ("stn_loc_weight", W, V(0.0)),
        ("stn_loc_bias", V(0.0), E), // legacy: the identity transform needs shape (6,)
        ("upsampling0_weight", W, E), // legacy: bilinear needs a 4-D weight
        ("foo", E, E),
        ("conv_bias_quantize", V(0.0), E),
    ];
    for (name, desc, legacy) in table {
        assert_eq!(run(false, name, &[6, 4]), desc, "InitDesc {name}");
        assert_eq!(run(true, name, &[6, 4]), legacy, "legacy {name}");
    }
    let loc = NDArray::zeros(&[6]).unwrap();
    Zero.initialize_by_name("stn_loc_bias", &loc).unwrap();
    assert_eq!(loc.to_vec::<f32>().unwrap(), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let up = NDArray::zeros(&[2, 1, 3, 5]).unwrap();
    Zero.initialize_by_name("upsampling0_weight", &up).unwrap();
    assert_eq!(
        up.to_vec::<f32>().unwrap()[..5],
        [
            0.1111111119389534,
            0.2222222238779068,
            0.3333333432674408,
            0.2222222238779068,
            0.1111111119389534
        ]
    );
    // weight_quantize: one random integer in [-127, 127) everywhere.
    let q = NDArray::zeros(&[3]).unwrap();
    Zero.initialize(&InitDesc::new("conv_weight_quantize"), &q)
        .unwrap();
    let v = q.to_vec::<f32>().unwrap();
    assert!(
        v.iter()
            .all(|x| *x == v[0] && x.fract() == 0.0 && (-127.0..127.0).contains(x)),
        "{v:?}"
    );
    let err = Zero.initialize(&InitDesc::new("foo"), &q).unwrap_err();
    assert!(err.to_string().contains("foo"), "{err}");
}

#[test]
fn init_attribute_overrides_the_name() {
    let arr = NDArray::full(&[2, 3], 7.0).unwrap();
    let xavier = Xavier::default();
    for (attr, want) in [
        (r#"["zero", {}]"#, 0.0),
        (r#"["constant", {"value": 2.5}]"#, 2.5),
        ("one", 1.0),
    ] {
        xavier
            .initialize(&InitDesc::new("bn_moving_var").attr("__init__", attr), &arr)
            .unwrap();
        assert_eq!(arr.to_vec::<f32>().unwrap(), [want as f32; 6], "{attr}");
    }
    // An empty attribute falls back to the name rules.
    xavier
        .initialize(&InitDesc::new("fc_bias").attr("__init__", ""), &arr)
        .unwrap();
    assert_eq!(arr.to_vec::<f32>().unwrap(), [0.0; 6]);
    assert!(
        xavier
            .initialize(
                &InitDesc::new("x").attr("__init__", r#"["nope", {}]"#),
                &arr
            )
            .is_err()
    );
}

#[test]
#[rustfmt::skip]
fn dumps_and_create_match_mxnet() {
    let cases: [(Box<dyn Initializer>, &str); 10] = [
        (Box::new(Xavier::new(RndType::Uniform, FactorType::In, 2.34)), r#"["xavier", {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.34}]"#),
        (Box::new(Xavier::default()), r#"["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 3}]"#),
        (Box::new(Normal::new(0.5)), r#"["normal", {"sigma": 0.5}]"#),
        (Box::new(Uniform::default()), r#"["uniform", {"scale": 0.07}]"#),
        (Box::new(Uniform::new(1e-8)), r#"["uniform", {"scale": 1e-08}]"#),
        (Box::new(Constant::new(3.0)), r#"["constant", {"value": 3}]"#),
        (Box::new(Constant::new(0.25)), r#"["constant", {"value": 0.25}]"#),
        (Box::new(Zero), r#"["zero", {}]"#),
        (Box::new(MsraPrelu::default()), r#"["msraprelu", {"factor_type": "avg", "slope": 0.25}]"#),
        (Box::new(LstmBias::default()), r#"["lstmbias", {"forget_bias": 1.0}]"#),
    ];
    for (init, want) in &cases {
        assert_eq!(init.dumps(), *want);
        // Round trip through create.
        assert_eq!(create(want).unwrap().dumps(), *want);
    }
    assert_eq!(One.dumps(), r#"["one", {}]"#);
    assert_eq!(Bilinear.dumps(), r#"["bilinear", {}]"#);
    // mx.init.create('xavier', magnitude=2).dumps()
    assert_eq!(create(r#"["xavier", {"magnitude": 2}]"#).unwrap().dumps(), r#"["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 2}]"#);
    assert_eq!(create("ONES").unwrap().dumps(), r#"["one", {}]"#);
    assert_eq!(create(r#"  ["gaussian"]  "#).err().map(|e| e.to_string().contains("gaussian")), Some(true));
    for bad in [r#"["xavier", {"rnd_type": "normal"}]"#, r#"["xavier", {"factor_type": 1}]"#, r#"["constant", {}]"#,
                r#"["zero", {"value": 1}]"#, r#"["xavier", {"magnitude": 2}"#, r#"{"xavier": 1}"#, "[1, {}]"] {
        assert!(create(bad).is_err(), "{bad}");
    }
}

#[test]
fn python_number_formatting() {
    // repr() of each value in Python.
    let cases = [
        (0.07, "0.07"),
        (1e-8, "1e-08"),
        (1.0, "1.0"),
        (3.0, "3.0"),
        (1e16, "1e+16"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
        (1.5e20, "1.5e+20"),
        (100.0, "100.0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
    ];
    for (v, want) in cases {
        assert_eq!(py_float(v), want, "{v:e}");
    }
    assert_eq!(py_number(3.0), "3");
    assert_eq!(py_number(-2.0), "-2");
    assert_eq!(py_number(2.34), "2.34");
    // Python's json.loads as MXNet reads the form: a repeated argument's last value wins;
    // not JSON, and NaN (which Python takes), are errors naming the column.
    let x = create(r#"[ "xavier", {"magnitude": 2, "rnd_type": "gaussian", "magnitude": 3} ]"#)
        .unwrap();
    assert_eq!(
        x.dumps(),
        r#"["xavier", {"rnd_type": "gaussian", "factor_type": "avg", "magnitude": 3}]"#
    );
    for (bad, column) in [
        ("[\"one\", {}", "column 10"),
        ("[\"one\"] x", "column 9"),
        (r#"["constant", {"value": NaN}]"#, "column 24"),
    ] {
        let e = create(bad).expect_err(bad).to_string();
        assert!(e.contains("invalid JSON") && e.contains(column), "{e}");
    }
    let e = create(r#"["constant", {"value": "1"}]"#)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(r#"value must be a number, got "1""#), "{e}");
}

#[test]
#[rustfmt::skip]
fn xavier_scale_matches_mxnet() {
    // np.sqrt(magnitude / factor) for magnitude 3 and 2.34.
    let table: [(&[usize], FactorType, f64, f64); 9] = [
        (&[64, 32, 3, 3], FactorType::Avg, 0.08333333333333333, 0.07359800721939871),
        (&[64, 32, 3, 3], FactorType::In, 0.10206207261596575, 0.09013878188659974),
        (&[64, 32, 3, 3], FactorType::Out, 0.07216878364870322, 0.06373774391990981),
        (&[10, 20], FactorType::Avg, 0.4472135954999579, 0.39496835316262996),
        (&[10, 20], FactorType::In, 0.3872983346207417, 0.34205262752974136),
        (&[10, 20], FactorType::Out, 0.5477225575051661, 0.48373546489791297),
        (&[7, 3, 5], FactorType::Avg, 0.34641016151377546, 0.3059411708155671),
        (&[7, 3, 5], FactorType::In, 0.4472135954999579, 0.39496835316262996),
        (&[7, 3, 5], FactorType::Out, 0.29277002188455997, 0.25856748221140036),
    ];
    for (shape, factor, s3, s234) in table {
        assert_eq!(Xavier::new(RndType::Uniform, factor, 3.0).scale(shape).unwrap(), s3, "{shape:?} {factor:?}");
        assert_eq!(Xavier::new(RndType::Gaussian, factor, 2.34).scale(shape).unwrap(), s234, "{shape:?} {factor:?}");
    }
    let err = Xavier::default().initialize_by_name("fc_weight", &NDArray::zeros(&[5]).unwrap()).unwrap_err();
    assert!(err.to_string().contains("fc_weight") && err.to_string().contains("2D"), "{err}");
    assert_eq!(MsraPrelu::new(FactorType::In, 0.0).xavier(), Xavier::new(RndType::Gaussian, FactorType::In, 2.0));
}

fn moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

fn draw(init: &dyn Initializer, shape: &[usize], dtype: DType) -> Vec<f64> {
    let arr = NDArray::new(shape, dtype, crate::nd::current_context()).unwrap();
    init.initialize(&InitDesc::new("layer_weight"), &arr)
        .unwrap();
    match dtype {
        DType::F64 => arr.to_vec::<f64>().unwrap(),
        _ => arr
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
    }
}

#[test]
fn random_initializers_have_the_right_distributions() {
    for dtype in [DType::F32, DType::F64] {
        // Uniform(0.5): in [-0.5, 0.5], mean 0, variance 0.5²/3.
        let v = draw(&Uniform::new(0.5), &[200, 100], dtype);
        assert!(v.iter().all(|x| x.abs() <= 0.5));
        let (mean, var) = moments(&v);
        assert!(
            mean.abs() < 0.01 && (var / (0.25 / 3.0) - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
        assert!(v.iter().any(|x| *x > 0.49) && v.iter().any(|x| *x < -0.49));

        // Normal(2.0): mean 0, standard deviation 2.
        let v = draw(&Normal::new(2.0), &[20000], dtype);
        let (mean, var) = moments(&v);
        assert!(
            mean.abs() < 0.07 && (var.sqrt() - 2.0).abs() < 0.06,
            "{mean} {var}"
        );

        // Xavier uniform on a conv weight: bounded by the scale, variance scale²/3.
        let shape = [64, 32, 3, 3];
        let xavier = Xavier::default();
        let scale = xavier.scale(&shape).unwrap();
        let v = draw(&xavier, &shape, dtype);
        assert!(v.iter().all(|x| x.abs() <= scale * (1.0 + 1e-7)));
        let (mean, var) = moments(&v);
        assert!(
            mean.abs() < 0.003 && (var / (scale * scale / 3.0) - 1.0).abs() < 0.05,
            "{mean} {var}"
        );

        // Xavier gaussian, fan out: standard deviation = scale.
        let xavier = Xavier::new(RndType::Gaussian, FactorType::Out, 2.0);
        let scale = xavier.scale(&shape).unwrap();
        let (mean, var) = moments(&draw(&xavier, &shape, dtype));
        assert!(
            mean.abs() < 0.003 && (var.sqrt() / scale - 1.0).abs() < 0.03,
            "{mean} {var}"
        );

        // MSRAPrelu: gaussian with magnitude 2 / (1 + slope²).
        let msra = MsraPrelu::default();
        let scale = msra.xavier().scale(&[100, 200]).unwrap();
        let (_, var) = moments(&draw(&msra, &[100, 200], dtype));
        assert!((var.sqrt() / scale - 1.0).abs() < 0.03, "{var}");
    }
    let ints = NDArray::new(&[3], DType::I32, crate::nd::current_context()).unwrap();
    let err = Uniform::default()
        .initialize_by_name("w_weight", &ints)
        .unwrap_err();
    assert!(err.to_string().contains("int32"), "{err}");
    // Empty arrays are fine.
    Uniform::default()
        .initialize_by_name("w_weight", &NDArray::zeros(&[0, 3]).unwrap())
        .unwrap();
}

#[test]
fn fixed_patterns_match_mxnet() {
    // mx.init.Bilinear()._init_weight on a (2, 1, 3, 5) array.
    let w = NDArray::zeros(&[2, 1, 3, 5]).unwrap();
    Bilinear.init_weight("up", &w).unwrap();
    let row = [
        0.1111111119389534,
        0.2222222238779068,
        0.3333333432674408,
        0.2222222238779068,
        0.1111111119389534,
    ];
    let mid = [
        0.2222222238779068,
        0.4444444477558136,
        0.6666666865348816,
        0.4444444477558136,
        0.2222222238779068,
    ];
    let top = [
        0.3333333432674408,
        0.6666666865348816,
        1.0,
        0.6666666865348816,
        0.3333333432674408,
    ];
    let plane: Vec<f64> = row.iter().chain(&mid).chain(&top).copied().collect();
    let want: Vec<f64> = plane.iter().chain(&plane).copied().collect();
    let got: Vec<f64> = w
        .to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect();
    assert_eq!(got, want);
    // mx.init.LSTMBias(2.0)._init_weight on 8 values: the second quarter is the forget gate.
    let b = NDArray::full(&[8], 5.0).unwrap();
    LstmBias::new(2.0).init_weight("lstm_i2h_bias", &b).unwrap();
    assert_eq!(
        b.to_vec::<f32>().unwrap(),
        [0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    );
    let f64s = NDArray::from_vec(&[6], vec![0.0f64; 6]).unwrap();
    Constant::new(0.1).init_weight("w", &f64s).unwrap();
    assert_eq!(f64s.to_vec::<f64>().unwrap(), [0.1; 6]);
}

#[test]
fn numpy_randint_matches_numpy() {
    // np.random.RandomState(0).randint(0, 1000, 16)
    let want = [
        684, 559, 629, 192, 835, 763, 707, 359, 9, 723, 277, 754, 804, 599, 70, 472,
    ];
    assert_eq!(NumpyRandomState::new(0).randint(0, 1000, 16), want);
    // np.random.RandomState(0).randint(0, 2**32, 4, dtype=np.uint64): the 64-bit draws.
    let wide = NumpyRandomState::new(0).randint(0, 1 << 32, 4);
    assert_eq!(wide, [2357136044, 2546248239, 3071714933, 3626093760]);
    assert_eq!(NumpyRandomState::new(0).randint(5, 5, 2), [5, 5]);
}
