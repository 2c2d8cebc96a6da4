//! The `registrar` binary: see the library's documentation, or run `registrar --help`.

fn main() -> std::process::ExitCode {
    registrar::run(std::env::args_os())
}
