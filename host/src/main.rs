//! The `cronhost` binary: parses the command line and runs one command.

mod cli;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    std::process::exit(cli::main());
}
