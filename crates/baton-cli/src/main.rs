//! `baton`: run Serverless Workflow definitions durably.
//!
//! Data goes to stdout, everything else (progress, diagnostics, errors) to stderr. Exit codes:
//! 0 success (run completed), 1 run faulted or cancelled (or an internal error), 2 usage error
//! or invalid definition.

mod cli;
mod client;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, EventsCommand, InboxCommand, KeysCommand, RunsCommand, WorkspacesCommand};

/// Exit code for usage errors and invalid definitions.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("BATON_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    // Expression evaluation needs deep stacks (baton_core::expr); with 16 MiB worker stacks it
    // never has to switch to a freshly allocated one.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(16 << 20).build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => commands::run::run(args).await,
            Command::Validate(args) => commands::validate::validate(args),
            Command::Serve(args) => commands::serve::serve(args).await,
            Command::Runs { command: RunsCommand::List(args) } => commands::runs::list(args).await,
            Command::Runs { command: RunsCommand::Show(args) } => commands::runs::show(args).await,
            Command::Deploy(args) => commands::deploy::deploy(args).await,
            Command::Runs { command: RunsCommand::Cancel(args) } => {
                commands::runs::signal(args, client::Signal::Cancel).await
            }
            Command::Runs { command: RunsCommand::Suspend(args) } => {
                commands::runs::signal(args, client::Signal::Suspend).await
            }
            Command::Runs { command: RunsCommand::Resume(args) } => {
                commands::runs::signal(args, client::Signal::Resume).await
            }
            Command::Runs { command: RunsCommand::Watch(args) } => commands::watch::watch(args).await,
            Command::Events { command: EventsCommand::Send(args) } => commands::events::send(args).await,
            Command::Inbox { command: InboxCommand::List(args) } => commands::inbox::list(args).await,
            Command::Inbox { command: InboxCommand::Respond(args) } => commands::inbox::respond(args).await,
            Command::Keys { command: KeysCommand::Create(args) } => commands::identity::create_key(args).await,
            Command::Keys { command: KeysCommand::List(args) } => commands::identity::list_keys(args).await,
            Command::Keys { command: KeysCommand::Revoke(args) } => commands::identity::revoke_key(args).await,
            Command::Workspaces { command: WorkspacesCommand::Create(args) } => {
                commands::identity::create_workspace(args).await
            }
            Command::Workspaces { command: WorkspacesCommand::List(args) } => {
                commands::identity::list_workspaces(args).await
            }
            Command::Conformance(args) => commands::conformance::conformance(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            match err.downcast_ref::<commands::UsageError>() {
                Some(_) => ExitCode::from(EXIT_USAGE),
                None => ExitCode::FAILURE,
            }
        }
    }
}
