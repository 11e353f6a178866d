//! edgepose binary: parse arguments, build settings, run, map the outcome to
//! an exit code (0 success, 1 failure, 2 usage error from clap).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = edgepose::cli::Cli::parse();
    edgepose::cmd::init_logging(cli.global.verbose);
    match edgepose::cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever the underlying libraries put in their messages.
            let msg = format!("{e:#}");
            eprintln!(
                "edgepose: error: {}",
                msg.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}
