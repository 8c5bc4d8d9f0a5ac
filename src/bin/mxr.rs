//! The `mxr` command-line tool.
//!
//! ```text
//! mxr ops [NAME]                      list the registered operators (or one) with parameters
//! mxr inspect --symbol F.json         arguments, outputs and auxiliary states as JSON
//! mxr infer-shape --symbol F.json --shape data=8,784 [--shape NAME=DIMS ...] [--partial]
//! mxr exec --symbol F.json --inputs IN.params --output OUT.params [--train] [--backward]
//! mxr onnx import MODEL.onnx --out PREFIX   an ONNX model as an MXNet checkpoint
//! mxr onnx export --symbol S.json --params P.params --shape data=1,3,224,224 --out MODEL.onnx
//! ```
//!
//! `mxr COMMAND --help` describes a command. Every command takes `--plugin PATH`
//! (repeatable): an operator plugin to load first (see `mxr::plugin`); the plugins listed in
//! `MXR_PLUGINS=path1:path2` are loaded too. An option a command does not know is an error.
//!
//! `infer-shape --partial` is MXNet's `infer_shape_partial`: a `0` in a given shape marks an
//! unknown dimension; shapes that stay unknown print as `[]` and unknown dimensions as `0`
//! instead of being an error; contradictory shapes are an error as in the full inference.
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

/// A command of the tool: its name, synopsis, description, options and implementation.
struct Cmd {
    name: &'static str,
    synopsis: &'static str,
    help: &'static str,
    /// Options followed by a value.
    valued: &'static [&'static str],
    /// Options standing alone.
    switches: &'static [&'static str],
    /// How many positional arguments it takes at most.
    positional: usize,
    run: fn(&[String]) -> Result<String, String>,
}

const PLUGIN_HELP: &str = "  --plugin LIB.so     load an operator plugin first (repeatable); so are the \
                           libraries in MXR_PLUGINS=a.so:b.so\n  -h, --help          this help";

const COMMANDS: &[Cmd] = &[
    Cmd {
        name: "ops",
        synopsis: "mxr ops [NAME]",
        help: "Lists the registered operators, or the one called NAME (its name or an alias): \
               name, aliases and description, then each parameter with its type, default and \
               doc.",
        valued: &[],
        switches: &[],
        positional: 1,
        run: |args| ops(args.get(1).map(String::as_str)),
    },
    Cmd {
        name: "inspect",
        synopsis: "mxr inspect --symbol F.json",
        help: "Prints the symbol's arguments, outputs and auxiliary states as JSON: \
               {\"arguments\": [...], \"outputs\": [...], \"auxiliary_states\": [...]}.\n\n\
               \x20 --symbol F.json     the symbol file (MXNet's JSON)",
        valued: &["--symbol"],
        switches: &[],
        positional: 0,
        run: inspect,
    },
    Cmd {
        name: "infer-shape",
        synopsis: "mxr infer-shape --symbol F.json --shape NAME=D1,D2,... [--shape ...] [--partial]",
        help: "Infers every argument, output and auxiliary-state shape from the given ones and \
               prints them as JSON: {\"arg_shapes\": [[NAME, DIMS], ...], \"out_shapes\": \
               [DIMS, ...], \"aux_shapes\": [[NAME, DIMS], ...]}. Conflicting shapes are an \
               error naming the operator.\n\n\
               \x20 --symbol F.json     the symbol file (MXNet's JSON)\n\
               \x20 --shape NAME=DIMS   a variable's shape, dimensions separated by commas; 0 \
               marks an unknown dimension (repeatable)\n\
               \x20 --partial           MXNet's infer_shape_partial: what stays unknown prints \
               as [] (a shape) or 0 (a dimension) instead of being an error",
        valued: &["--symbol", "--shape"],
        switches: &["--partial"],
        positional: 0,
        run: infer_shape,
    },
    Cmd {
        name: "exec",
        synopsis: "mxr exec --symbol F.json --inputs IN.params --output OUT.params [--train] \
                   [--backward] [--ctx cpu|gpu:N]",
        help: "Binds the symbol to the arrays of IN.params (arg:NAME, aux:NAME, head_grad:I), \
               runs forward (and backward) and writes output:I, grad:NAME and aux:NAME to \
               OUT.params (MXNet's .params format).\n\n\
               \x20 --symbol F.json     the symbol file (MXNet's JSON)\n\
               \x20 --inputs IN.params  the arguments, auxiliary states and head gradients\n\
               \x20 --output OUT.params where the results go\n\
               \x20 --train             forward in training mode (BatchNorm batch statistics, \
               Dropout)\n\
               \x20 --backward          also run backward: grad:NAME for every argument \
               (head gradients of ones where IN.params has no head_grad:I)\n\
               \x20 --ctx cpu|gpu:N     the device (default cpu)",
        valued: &["--symbol", "--inputs", "--output", "--ctx"],
        switches: &["--train", "--backward"],
        positional: 0,
        run: exec,
    },
    Cmd {
        name: "onnx",
        synopsis: "mxr onnx import MODEL.onnx --out PREFIX | mxr onnx export --symbol S.json \
                   --params P.params --shape NAME=DIMS [--shape ...] --out MODEL.onnx",
        help: "ONNX import and export (mxr::onnx).\n\n\
               `import` reads an ONNX model (opsets 11 to 19) and writes it as an MXNet \
               checkpoint, PREFIX-symbol.json and PREFIX-0000.params, which mxr and MXNet \
               load.\n\
               `export` writes an MXNet checkpoint (the symbol, and the .params file with \
               arg:NAME and aux:NAME arrays) as an ONNX model at opset 13.\n\n\
               \x20 --out PATH          PREFIX (import) or MODEL.onnx (export)\n\
               \x20 --symbol S.json     the symbol file (export)\n\
               \x20 --params P.params   the parameters (export)\n\
               \x20 --shape NAME=DIMS   a data input's shape, dimensions separated by commas \
               (export; repeatable)",
        valued: &["--out", "--symbol", "--params", "--shape"],
        switches: &[],
        positional: 2,
        run: onnx,
    },
];

