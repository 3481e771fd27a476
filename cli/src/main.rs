//! The `cronhost` binary: parses the command line, sets up logging and runs one command.

mod cli;

fn main() {
    // A child started to run an isolated provider serves it and exits here.
    cronhost::serve_if_asked();
    std::process::exit(cli::main());
}
