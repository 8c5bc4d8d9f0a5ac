//! Parameter parsing against MXNet's rules (shared/spec/operators.md §1.1).

// The macros generate public items; here they are private to the tests.
#![allow(unreachable_pub, dead_code)]

use super::*;

attr_enum! {
    /// Pooling types.
    pub enum PoolType { Max = "max", Avg = "avg", Sum = "sum" }
}

params! {
    /// Convolution-like parameters.
    pub struct ConvParam for "Convolution" {
        /// Kernel size.
        kernel: Vec<i64>,
        /// Filters.
        num_filter: u32,
        /// Stride.
        stride: Vec<i64> = vec![],
        /// Groups.
        num_group: u32 = 1,
        /// No bias.
        no_bias: bool = false,
        /// Pool type.
        pool_type: PoolType = PoolType::Max,
        /// A float.
        eps: f64 = 1e-3,
        /// Optional upper bound.
        end: Option<i64> = None,
        /// Slice-like bounds.
        begin: Vec<Option<i64>> = vec![],
    }
}

fn parse(pairs: &[(&str, &str)]) -> Result<ConvParam> {
    ConvParam::parse(pairs.iter().copied())
}

#[test]
fn values_as_python_writes_them() {
    let p = parse(&[
        ("kernel", "(3, 3)"),
        ("num_filter", "8"),
        ("stride", "[2,2]"),
        ("no_bias", "True"),
        ("pool_type", "avg"),
        ("eps", "1e-05"),
        ("end", "-1"),
        ("begin", "(None, 2)"),
    ])
    .unwrap();
    assert_eq!(p.kernel, vec![3, 3]);
    assert_eq!(p.num_filter, 8);
    assert_eq!(p.stride, vec![2, 2]);
    assert_eq!(p.num_group, 1);
    assert!(p.no_bias);
    assert_eq!(p.pool_type, PoolType::Avg);
    assert_eq!(p.eps, 1e-5);
    assert_eq!(p.end, Some(-1));
    assert_eq!(p.begin, vec![None, Some(2)]);
}

#[test]
fn tuple_forms() {
    for (text, want) in [
        ("(3, 3)", vec![3, 3]),
        ("[3,3]", vec![3, 3]),
        ("(3,)", vec![3]),
        ("3", vec![3]),
        ("()", vec![]),
        ("(0, -1, -2)", vec![0, -1, -2]),
    ] {
        assert_eq!(Vec::<i64>::parse_attr(text), Ok(want.clone()), "{text}");
    }
    assert!(
        Vec::<i64>::parse_attr("(3, x)")
            .unwrap_err()
            .contains("element 1")
    );
    assert!(Vec::<i64>::parse_attr("").is_err());
    assert_eq!(vec![3i64, 3].to_attr(), "(3, 3)");
    assert_eq!(vec![3i64].to_attr(), "(3,)");
    assert_eq!(Vec::<i64>::new().to_attr(), "()");
    assert_eq!(vec![None, Some(2i64)].to_attr(), "(None, 2)");
}

#[test]
fn scalars() {
    for (text, want) in [
        ("True", true),
        ("false", false),
        ("TRUE", true),
        ("1", true),
        ("0", false),
    ] {
        assert_eq!(bool::parse_attr(text), Ok(want), "{text}");
    }
    assert!(bool::parse_attr("yes").is_err());
    assert_eq!(i64::parse_attr("-3"), Ok(-3));
    assert!(
        i64::parse_attr("3.5")
            .unwrap_err()
            .contains("not an integer")
    );
    assert!(usize::parse_attr("-1").unwrap_err().contains("negative"));
    assert_eq!(f32::parse_attr("-1.0"), Ok(-1.0));
    assert_eq!(f64::parse_attr("inf"), Ok(f64::INFINITY));
    assert_eq!(1.0f64.to_attr(), "1.0");
    assert_eq!(2.5f32.to_attr(), "2.5");
    assert_eq!(true.to_attr(), "True");
    assert_eq!(Option::<i64>::parse_attr("None"), Ok(None));
    assert_eq!(None::<i64>.to_attr(), "None");
}

