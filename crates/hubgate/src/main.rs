//! `hubgate`: the server (`serve`), the operator's admin tool (`admin …`), and
//! later the integrator's client commands, in one binary.

mod admin;
mod cli;
mod master_key;
mod serve;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Admin(args) => admin::run(args).await,
    }
}
