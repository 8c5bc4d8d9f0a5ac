//! Exports a Gluon model-zoo network as MXNet does (`benches/mxnet/export_zoo.py`): builds
//! it in this fresh process (so its prefix is the first of its class: `resnetv10_`),
//! initialises it with Xavier (magnitude 2), hybridizes it, runs one batch of zeros
//! (1×3×224×224) and writes `DIR/NAME-symbol.json` and `DIR/NAME-0000.params`, files MXNet's
//! `SymbolBlock.imports` and `mx.model.load_checkpoint` read.
//!
//! Run: `cargo run --release --example gluon_export -- --net resnet18_v1 --out /tmp/zoo`
//! (`--net`: `resnet18_v1` ... `resnet152_v2`, `mobilenet1_0`, `mobilenet_v2_1_0`, and the other
//! names of `vision::MODELS`; `--classes N`, default 1000).

use std::process::ExitCode;

use mxr::engine::Context;
use mxr::gluon::model_zoo::vision;
use mxr::gluon::{Block, HybridBlock};
use mxr::nd::NDArray;

/// The command line: the network's name, the output folder, the number of classes.
struct Args {
    net: String,
    out: String,
    classes: usize,
}

fn parse_args() -> Result<Args, String> {
    let (mut net, mut out, mut classes) = (None, None, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--net" => net = Some(value),
            "--out" => out = Some(value),
            "--classes" => {
                classes = value
                    .parse()
                    .map_err(|e| format!("--classes {value}: {e}"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    match (net, out) {
        (Some(net), Some(out)) => Ok(Args { net, out, classes }),
        _ => Err("usage: gluon_export --net NAME --out DIR [--classes N]".into()),
    }
}

fn export(args: &Args) -> Result<String, mxr::gluon::Error> {
    let net = vision::get_model(&args.net, args.classes)?;
    net.initialize(r#"["xavier", {"magnitude": 2}]"#, Context::cpu(0))?;
    net.hybridize(true);
    let y = net.call(&NDArray::zeros(&[1, 3, 224, 224])?)?;
    y.wait_to_read()?;
    let prefix = format!("{}/{}", args.out.trim_end_matches('/'), args.net);
    net.export(&prefix, 0)?;
    Ok(prefix)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("{}: {e}", args.out);
        return ExitCode::FAILURE;
    }
    match export(&args) {
        Ok(prefix) => {
            println!("{prefix}-symbol.json\n{prefix}-0000.params");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", args.net);
            ExitCode::FAILURE
        }
    }
}
