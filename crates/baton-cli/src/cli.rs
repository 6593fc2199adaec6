//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Baton: a durable workflow engine for Serverless Workflow 1.0.3.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workflow to its end on the embedded SQLite database and print its output.
    Run(RunArgs),
    /// Check definitions; print every problem with its path.
    Validate(ValidateArgs),
    /// Inspect runs stored in a database.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Run the conformance kit's `.feature` files of a folder, offline; print PASS/FAIL per scenario.
    Conformance(ConformanceArgs),
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List(ListArgs),
    /// Show one run: status, input, output or error, and history.
    Show(ShowArgs),
}

/// Where the SQLite database lives.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// SQLite database file (created when missing).
    #[arg(long, default_value = "baton.db", env = "BATON_DB")]
    pub db: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workflow definition (YAML or JSON).
    pub file: PathBuf,
    /// Workflow input: JSON text, or @FILE to read JSON or YAML from a file.
    #[arg(long, default_value = "{}")]
    pub input: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Folder of further definitions (subflows for `run: workflow`), deployed first.
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    /// A secret as NAME=VALUE (VALUE is JSON when it parses as JSON, text otherwise). Repeatable.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,
    /// Run id: resumes that run when it is unfinished, prints its result when it has ended,
    /// starts a new run with this id otherwise.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Allow calls to loopback and private addresses (local development and tests).
    #[arg(long)]
    pub allow_private_network: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Definitions to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Folder of CTK `.feature` files (e.g. `ctk/features`).
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Only runs with this status (pending, running, waiting, suspended, cancelled, faulted, completed).
    #[arg(long)]
    pub status: Option<String>,
    /// Maximum number of runs.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id.
    pub id: String,
    #[command(flatten)]
    pub db: DbArgs,
}
