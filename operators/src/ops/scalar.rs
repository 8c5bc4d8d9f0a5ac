//! Operators with a scalar parameter (_plus_scalar, _minus_scalar, _rminus_scalar, _mul_scalar, _div_scalar, _rdiv_scalar, _power_scalar).
