//! The `mxr` command-line tool.
//!
//! ```text
//! mxr ops [NAME]                      list the registered operators (or one) with parameters
//! ```
//!
//! (`inspect`, `infer-shape` and `exec` over symbol JSON come with the Symbol frontend.)
//!
//! Errors print one clear line to stderr and exit with status 1.

use std::process::ExitCode;

use mxr::operators::registry;

fn usage() -> &'static str {
    "usage:\n  mxr ops [NAME]    list the registered operators (or one) with their parameters"
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
        for p in (def.params)() {
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

fn run(args: &[String]) -> Result<String, String> {
    match args.first().map(String::as_str) {
        Some("ops") => ops(args.get(1).map(String::as_str)),
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
