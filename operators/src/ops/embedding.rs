//! `Embedding`.
