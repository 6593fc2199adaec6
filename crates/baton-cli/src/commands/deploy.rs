//! `baton deploy FILE...`: deploy definitions to a running server.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::DeployArgs;
use crate::client::{ClientError, cli_error};
use crate::commands::print_data;

/// Exit code when a definition is invalid or unreadable.
const EXIT_INVALID: u8 = 2;

/// Prints `namespace/name:version created|unchanged` per file (stdout); an invalid definition's
/// diagnostics as `FILE:/path: message` (stderr, exit 2); any other refusal as
/// `error: <title>: <detail>` (exit 1). Every file is tried; an unreachable server stops at once.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let client = crate::commands::connect(&args.server)?;
    let (mut invalid, mut refused) = (0usize, 0usize);
    for file in &args.files {
        let shown = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("error: cannot read {shown}: {err}");
                invalid += 1;
                continue;
            }
        };
        match client.deploy(text, content_type(file), args.concurrency).await {
            Ok(deployment) => {
                let outcome = if deployment.created { "created" } else { "unchanged" };
                print_data(&format!("{}/{}:{} {outcome}", deployment.namespace, deployment.name, deployment.version));
            }
            Err(ClientError::Problem(problem)) => {
                if problem.slug() == "invalid-definition" {
                    for (path, message) in problem.diagnostics() {
                        eprintln!("{shown}:{path}: {message}");
                    }
                }
                eprintln!("error: {problem}");
                if problem.is_usage() {
                    invalid += 1;
                } else {
                    refused += 1;
                }
            }
            Err(err) => return Err(cli_error(err)),
        }
    }
    Ok(match (invalid, refused) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::FAILURE,
        _ => ExitCode::from(EXIT_INVALID),
    })
}

/// The media type of a definition file by its extension.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|ext| ext.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => "application/json",
        Some("yaml" | "yml") => "application/yaml",
        _ => "text/plain",
    }
}
