//! MXNet's NDArray introduction, scenarios 3, 4, 7 and 8 of EXAMPLES.md: arithmetic, arrays on
//! several devices, automatic parallelism, and a default-device scope. On a machine without a
//! GPU the GPU steps print why (try `MXR_GPU_EMULATE=1` for an emulated one), and the same steps
//! run between `cpu(0)` and `cpu(1)`, which are distinct devices to mxr as to MXNet.
//!
//! Run: `cargo run --example ndarray_ops`

use mxr::engine::Context;
use mxr::nd::{self, NDArray};

fn main() -> Result<(), mxr::Error> {
    // 3. Arithmetic.
    let a = NDArray::ones(&[10])?;
    let b = NDArray::ones(&[10])?;
    let c = (&a * 5.0 + &b) / 2.0;
    let d = &c + 1.0;
    println!("c = (a*5 + b)/2: {:?}", c.to_vec::<f32>()?);
    println!("d = c + 1: {:?}", d.to_vec::<f32>()?);
    let a = NDArray::ones(&[2, 3])? * 2.0;
    let b = NDArray::ones(&[2, 3])? * 4.0;
    println!("a + b: {:?}", (&a + &b).to_vec::<f32>()?);
    println!("a * b: {:?}", (&a * &b).to_vec::<f32>()?);

    // 4. Across devices: arrays must be moved to one device before they combine.
    let x = NDArray::ones(&[2, 3])? * 2.0;
    match x.copy_to(Context::gpu(0)) {
        Ok(_) => println!("copied to gpu(0)"),
        Err(e) => println!("copy to gpu(0): error: {e}"),
    }
    let y = NDArray::ones_on(&[2, 3], Context::cpu(1))? * 3.0;
    match nd::multiply(&x, &y) {
        Ok(_) => println!("cpu(0) * cpu(1): combined"),
        Err(e) => println!("cpu(0) * cpu(1) without a copy: error: {e}"),
    }
    let moved = x.copy_to(Context::cpu(1))?;
    let z = &moved * &y;
    println!(
        "moved to {} then multiplied: {:?}",
        z.context(),
        z.to_vec::<f32>()?
    );

    // 7. Automatic parallelism: the engine orders by storage, nothing waits until a read.
    let mut a = NDArray::ones(&[2, 3])?;
    let mut b = a.clone(); // the same array, not a copy
    let mut c = a.copy_to(Context::cpu(0))?; // a copy: its own storage
    a += 1.0; // may run at the same time as `c *= 3`
    b *= 3.0; // waits for `a += 1` (same storage)
    c *= 3.0;
    println!("a: {:?}", a.to_vec::<f32>()?);
    println!("b: {:?}", b.to_vec::<f32>()?);
    println!("c: {:?}", c.to_vec::<f32>()?);

    // 8. A default-device scope.
    {
        let _gpu = nd::context_scope(Context::gpu(0));
        match NDArray::zeros(&[2, 4]) {
            Ok(_) => println!("zeros in a gpu(0) scope: created"),
            Err(e) => println!("zeros in a gpu(0) scope: error: {e}"),
        }
    }
    let (batch, inputs, hidden, classes) = (4, 40, 16, 10);
    let x = NDArray::zeros_on(&[batch, inputs], Context::cpu(0))?;
    let (h, y) = {
        let _device = nd::context_scope(Context::cpu(1));
        nd::random::seed(0)?;
        let w1 = nd::random_uniform(-0.1, 0.1, &[inputs, hidden])?;
        let w2 = nd::random_uniform(-0.1, 0.1, &[hidden, classes])?;
        let x = x.copy_to(nd::current_context())?;
        let h = nd::tanh(&nd::dot(&x, &w1)?)?;
        let y = nd::sigmoid(&nd::dot(&h, &w2)?)?;
        (h, y)
    };
    println!(
        "in a cpu(1) scope: h {:?} on {}, y {:?} on {}, y = {:?}",
        h.shape(),
        h.context(),
        y.shape(),
        y.context(),
        y.to_vec::<f32>()?.first()
    );
    Ok(())
}
