//! `cronhost status`: the verdict, for people or as JSON.

use chrono::Utc;
use cronhost::schedule::parse_zone;
use cronhost::status::{gather, Verdict};
use cronhost::store::Store;

use super::{print_json, CliError, Context, EXIT_FAILURE, EXIT_OK};

pub fn run(context: &Context, json: bool) -> Result<i32, CliError> {
    let store = Store::open(&context.home.store_file())?;
    let report = gather(&context.home, &context.config, &store)?;
    if json {
        print_json(&report)?;
    } else {
        let zone = parse_zone(&context.config.cron.timezone).unwrap_or(chrono_tz::UTC);
        println!("{}", report.render(zone, Utc::now()));
    }
    Ok(if report.verdict == Verdict::Healthy {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}
