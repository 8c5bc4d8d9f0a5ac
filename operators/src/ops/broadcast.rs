//! NumPy-style broadcasting binary operators (broadcast_add/sub/mul/div).
