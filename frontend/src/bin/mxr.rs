//! The `mxr` command-line tool.
//!
//! ```text
//! mxr ops [NAME]                      list the registered operators (or one) with parameters
//! mxr inspect --symbol F.json         arguments, outputs and auxiliary states as JSON
//! mxr infer-shape --symbol F.json --shape data=8,784 [--shape NAME=DIMS ...]
//! mxr exec --symbol F.json --inputs IN.params --output OUT.params [--train] [--backward]
//! ```
//!
//! Every command takes `--plugin PATH` (repeatable): an operator plugin to load first (see
//! `mxr::plugin`); the plugins listed in `MXR_PLUGINS=path1:path2` are loaded too.
//!
//! `exec` reads `arg:NAME`, `aux:NAME` and `head_grad:I` from the inputs file and writes
//! `output:I`, with `--backward` `grad:NAME` for every argument, and `aux:NAME` as they stand
//! after the run (MXNet's formats; see tests/fixtures/conformance/README.md).
//!
//! Errors print one clear line to stderr and exit with status 1.

use std::process::ExitCode;

use mxr::engine::Context;
use mxr::exec::GradReq;
use mxr::nd::{self, NDArray};
use mxr::operators::registry;
use mxr::sym::Symbol;
use serde_json::json;

fn usage() -> &'static str {
    "usage:\n  mxr ops [NAME]\n  mxr inspect --symbol F.json\n  mxr infer-shape --symbol F.json --shape NAME=D1,D2 [--shape ...]\n  mxr exec --symbol F.json --inputs IN.params --output OUT.params [--train] [--backward] [--ctx cpu|gpu:N]\nany command: [--plugin LIB.so ...] (and MXR_PLUGINS=a.so:b.so)"
}

/// `mxr ops [NAME]`: one line per operator (name, aliases, description), then its parameters.
fn ops(name: Option<&str>) -> Result<String, String> {
    let defs: Vec<&registry::OpDef> = match name {
        Some(n) => vec![registry::lookup(n).map_err(|e| e.to_string())?],
        None => registry::ops().to_vec(),
    };
    let mut out = String::new();
    for def in defs {
        let aliases = if def.aliases.is_empty() {
            String::new()
        } else {
            format!(" (aliases: {})", def.aliases.join(", "))
        };
        out.push_str(&format!("{}{aliases}: {}\n", def.name, def.description));
        for p in def.params() {
            let default = p
                .default
                .map_or("required".to_string(), |d| format!("default {d}"));
            let doc = p.doc.lines().next().unwrap_or_default();
            out.push_str(&format!(
                "    {}: {}, {default}. {doc}\n",
                p.name, p.type_name
            ));
        }
    }
    Ok(out)
}

/// The value after `--flag`, or an error naming the flag.
fn flag<'a>(args: &'a [String], name: &str) -> Result<&'a str, String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .ok_or(format!("missing {name} <value>"))
}

fn load_symbol(args: &[String]) -> Result<Symbol, String> {
    let path = flag(args, "--symbol")?;
    Symbol::load(path).map_err(|e| e.to_string())
}

/// `mxr inspect`: the three name lists as JSON.
fn inspect(args: &[String]) -> Result<String, String> {
    let s = load_symbol(args)?;
    let out = json!({
        "arguments": s.list_arguments(),
        "outputs": s.list_outputs(),
        "auxiliary_states": s.list_auxiliary_states(),
    });
    Ok(format!("{out}\n"))
}

/// `--shape NAME=D1,D2` options.
fn shapes(args: &[String]) -> Result<Vec<(String, Vec<usize>)>, String> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a != "--shape" {
            continue;
        }
        let spec = args.get(i + 1).ok_or("missing --shape NAME=DIMS")?;
        let (name, dims) = spec
            .split_once('=')
            .ok_or(format!("--shape {spec}: expected NAME=D1,D2,..."))?;
        let dims = dims
            .split(',')
            .map(|d| d.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--shape {spec}: {e}"))?;
        out.push((name.to_string(), dims));
    }
    Ok(out)
}

/// `mxr infer-shape`: argument, output and auxiliary shapes as JSON.
fn infer_shape(args: &[String]) -> Result<String, String> {
    let s = load_symbol(args)?;
    let given = shapes(args)?;
    let known: Vec<(&str, &[usize])> = given
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let (arg_shapes, out_shapes, aux_shapes) = s.infer_shape(&known).map_err(|e| e.to_string())?;
    let named = |names: Vec<String>, shapes: Vec<Vec<usize>>| -> Vec<serde_json::Value> {
        names
            .into_iter()
            .zip(shapes)
            .map(|(n, d)| json!([n, d]))
            .collect()
    };
    let out = json!({
        "arg_shapes": named(s.list_arguments(), arg_shapes),
        "out_shapes": out_shapes,
        "aux_shapes": named(s.list_auxiliary_states(), aux_shapes),
    });
    Ok(format!("{out}\n"))
}

