//! Paths and helpers shared by the CLI tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The `baton` binary built for these tests.
pub fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `baton runs show ID` parsed.
pub fn runs_show(db: &Path, run_id: &str) -> Value {
    let out = Command::new(baton()).args(["runs", "show", run_id, "--db"]).arg(db).output().expect("runs show");
    assert!(out.status.success(), "runs show: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("runs show prints JSON")
}
