//! Data iterators (MXNet's `mx.io`): an in-memory iterator and an MNIST/IDX iterator.
