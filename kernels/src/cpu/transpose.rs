//! Axis permutation.
