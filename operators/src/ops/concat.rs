//! `Concat`, `SliceChannel`, `slice_axis`.
