//! File snapshots in the style of `expect-test`: `UPDATE_EXPECT=1 cargo test` rewrites the
//! expected files instead of failing.

use std::path::{Path, PathBuf};

/// The folder of test data, `crates/baton-model/tests/data`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("data")
}

/// The files of `folder` whose name ends with `suffix`, sorted by name.
pub fn files_ending_with(folder: &Path, suffix: &str) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(folder).unwrap_or_else(|err| panic!("cannot list {}: {err}", folder.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.to_str().is_some_and(|name| name.ends_with(suffix)))
        .collect();
    files.sort();
    files
}

/// Compares `actual` with the content of `expected_file`. Returns a description of the
/// difference, or `None` when they match. With `UPDATE_EXPECT=1` the file is rewritten instead.
pub fn compare_with_file(expected_file: &Path, actual: &str) -> Option<String> {
    let expected = std::fs::read_to_string(expected_file).unwrap_or_default();
    if expected == actual {
        return None;
    }
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|value| value == "1") {
        std::fs::write(expected_file, actual)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", expected_file.display()));
        return None;
    }
    Some(format!(
        "{} differs (run with UPDATE_EXPECT=1 to accept):\n--- expected\n{expected}--- actual\n{actual}---",
        expected_file.display()
    ))
}
