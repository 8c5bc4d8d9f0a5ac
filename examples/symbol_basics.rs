//! The Symbol scenarios of MXNet's introduction (shared/EXAMPLES.md 9, 10, 13, 14, 15, 16):
//! variables and arithmetic, shape inference, a perceptron, explicit weights, composition and
//! the three-layer classifier. Prints what MXNet prints, with Python's list and tuple
//! spelling.

use mxr::sym::{NameManager, Symbol, activation, fully_connected, softmax_output};

/// `['a', 'b']`, as Python prints a list of names.
fn names(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", items.join(", "))
}

/// `[(10,), (2, 3)]`, as Python prints a list of shape tuples.
fn shapes(list: &[Vec<usize>]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| match s.as_slice() {
            [one] => format!("({one},)"),
            dims => {
                let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
                format!("({})", dims.join(", "))
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Scenario 16: fc1 128 relu, fc2 64 relu, fc3 `num_classes`, SoftmaxOutput.
fn classifier(num_classes: usize) -> mxr::Result<Symbol> {
    let data = Symbol::variable("data");
    let fc1 = fully_connected(&data, 128).name("fc1").build()?;
    let act1 = activation(&fc1, "relu").name("relu1").build()?;
    let fc2 = fully_connected(&act1, 64).name("fc2").build()?;
    let act2 = activation(&fc2, "relu").name("relu2").build()?;
    let fc3 = fully_connected(&act2, num_classes).name("fc3").build()?;
    softmax_output(&fc3).name("softmax").build()
}

fn main() -> mxr::Result<()> {
    // 9. Variables and arithmetic.
    let _names = NameManager::scope();
    let a = Symbol::variable("A");
    let b = Symbol::variable("B");
    let d = (&a * 5 + &b) / 2 + 1;
    println!("9. d = (A*5 + B)/2 + 1");
    println!("   arguments: {}", names(&d.list_arguments()));
    println!("   outputs: {}", names(&d.list_outputs()));

    // 10. Shape inference.
    let (args, outs, aux) = d.infer_shape(&[("A", &[10]), ("B", &[10])])?;
    println!("10. d with A, B of shape (10,)");
    println!("   arg shapes: {}", shapes(&args));
    println!("   out shapes: {}", shapes(&outs));
    println!("   aux shapes: {}", shapes(&aux));
    let fc = fully_connected(&Symbol::variable("data"), 10)
        .name("fc1")
        .build()?;
    let (args, outs, _) = fc.infer_shape(&[("data", &[100, 100])])?;
    println!("   fc1 arguments: {}", names(&fc.list_arguments()));
    println!("   fc1 arg shapes: {}", shapes(&args));
    println!("   fc1 out shapes: {}", shapes(&outs));

    // 13. A perceptron.
    let data = Symbol::variable("data");
    let fc1 = fully_connected(&data, 128).name("fc1").build()?;
    let relu1 = activation(&fc1, "relu").name("relu1").build()?;
    let fc2 = fully_connected(&relu1, 64).name("fc2").build()?;
    let out = softmax_output(&fc2).name("out").build()?;
    println!("13. perceptron arguments: {}", names(&out.list_arguments()));
    println!("   perceptron outputs: {}", names(&out.list_outputs()));

    // 14. Explicit weights, and an operator over a sum.
    let w = Symbol::variable("myweight");
    let net = fully_connected(&data, 128)
        .input("weight", &w)
        .name("fc1")
        .build()?;
    println!("14. with weight=myweight: {}", names(&net.list_arguments()));
    let sum = Symbol::variable("data1") + Symbol::variable("data2");
    let net = fully_connected(&sum, 128).name("fc1").build()?;
    println!("   over data1 + data2: {}", names(&net.list_arguments()));

    // 15. Composition.
    let net = fully_connected(&data, 128).name("fc1").build()?;
    let net2 = fully_connected(&Symbol::variable("data2"), 128)
        .name("net2")
        .build()?;
    let composed = net.compose(&[("data", &net2)], Some("compose"))?;
    println!(
        "15. composed arguments: {}",
        names(&composed.list_arguments())
    );
    println!("   composed outputs: {}", names(&composed.list_outputs()));

    // 16. The three-layer classifier of the training scenarios.
    let mlp = classifier(10)?;
    let (args, outs, _) = mlp.infer_shape(&[("data", &[128, 784])])?;
    println!("16. classifier arguments: {}", names(&mlp.list_arguments()));
    println!("   classifier arg shapes: {}", shapes(&args));
    println!("   classifier out shapes: {}", shapes(&outs));
    println!("   classifier JSON: {} bytes", mlp.to_json()?.len());
    Ok(())
}
