//! MXNet's Symbol tutorial, scenarios 11 and 12 of EXAMPLES.md: bind a symbol to arrays, run it
//! forward, set arguments through the executor's argument map, and compute gradients.
//! (Scenario 17, the docs' low-level training loop, is the main job: `examples/train_mlp.rs`.)
//!
//! Run: `cargo run --example symbol_bind`

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::nd::{self, NDArray};
use mxr::sym::{NameManager, Symbol};

fn main() -> Result<(), mxr::Error> {
    let _names = NameManager::scope();
    let cpu = Context::cpu(0);
    let (a, b) = (Symbol::variable("A"), Symbol::variable("B"));

    // 11. C = A * B bound to A = ones(3) * 4 and B = ones(3) * 2.
    let c = &a * &b;
    let args = vec![NDArray::ones(&[3])? * 4.0, NDArray::ones(&[3])? * 2.0];
    let mut exe = c.bind(cpu, args, vec![None, None], &[GradReq::Null; 2], vec![])?;
    exe.forward(false)?;
    println!("C = A * B: {:?}", exe.outputs()[0].to_vec::<f32>()?);

    // d = (A*5 + B)/2 + 1 bound to ones, without gradients; arguments set from host values.
    let d = (&a * 5.0 + &b) / 2.0 + 1.0;
    println!("d's output: {:?}", d.list_outputs());
    let mut exe = d.simple_bind(cpu, &[("A", &[3]), ("B", &[3])], GradReq::Null, &[])?;
    nd::random::seed(1)?;
    let host = nd::random_uniform(-1.0, 1.0, &[3])?.to_vec::<f32>()?;
    exe.arg_dict()["A"].assign_slice(&host)?;
    exe.arg_dict()["B"].assign_slice(&host)?;
    exe.forward(false)?;
    let expect: Vec<f32> = host.iter().map(|x| (x * 5.0 + x) / 2.0 + 1.0).collect();
    let got = exe.outputs()[0].to_vec::<f32>()?;
    let close = got.iter().zip(&expect).all(|(g, e)| (g - e).abs() < 1e-6);
    println!("d from random arguments equals (A*5 + B)/2 + 1: {close}");

    // 12. Gradients: bound with gradient arrays, forward in training mode, backward with a
    // head gradient of ones (d is not a loss).
    let mut exe = d.simple_bind(cpu, &[("A", &[4]), ("B", &[4])], GradReq::Write, &[])?;
    exe.arg_dict()["A"].assign_scalar(1.0)?;
    exe.arg_dict()["B"].assign_scalar(1.0)?;
    exe.forward(true)?;
    exe.backward(&[NDArray::ones(&[4])?])?;
    let grads = exe.grad_dict();
    println!("gradient of A: {:?}", grads["A"].to_vec::<f32>()?);
    println!("gradient of B: {:?}", grads["B"].to_vec::<f32>()?);
    Ok(())
}
