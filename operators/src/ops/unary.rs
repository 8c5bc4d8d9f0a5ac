//! Unary math operators (negative, exp, log, sqrt, square, abs, tanh, sigmoid, relu, clip).