fn usage() -> String {
    let mut out = String::from("usage:\n");
    for c in COMMANDS {
        out.push_str(&format!("  {}\n", c.synopsis));
    }
    out.push_str(
        "any command: [--plugin LIB.so ...] (and MXR_PLUGINS=a.so:b.so); \
         `mxr COMMAND --help` describes one",
    );
    out
}

/// `mxr COMMAND --help`, wrapped to 88 columns.
fn command_help(c: &Cmd) -> String {
    let text = format!(
        "usage: {} [--plugin LIB.so ...]\n\n{}\n\noptions of every command:\n{PLUGIN_HELP}",
        c.synopsis, c.help
    );
    let mut out = String::new();
    for line in text.lines() {
        // An option's description continues under its column.
        let indent = if line.starts_with("  -") { 22 } else { 0 };
        let mut width = 0;
        for (i, word) in line.split(' ').enumerate() {
            if i > 0 && width + 1 + word.len() > 88 && width > indent {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                width = indent;
            } else if i > 0 {
                out.push(' ');
                width += 1;
            }
            out.push_str(word);
            width += word.len();
        }
        out.push('\n');
    }
    out
}

/// Refuses options `c` does not know, a missing option value and extra positional arguments.
fn check_options(c: &Cmd, args: &[String]) -> Result<(), String> {
    let mut positional = 0;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if c.valued.contains(&a.as_str()) {
            if it.next().is_none() {
                return Err(format!("{a} needs a value\nusage: {}", c.synopsis));
            }
        } else if a.starts_with('-') && !c.switches.contains(&a.as_str()) {
            return Err(format!(
                "`mxr {}` has no option {a}\nusage: {}",
                c.name, c.synopsis
            ));
        } else if !a.starts_with('-') {
            positional += 1;
            if positional > c.positional {
                return Err(format!("unexpected argument `{a}`\nusage: {}", c.synopsis));
            }
        }
    }
    Ok(())
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

