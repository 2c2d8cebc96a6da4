//! The `registrar` binary: see the library's documentation, or run `registrar --help`.
//!
//! The command line lives here, not in the library: argument parsing (clap), the progress bar
//! (indicatif) and JSON output (serde_json) are the binary's own dependencies, behind the
//! default `cli` feature.

mod cli;
mod output;

fn main() -> std::process::ExitCode {
    cli::run(std::env::args_os())
}
