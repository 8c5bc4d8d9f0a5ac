//! Max/avg/sum pooling and its backward.
