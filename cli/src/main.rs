//! `privdata`: run the demo, drive share operations, inspect private data.

mod commands;
#[cfg(feature = "demo")]
mod demo;
mod output;
mod progress;

fn main() -> std::process::ExitCode {
    // As every Unix tool: a reader that goes away (`privdata demo | head`)
    // ends the program quietly, not with a panic.
    sigpipe::reset();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PRIVDATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match commands::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
