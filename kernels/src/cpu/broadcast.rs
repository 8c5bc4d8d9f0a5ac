//! Broadcasting binary kernels and the reduction of a gradient back to an input shape.