#[test]
fn enums_are_case_sensitive() {
    let err = parse(&[
        ("kernel", "(1,)"),
        ("num_filter", "1"),
        ("pool_type", "Max"),
    ])
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("pool_type") && msg.contains("\"Max\"") && msg.contains("'max'"),
        "{msg}"
    );
    assert_eq!(PoolType::type_name(), "{'max', 'avg', 'sum'}");
}

#[test]
fn errors_name_the_op_the_parameter_and_the_valid_ones() {
    match parse(&[("num_filter", "8")]).unwrap_err() {
        Error::MissingParam { op, name, .. } => {
            assert_eq!((op.as_str(), name.as_str()), ("Convolution", "kernel"))
        }
        other => panic!("{other:?}"),
    }
    let err = parse(&[
        ("kernel", "(3,3)"),
        ("num_filter", "8"),
        ("kernal", "(3,3)"),
    ])
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("Convolution")
            && msg.contains("`kernal`")
            && msg.contains("kernel, num_filter"),
        "{msg}"
    );
    let err = parse(&[("kernel", "(3,3)"), ("num_filter", "eight")]).unwrap_err();
    assert!(
        matches!(err, Error::BadParam { ref name, ref value, .. } if name == "num_filter" && value == "eight")
    );
}

#[test]
fn user_attributes_are_tolerated() {
    let p = parse(&[
        ("kernel", "(1,)"),
        ("num_filter", "1"),
        ("__lr_mult__", "2.0"),
        ("__init__", "[\"zero\", {}]"),
    ]);
    assert!(p.is_ok());
    // "____" is not of the form __name__.
    assert!(parse(&[("kernel", "(1,)"), ("num_filter", "1"), ("____", "x")]).is_err());
}

#[test]
fn specs_and_round_trip_through_strings() {
    let specs = ConvParam::specs();
    assert_eq!(specs.len(), 9);
    assert_eq!(specs[0].name, "kernel");
    assert_eq!(specs[0].default, None);
    assert_eq!(specs[0].doc, "Kernel size.");
    assert_eq!(specs[3].default.as_deref(), Some("1"));
    assert_eq!(specs[4].default.as_deref(), Some("False"));
    assert_eq!(specs[5].type_name, "{'max', 'avg', 'sum'}");
    assert_eq!(specs[7].default.as_deref(), Some("None"));

    let p = parse(&[
        ("kernel", "(3, 3)"),
        ("num_filter", "8"),
        ("no_bias", "True"),
    ])
    .unwrap();
    let attrs = p.to_attrs();
    assert_eq!(
        attrs,
        vec![
            ("kernel".to_string(), "(3, 3)".to_string()),
            ("num_filter".to_string(), "8".to_string()),
            ("no_bias".to_string(), "True".to_string()),
        ]
    );
    let again = ConvParam::parse(attrs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    assert_eq!(again, p);
}

/// Float parameters render as MXNet's Python frontend writes them (`repr(float)`), so a symbol
/// built in Rust prints the strings MXNet would: `1e-07`, not Rust's `1e-7`.
#[test]
fn float_parameters_render_as_python_writes_them() {
    let cases: [(f64, &str); 12] = [
        (1e-7, "1e-07"),
        (0.1, "0.1"),
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (1e20, "1e+20"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (0.0, "0.0"),
        (f64::NAN, "nan"),
        (f64::NEG_INFINITY, "-inf"),
    ];
    for (x, want) in cases {
        assert_eq!(x.to_attr(), want, "{x:e}");
        assert_eq!(python_float(x), want, "{x:e}");
    }
    assert_eq!(
        0.1f32.to_attr(),
        "0.1",
        "an f32 keeps its own shortest digits"
    );
    assert_eq!(1e-3f32.to_attr(), "0.001");
    assert_eq!(f64::parse_attr(&1e-7f64.to_attr()), Ok(1e-7));
    assert_eq!(f32::parse_attr(&0.3f32.to_attr()), Ok(0.3));
}