/// `mxr exec`: bind the symbol to the inputs file, run, write the results.
fn exec(args: &[String]) -> Result<String, String> {
    let s = load_symbol(args)?;
    let inputs_path = flag(args, "--inputs")?;
    let output_path = flag(args, "--output")?;
    let train = args.iter().any(|a| a == "--train");
    let backward = args.iter().any(|a| a == "--backward");
    let context = match args
        .iter()
        .position(|a| a == "--ctx")
        .and_then(|i| args.get(i + 1))
    {
        None => Context::cpu(0),
        Some(c) if c == "cpu" => Context::cpu(0),
        Some(c) => match c.strip_prefix("gpu:").and_then(|n| n.parse().ok()) {
            Some(n) => Context::gpu(n),
            None => return Err(format!("--ctx {c}: expected cpu or gpu:N")),
        },
    };
    let inputs = match nd::load(inputs_path).map_err(|e| e.to_string())? {
        nd::Loaded::Named(v) => v,
        nd::Loaded::List(_) => {
            return Err(format!(
                "{inputs_path}: expected named arrays (arg:NAME, ...)"
            ));
        }
    };
    let get = |key: &str| -> Result<NDArray, String> {
        let a = inputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a)
            .ok_or(format!("{inputs_path} has no {key}"))?;
        a.copy_to(context).map_err(|e| e.to_string())
    };
    let arg_names = s.list_arguments();
    let aux_names = s.list_auxiliary_states();
    let args_arrays: Vec<NDArray> = arg_names
        .iter()
        .map(|n| get(&format!("arg:{n}")))
        .collect::<Result<_, _>>()?;
    let aux_arrays: Vec<NDArray> = aux_names
        .iter()
        .map(|n| get(&format!("aux:{n}")))
        .collect::<Result<_, _>>()?;
    let req = if backward {
        GradReq::Write
    } else {
        GradReq::Null
    };
    let grads: Vec<Option<NDArray>> = args_arrays
        .iter()
        .map(|a| {
            backward
                .then(|| NDArray::new(a.shape(), a.dtype(), context))
                .transpose()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let reqs = vec![req; args_arrays.len()];
    let mut exe = s
        .bind(context, args_arrays, grads, &reqs, aux_arrays)
        .map_err(|e| e.to_string())?;
    exe.forward(train).map_err(|e| e.to_string())?;
    let outputs = exe.outputs();
    if backward {
        let heads: Vec<NDArray> = outputs
            .iter()
            .enumerate()
            .map(
                |(i, o)| match inputs.iter().find(|(k, _)| *k == format!("head_grad:{i}")) {
                    Some((_, g)) => g.copy_to(context),
                    None => NDArray::ones_on(o.shape(), context),
                },
            )
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        exe.backward(&heads).map_err(|e| e.to_string())?;
    }
    let mut named: Vec<(String, NDArray)> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (format!("output:{i}"), o.clone()))
        .collect();
    if backward {
        for (n, g) in arg_names.iter().zip(exe.grad_arrays()) {
            if let Some(g) = g {
                named.push((format!("grad:{n}"), g.clone()));
            }
        }
    }
    for (n, a) in aux_names.iter().zip(exe.aux_arrays()) {
        named.push((format!("aux:{n}"), a.clone()));
    }
    nd::save_named(output_path, &named).map_err(|e| e.to_string())?;
    Ok(format!("wrote {} arrays to {output_path}\n", named.len()))
}

/// Loads `MXR_PLUGINS`, then every `--plugin PATH`; returns the other arguments.
fn load_plugins(args: &[String]) -> Result<Vec<String>, String> {
    mxr::plugin::load_env().map_err(|e| format!("MXR_PLUGINS: {e}"))?;
    let mut rest = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--plugin" {
            let path = it.next().ok_or("missing --plugin <path>")?;
            mxr::plugin::load(path).map_err(|e| e.to_string())?;
        } else {
            rest.push(a.clone());
        }
    }
    Ok(rest)
}

fn run(args: &[String]) -> Result<String, String> {
    let args = &load_plugins(args)?;
    match args.first().map(String::as_str) {
        Some("ops") => ops(args.get(1).map(String::as_str)),
        Some("inspect") => inspect(args),
        Some("infer-shape") => infer_shape(args),
        Some("exec") => exec(args),
        Some("-h" | "--help" | "help") | None => Ok(format!("{}\n", usage())),
        Some(other) => Err(format!("unknown command `{other}`\n{}", usage())),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("mxr: {message}");
            ExitCode::FAILURE
        }
    }
}
