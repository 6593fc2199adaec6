//! `baton conformance DIR`: runs the Serverless Workflow conformance kit (CTK) features of `DIR`
//! against the engine, offline.
//!
//! Every `.feature` file of `DIR` runs in name order, its scenarios in file order. Calls to
//! `petstore.swagger.io` and `httpbin.org` go to a local stand-in started once; each scenario
//! runs on its own SQLite database in a temporary folder. stdout gets one line per scenario,
//! `PASS file: Scenario` or `FAIL file: Scenario — reason`, then `N passed, M failed`. Exit code 0
//! when every scenario passes, 1 otherwise.

mod check;
mod feature;
mod scenario;
mod step;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use baton_server::standin::StandIn;

use crate::cli::ConformanceArgs;
use crate::commands::conformance::scenario::Harness;
use crate::commands::{UsageError, print_data};

pub async fn conformance(args: ConformanceArgs) -> anyhow::Result<ExitCode> {
    let files = feature_files(&args.dir)?;
    let standin = StandIn::start().await.context("cannot start the stand-in server")?;
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    let mut harness = Harness::new(standin.rewrites(), scratch.path());
    let (mut n_passed, mut n_failed) = (0_usize, 0_usize);
    for file in &files {
        let file_name = file.file_name().map_or_else(|| file.display().to_string(), |it| it.to_string_lossy().into());
        let scenarios = std::fs::read_to_string(file)
            .map_err(|err| format!("cannot read: {err}"))
            .and_then(|text| feature::load(&text).map_err(|err| format!("cannot parse: {err}")));
        let scenarios = match scenarios {
            Ok(scenarios) => scenarios,
            Err(reason) => {
                print_data(&format!("FAIL {file_name} — {reason}"));
                n_failed += 1;
                continue;
            }
        };
        for scenario in &scenarios {
            match harness.run(scenario).await {
                Ok(()) => {
                    print_data(&format!("PASS {file_name}: {}", scenario.name));
                    n_passed += 1;
                }
                Err(reason) => {
                    print_data(&format!("FAIL {file_name}: {} — {reason}", scenario.name));
                    n_failed += 1;
                }
            }
        }
    }
    print_data(&format!("{n_passed} passed, {n_failed} failed"));
    standin.shutdown().await;
    Ok(if n_failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The `.feature` files directly in `dir`, sorted by name.
fn feature_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|err| UsageError(format!("cannot read {}: {err}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "feature"))
        .collect();
    if files.is_empty() {
        return Err(UsageError(format!("no .feature files in {}", dir.display())).into());
    }
    files.sort();
    Ok(files)
}
