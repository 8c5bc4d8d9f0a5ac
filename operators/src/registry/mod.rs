//! The operator registry. So far: typed parameters parsed from MXNet's attribute strings
//! ([`attrs`]); the op descriptions, look-up by name and alias, and listings come with the
//! operator issue.

pub mod attrs;
