//! edgepose binary: parse arguments, build settings, run, map the outcome to
//! an exit code (0 success, 1 failure, 2 usage error from clap, 70 a panic:
//! see `edgepose::panic`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    edgepose::panic::install();
    let cli = edgepose::cli::Cli::parse();
    edgepose::cmd::init_logging(cli.global.verbose);
    #[cfg(debug_assertions)]
    test_panic();
    match edgepose::cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("edgepose: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, whatever the underlying libraries
/// put in their messages. A cause whose text the line already holds (many
/// errors show their source in their own message) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Debug builds only, for the test of the panic hook (tests/bad_input.rs):
/// `EDGEPOSE_TEST_PANIC=main` panics here, `=thread` in a second thread
/// while this one waits for it forever (as the frame loop would wait for a
/// capture thread): the process must still end, with one line and exit 70.
#[cfg(debug_assertions)]
fn test_panic() {
    match std::env::var("EDGEPOSE_TEST_PANIC").as_deref() {
        Ok("main") => panic!("test panic on the main thread\nsecond line"),
        Ok("thread") => {
            let _t = std::thread::Builder::new()
                .name("capture".into())
                .spawn(|| panic!("test panic on another thread"));
            loop {
                std::thread::park();
            }
        }
        _ => {}
    }
}
