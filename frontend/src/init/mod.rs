//! Initializers (MXNet's `mx.init`): Uniform, Normal, Xavier, Constant, and the rules by argument name.
