//! `Convolution` (2-D, NCHW).
