//! `MXR_REQUIRE_ALL=1` turns a skip for a missing dependency into a failure: tests of this
//! binary are run again in a child process with one dependency hidden, with and without the
//! switch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs test `name` of this binary alone with `env` (and a skip log of its own), the switch on
/// or off; returns the output and what the skip log holds.
fn run_hidden(name: &str, env: &[(&str, &Path)], require_all: bool) -> (Output, String) {
    let log = std::env::temp_dir().join(format!(
        "mxr-skips-{}-{}-{require_all}",
        std::process::id(),
        name.replace(':', "_")
    ));
    let _ = std::fs::remove_file(&log);
    let exe = std::env::current_exe().expect("the test binary has a path");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--test-threads=1", "--nocapture"])
        .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
        .env("MXR_SKIP_LOG", &log)
        .env_remove("MXR_REQUIRE_NVRTC");
    if require_all {
        cmd.env("MXR_REQUIRE_ALL", "1");
    } else {
        cmd.env_remove("MXR_REQUIRE_ALL");
    }
    let out = cmd.output().expect("the test binary runs again");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    (out, logged)
}

/// Checks the two runs of `name` with a dependency hidden: without the switch it passes and
/// the skip is logged naming the test and `kind`; with it, it fails saying why.
fn check_switch(name: &str, env: &[(&str, &Path)], kind: &str, why: &str) {
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let (skipped, logged) = run_hidden(name, env, false);
    let all = text(&skipped);
    assert!(skipped.status.success(), "{all}");
    assert!(
        all.contains("running 1 test"),
        "the filter picks one test: {all}"
    );
    assert!(all.contains(&format!("skip: {why}")), "{all}");
    let line = format!("frontend::{name}\t{kind}\t");
    assert!(
        logged.starts_with(&line) && logged.contains(why) && logged.lines().count() == 1,
        "skip log: {logged:?}"
    );

    let (failed, logged) = run_hidden(name, env, true);
    let all = text(&failed);
    assert!(!failed.status.success(), "{all}");
    assert!(all.contains("1 failed"), "{all}");
    assert!(
        all.contains(&format!(
            "MXR_REQUIRE_ALL=1, but frontend::{name} would skip: {why}"
        )),
        "{all}"
    );
    assert_eq!(logged, "", "a failure is not logged as a skip");
}

/// An empty directory, to stand for a dependency's location.
fn nowhere(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mxr-nowhere-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_hidden_dataset_fails_the_run_under_mxr_require_all() {
    let dir = nowhere("fashion");
    check_switch(
        "model::the_mxnet_checkpoint_predicts_as_mxnet_did",
        &[("FMNIST_DIR", &dir)],
        "Fashion-MNIST",
        &format!("Fashion-MNIST is not in {}", dir.display()),
    );
    std::fs::remove_dir(dir).unwrap();
}

#[test]
fn mpirun_off_path_fails_the_run_under_mxr_require_all() {
    let dir = nowhere("path");
    // Built without the `mpi` feature the test skips for that before looking for mpirun.
    let why = if cfg!(feature = "mpi") {
        "mpirun is not on PATH"
    } else {
        "built without the `mpi` feature"
    };
    check_switch(
        "kvstore::dist_sync_sums_across_two_processes",
        &[("PATH", &dir)],
        "MPI",
        why,
    );
    std::fs::remove_dir(dir).unwrap();
}
