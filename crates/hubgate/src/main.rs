//! `hubgate`: the server (`serve`), the operator's admin tool (`admin …`), and
//! the integrator's client commands (`token`, `hubs`, `events`, `account`,
//! `whoami`), in one binary.

mod admin;
mod cli;
mod client_cli;
mod manage_cli;
mod master_key;
mod serve;
mod settings;
mod simulate;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Token(args) => client_cli::token(args).await,
        Command::Hubs(args) => client_cli::hubs(args).await,
        Command::Events(args) => client_cli::events(args).await,
        Command::Integrations(args) => manage_cli::integrations(args).await,
        Command::Members(args) => manage_cli::members(args).await,
        Command::Audit(args) => manage_cli::audit(args).await,
        Command::Account(args) => client_cli::account(args).await,
        Command::Whoami(args) => client_cli::whoami(args).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "hubgate", &mut script);
            print_stdout(&String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
    }
}

/// Writes to stdout; a closed pipe (`hubgate … | head`) is not an error.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| {
        if text.ends_with('\n') {
            Ok(())
        } else {
            stdout.write_all(b"\n")
        }
    });
}
