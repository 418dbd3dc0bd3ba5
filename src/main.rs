//! The `caja` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    caja::cli::main()
}
