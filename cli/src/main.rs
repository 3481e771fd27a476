//! The `cronhost` binary: parses the command line and runs one command.

mod cli;

fn main() {
    // A child started to run an isolated provider serves it and exits here.
    cronhost::serve_if_asked();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    std::process::exit(cli::main());
}
