//! MXNet's NDArray introduction, scenarios 1, 2, 5 and 6 of EXAMPLES.md: create arrays on
//! devices, initialise them, convert to and from host arrays, save and load `.params` files.
//! (Scenarios 3, 4, 7 and 8 need arithmetic operators, which come with the operator registry.)
//!
//! Run: `cargo run --example ndarray_basics`

use mxr::engine::Context;
use mxr::nd::{self, NDArray};

fn main() -> Result<(), mxr::Error> {
    // 1. Create on devices.
    let a = NDArray::zeros_on(&[10], Context::cpu(0))?;
    println!("zeros(10) on {}: {:?}", a.context(), a.to_vec::<f32>()?);
    match NDArray::zeros_on(&[10], Context::gpu(0)) {
        Ok(_) => println!("zeros(10) on gpu(0): created"),
        Err(e) => println!("zeros(10) on gpu(0): error: {e}"),
    }
    for context in [Context::cpu(0), Context::gpu(0), Context::gpu(2)] {
        match NDArray::empty_on(&[2, 3], context) {
            Ok(b) => println!(
                "empty((2, 3)) on {context}: shape {:?}, context {}",
                b.shape(),
                b.context()
            ),
            Err(e) => println!("empty((2, 3)) on {context}: error: {e}"),
        }
    }

    // 2. Initialise.
    println!(
        "zeros((2, 3)): {:?}",
        NDArray::zeros(&[2, 3])?.to_vec::<f32>()?
    );
    println!(
        "ones((2, 3)): {:?}",
        NDArray::ones(&[2, 3])?.to_vec::<f32>()?
    );
    let c = NDArray::empty(&[2, 3])?;
    c.assign_scalar(2.0)?; // c[:] = 2
    println!("c[:] = 2: {:?}", c.to_vec::<f32>()?);

    // 5. To and from host arrays.
    let host = c.to_ndarray::<f32>()?;
    println!(
        "as a host array: shape {:?}, sum {}",
        host.shape(),
        host.sum()
    );
    let back = NDArray::from_ndarray(&host)?;
    println!("back from the host array: {:?}", back.to_vec::<f32>()?);
    let mut seed = 42u64;
    let uniform: Vec<f32> = (0..6)
        .map(|_| {
            // SplitMix64 -> uniform(-0.1, 0.1): host values, as numpy's would be.
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f32 / (1u64 << 53) as f32 * 0.2 - 0.1
        })
        .collect();
    c.assign_slice(&uniform)?; // c[:] = numpy.random.uniform(-0.1, 0.1, c.shape)
    let values = c.to_vec::<f32>()?;
    let in_range = values.iter().all(|v| (-0.1..0.1).contains(v));
    println!(
        "c[:] = uniform(-0.1, 0.1): all in range: {in_range}, equal to the host values: {}",
        values == uniform
    );

    // 6. Save and load: one array through serde (MXNet pickles it), lists and dicts as .params.
    let json = serde_json::to_string(&NDArray::full(&[2], 7.0)?).expect("arrays serialise");
    let restored: NDArray = serde_json::from_str(&json).expect("and deserialise");
    println!("serde round trip: {:?}", restored.to_vec::<f32>()?);
    let dir = std::env::temp_dir().join(format!("mxr-ndarray-basics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| mxr::Error::Io {
        path: dir.display().to_string(),
        source: e.into(),
    })?;
    let (twos, threes) = (NDArray::full(&[2, 3], 2.0)?, NDArray::full(&[2, 3], 3.0)?);
    nd::save(dir.join("list.params"), &[twos.clone(), threes.clone()])?;
    let list = nd::load(dir.join("list.params"))?.into_list();
    println!(
        "loaded list: [0] = {:?}, [1] = {:?}",
        list[0].to_vec::<f32>()?,
        list[1].to_vec::<f32>()?
    );
    nd::save_named(dir.join("dict.params"), &[("a", twos), ("b", threes)])?;
    let dict = nd::load(dir.join("dict.params"))?;
    if let Some(b) = dict.get("b") {
        println!("loaded dict: b = {:?}", b.to_vec::<f32>()?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
