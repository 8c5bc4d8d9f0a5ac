//! Lists the CUDA C sources of `cuda/` for `include_str!`, so every `.cu` file there is compiled
//! (by NVRTC on a GPU, by the emulator's C++ compiler in tests) without a hand-kept list.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("cuda");
    println!("cargo:rerun-if-changed=cuda");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("kernels/cuda exists")
        .map(|e| e.expect("readable kernels/cuda").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .collect();
    names.sort();
    let mut out = String::from(
        "/// Every kernel source of `kernels/cuda/`: (file stem, CUDA C text).\n\
         pub(crate) const SOURCES: &[(&str, &str)] = &[\n",
    );
    for path in names {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 file name");
        writeln!(
            out,
            "    ({stem:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("cuda_sources.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
