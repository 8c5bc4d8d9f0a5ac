//! Arithmetic on symbols: `+ - * /` between symbols and with scalars, unary `-`, and
//! [`Symbol::pow`], named as MXNet's Python operators name them.
//!
//! Python's operators call internal aliases, which give the automatic names: `a + b` is
//! `_Plus` (node `_plus0`, operator `elemwise_add` in JSON), `a + 1` is `_PlusScalar`
//! (`_plusscalar0`, `_plus_scalar`), `1 - a` is `_RMinusScalar`, `2 / a` is `_RDivScalar`, `-a`
//! is `_MulScalar` with scalar `-1.0`. Scalars keep Python's spelling: an integer literal is
//! written `5`, a float `5.0` (see [`Scalar`]).
//!
//! Rust's operator traits cannot return a `Result`: when an operand does not fit (a symbol
//! with several outputs, or a failed symbol) the result is a *failed* symbol carrying the error
//! ([`Symbol::check`] reports it at once; building on it, inference and JSON return it).
//!
//! ```
//! use mxr::sym::{NameManager, Symbol};
//! let _names = NameManager::scope();
//! let x = Symbol::variable("x");
//! let y = 2 / (&x - 1) * &x + -&x;
//! assert_eq!(y.list_outputs(), ["_plus0_output"]);
//! let json = y.to_json()?;
//! assert!(json.contains(r#""op": "_rdiv_scalar""#) && json.contains(r#""scalar": "-1.0""#));
//! # Ok::<(), mxr::Error>(())
//! ```

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::attrs::Scalar;
use super::compose::OpBuilder;
use super::symbol::Symbol;

fn or_failed(result: crate::Result<Symbol>) -> Symbol {
    result.unwrap_or_else(Symbol::failed)
}

fn binary(a: &Symbol, b: &Symbol, op: &str) -> Symbol {
    or_failed(
        OpBuilder::new(op)
            .hint(&op.to_lowercase())
            .arg(a)
            .arg(b)
            .build(),
    )
}

fn scalar(x: &Symbol, op: &str, s: Scalar) -> Symbol {
    or_failed(
        OpBuilder::new(op)
            .hint(&op.to_lowercase())
            .arg(x)
            .param("scalar", s)
            .build(),
    )
}

impl Symbol {
    /// `self ** exponent` (Python's `_PowerScalar`, node `_powerscalar0`).
    pub fn pow(&self, exponent: impl Into<Scalar>) -> Symbol {
        scalar(self, "_PowerScalar", exponent.into())
    }
}

macro_rules! symbol_operator {
    ($trait:ident, $method:ident, $op:literal, $scalar:literal, $rscalar:literal) => {
        impl $trait<&Symbol> for &Symbol {
            type Output = Symbol;
            fn $method(self, rhs: &Symbol) -> Symbol {
                binary(self, rhs, $op)
            }
        }
        impl $trait<Symbol> for Symbol {
            type Output = Symbol;
            fn $method(self, rhs: Symbol) -> Symbol {
                binary(&self, &rhs, $op)
            }
        }
        impl $trait<&Symbol> for Symbol {
            type Output = Symbol;
            fn $method(self, rhs: &Symbol) -> Symbol {
                binary(&self, rhs, $op)
            }
        }
        impl $trait<Symbol> for &Symbol {
            type Output = Symbol;
            fn $method(self, rhs: Symbol) -> Symbol {
                binary(self, &rhs, $op)
            }
        }
        symbol_operator!(@scalar $trait, $method, $scalar, $rscalar, f64);
        symbol_operator!(@scalar $trait, $method, $scalar, $rscalar, i32);
    };
    (@scalar $trait:ident, $method:ident, $scalar:literal, $rscalar:literal, $t:ty) => {
        impl $trait<$t> for &Symbol {
            type Output = Symbol;
            fn $method(self, rhs: $t) -> Symbol {
                scalar(self, $scalar, rhs.into())
            }
        }
        impl $trait<$t> for Symbol {
            type Output = Symbol;
            fn $method(self, rhs: $t) -> Symbol {
                scalar(&self, $scalar, rhs.into())
            }
        }
        impl $trait<&Symbol> for $t {
            type Output = Symbol;
            fn $method(self, rhs: &Symbol) -> Symbol {
                scalar(rhs, $rscalar, self.into())
            }
        }
        impl $trait<Symbol> for $t {
            type Output = Symbol;
            fn $method(self, rhs: Symbol) -> Symbol {
                scalar(&rhs, $rscalar, self.into())
            }
        }
    };
}

symbol_operator!(Add, add, "_Plus", "_PlusScalar", "_PlusScalar");
symbol_operator!(Sub, sub, "_Minus", "_MinusScalar", "_RMinusScalar");
symbol_operator!(Mul, mul, "_Mul", "_MulScalar", "_MulScalar");
symbol_operator!(Div, div, "_Div", "_DivScalar", "_RDivScalar");

impl Neg for &Symbol {
    type Output = Symbol;
    /// Python's `-x`: `x * -1.0`.
    fn neg(self) -> Symbol {
        scalar(self, "_MulScalar", Scalar::Float(-1.0))
    }
}

impl Neg for Symbol {
    type Output = Symbol;
    fn neg(self) -> Symbol {
        -&self
    }
}
