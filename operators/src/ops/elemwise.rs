//! Same-shape binary element-wise operators (elemwise_add/sub/mul/div) and `where`.