/// `mxr infer-shape [--partial]`: argument, output and auxiliary shapes as JSON (with
/// `--partial`, unknown shapes as `[]` and unknown dimensions as 0).
fn infer_shape(args: &[String]) -> Result<String, String> {
    let s = load_symbol(args)?;
    let given = shapes(args)?;
    let known: Vec<(&str, &[usize])> = given
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let inferred = if args.iter().any(|a| a == "--partial") {
        s.infer_shape_partial(&known)
    } else {
        s.infer_shape(&known)
    };
    let (arg_shapes, out_shapes, aux_shapes) = inferred.map_err(|e| e.to_string())?;
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

/// `mxr onnx import|export`.
fn onnx(args: &[String]) -> Result<String, String> {
    let out = flag(args, "--out")?;
    match args.get(1).map(String::as_str) {
        Some("import") => {
            let model = args
                .get(2)
                .filter(|a| !a.starts_with('-'))
                .ok_or("missing the model: mxr onnx import MODEL.onnx --out PREFIX")?;
            let (symbol, arg_params, aux_params) =
                mxr::onnx::import(model).map_err(|e| e.to_string())?;
            mxr::sym::save_checkpoint(out, 0, &symbol, &arg_params, &aux_params)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "wrote {out}-symbol.json and {out}-0000.params ({} arguments, {} auxiliary \
                 states)\n",
                arg_params.len(),
                aux_params.len()
            ))
        }
        Some("export") => {
            let symbol = load_symbol(args)?;
            let params_path = flag(args, "--params")?;
            let named = match nd::load(params_path).map_err(|e| e.to_string())? {
                nd::Loaded::Named(v) => v,
                nd::Loaded::List(v) if v.is_empty() => Vec::new(),
                nd::Loaded::List(_) => {
                    return Err(format!(
                        "{params_path}: the arrays have no names (expected arg:NAME / aux:NAME)"
                    ));
                }
            };
            let (mut arg_params, mut aux_params) = (Vec::new(), Vec::new());
            for (key, array) in named {
                match key.split_once(':') {
                    Some(("arg", name)) => arg_params.push((name.to_owned(), array)),
                    Some(("aux", name)) => aux_params.push((name.to_owned(), array)),
                    _ => {
                        return Err(format!(
                            "{params_path}: key {key:?} is not arg:NAME or aux:NAME"
                        ));
                    }
                }
            }
            let given = shapes(args)?;
            let known: Vec<(&str, &[usize])> = given
                .iter()
                .map(|(n, d)| (n.as_str(), d.as_slice()))
                .collect();
            mxr::onnx::export(&symbol, &arg_params, &aux_params, &known, out)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "wrote {out} (ONNX opset {})\n",
                mxr::onnx::EXPORT_OPSET
            ))
        }
        _ => Err("expected `mxr onnx import ...` or `mxr onnx export ...`".into()),
    }
}

/// Splits the `--plugin PATH` options (allowed anywhere) off the other arguments.
fn split_plugins(args: &[String]) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut plugins, mut rest) = (Vec::new(), Vec::with_capacity(args.len()));
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--plugin" {
            plugins.push(it.next().ok_or("missing --plugin <path>")?.clone());
        } else {
            rest.push(a.clone());
        }
    }
    Ok((plugins, rest))
}

/// Loads `MXR_PLUGINS`, then every `--plugin PATH`.
fn load_plugins(plugins: &[String]) -> Result<(), String> {
    mxr::plugin::load_env().map_err(|e| format!("MXR_PLUGINS: {e}"))?;
    for path in plugins {
        mxr::plugin::load(path).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn run(args: &[String]) -> Result<String, String> {
    let (plugins, args) = split_plugins(args)?;
    let name = args.first().map(String::as_str);
    match (name, COMMANDS.iter().find(|c| Some(c.name) == name)) {
        (Some("-h" | "--help" | "help") | None, _) => Ok(format!("{}\n", usage())),
        (Some(other), None) => Err(format!("unknown command `{other}`\n{}", usage())),
        (_, Some(c)) => {
            // Help needs no plugin, and works when one fails to load.
            if args.iter().any(|a| a == "-h" || a == "--help") {
                return Ok(command_help(c));
            }
            check_options(c, &args)?;
            load_plugins(&plugins)?;
            (c.run)(&args)
        }
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
