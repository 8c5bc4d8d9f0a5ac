//! Optimizers (MXNet's `mx.optimizer`) over the registered update operators, and learning-rate schedules.
