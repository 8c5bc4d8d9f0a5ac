//! Reductions (sum, mean, max, min, argmax) and `broadcast_to`.
