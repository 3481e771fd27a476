//! The `cronhost` binary: parses the command line and runs one command.

mod cli;

fn main() {
    // A child started to run an isolated provider serves it and exits here.
    cronhost::isolate::serve_if_asked();
    // Die quietly on a closed pipe (`cronhost jobs list | head`), as command-line tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    std::process::exit(cli::main());
}
