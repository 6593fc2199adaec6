//! `baton validate FILE...`: every problem of every file, each with its path.

use std::process::ExitCode;

use baton_core::definition::load_definition;

use crate::cli::ValidateArgs;

/// Prints `FILE: ok` (stdout) or `FILE:/path: message` lines (stderr); exit 1 when any file is
/// invalid.
pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut invalid = 0;
    for file in &args.files {
        let shown = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("{shown}: cannot read: {err}");
                invalid += 1;
                continue;
            }
        };
        match load_definition(&text) {
            Ok(_) => crate::commands::print_data(&format!("{shown}: ok")),
            Err(err) => {
                invalid += 1;
                for diagnostic in err.diagnostics() {
                    eprintln!("{shown}:{diagnostic}");
                }
            }
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} of {} file(s) invalid", args.files.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
