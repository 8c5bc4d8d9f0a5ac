//! Element-wise kernels (unary maps, binary maps, scalar forms) and their gradients.
