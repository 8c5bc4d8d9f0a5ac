//! Convolution by im2col + GEMM, and its backward.
