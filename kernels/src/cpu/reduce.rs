//! Reductions over axes (sum, mean, max, min, argmax).
