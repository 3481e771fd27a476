//! `cronhost runs`: the run history.

use clap::Args;
use cronhost::schedule::{format_local, parse_zone};
use cronhost::store::Store;

use super::{print_json, CliError, Context, EXIT_OK};

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this job (id or name).
    job: Option<String>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: RunsArgs) -> Result<i32, CliError> {
    let store = Store::open(&context.home.store_file())?;
    let runs = store.runs(args.job.as_deref(), args.limit)?;
    if args.json {
        print_json(&runs)?;
        return Ok(EXIT_OK);
    }
    let zone = parse_zone(&context.config.cron.timezone).unwrap_or(chrono_tz::UTC);
    println!(
        "{:8}  {:23}  {:10}  {:>9}  {:>5}  DETAIL",
        "JOB", "SCHEDULED", "STATUS", "LATENESS", "EXIT"
    );
    for run in runs {
        let detail = run.reason.clone().or(run.error.clone()).unwrap_or_default();
        println!(
            "{:8}  {:23}  {:10}  {:>9}  {:>5}  {}",
            run.job_id,
            format_local(run.scheduled_at, zone),
            run.status.as_str(),
            run.lateness_ms
                .map(|ms| format!("{ms}ms"))
                .unwrap_or_default(),
            run.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            detail
        );
    }
    Ok(EXIT_OK)
}
