//! Batch normalisation forward and backward.
