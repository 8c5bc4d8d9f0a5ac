//! The executor (MXNet's `Executor`): a graph bound to arrays, its backward graph built from
//! the operators' gradients, intermediate storage planned once at bind (in-place operators
//! share their input's block; dead blocks are reused), and `forward` / `backward` pushing the
//! planned operations to the engine asynchronously.
//!
//! ```
//! use mxr::engine::Context;
//! use mxr::exec::{Executor, Graph, GradReq};
//! use mxr::nd::NDArray;
//! use mxr::operators::registry::create;
//!
//! // d = (a * b) + a, gradients of a and b.
//! let mut g = Graph::default();
//! let a = g.variable("a");
//! let b = g.variable("b");
//! let ab = g.add(create("elemwise_mul", &[], None)?, "ab", &[a, b])?[0];
//! let d = g.add(create("elemwise_add", &[], None)?, "d", &[ab, a])?[0];
//! g.outputs.push(d);
//! let args = vec![NDArray::full(&[3], 2.0)?, NDArray::full(&[3], 5.0)?];
//! let grads = vec![Some(NDArray::zeros(&[3])?), Some(NDArray::zeros(&[3])?)];
//! let mut exe = Executor::bind(&g, Context::cpu(0), args, grads, &[GradReq::Write; 2], vec![])?;
//! exe.forward(true)?;
//! exe.backward(&[NDArray::ones(&[3])?])?;
//! assert_eq!(exe.outputs()[0].to_vec::<f32>()?, vec![12.0; 3]);
//! let grad_a = exe.grad_arrays()[0].as_ref().unwrap().to_vec::<f32>()?;
//! assert_eq!(grad_a, vec![6.0; 3]); // b + 1
//! # Ok::<(), mxr::Error>(())
//! ```

mod executor;
mod fusion;
mod graph;
mod plan;
mod run;

pub use executor::{Executor, GradReq, MemoryReport};
pub(crate) use graph::builder_error;
pub use graph::{Graph, Node};
