//! `cronhost status`: the verdict, for people or as JSON.

use chrono::Utc;
use cronhost::status::{gather, Verdict};

use super::{print_document, CliError, Context};

pub fn run(context: &Context, json: bool) -> Result<i32, CliError> {
    let store = context.reader()?;
    let store = &store;
    let report = gather(&context.home, &context.config, store)?;
    let provider = provider_status(context);
    if json {
        let mut value =
            serde_json::to_value(&report).map_err(|e| CliError::failure(e.to_string()))?;
        if let Some(provider) = &provider {
            value["provider_status"] = match provider {
                Ok(status) => status.clone(),
                Err(error) => serde_json::json!({ "error": error }),
            };
        }
        print_document("cronhost-status", &value)?;
    } else {
        let zone = context.config.zone();
        // Errors in the report come from jobs and providers: no escape sequence reaches the
        // terminal.
        let text = report
            .render(zone, Utc::now())
            .lines()
            .map(cronhost::text::for_terminal)
            .collect::<Vec<_>>()
            .join("\n");
        let (headline, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let colour = match report.verdict {
            Verdict::Healthy => super::style::Colour::Green,
            Verdict::Failing | Verdict::Stalled | Verdict::JobsFailing => {
                super::style::Colour::Yellow
            }
            Verdict::NotRunning => super::style::Colour::Red,
            _ => super::style::Colour::Yellow,
        };
        outln!("{}", super::style::paint(headline, colour));
        if !rest.is_empty() {
            outln!("{rest}");
        }
        match provider {
            Some(Ok(status)) => print_provider_status(context, &status),
            Some(Err(error)) => outln_escaped!("provider status: unavailable: {error}"),
            None => {}
        }
    }
    Ok(report.verdict.exit_code())
}

/// What the selected provider reports about itself (a cluster provider: its members and
/// runs), asked of a fresh instance in a child process (never loaded into the CLI); `None`
/// for the built-in ticker or a provider that reports nothing.
pub fn provider_status(context: &Context) -> Option<Result<serde_json::Value, String>> {
    let name = context.config.selected_provider()?;
    let discovery = cronhost::plugins::discover(
        &context.config.plugins_dir(&context.home),
        &context.config.discover_options(&context.home),
    );
    let discovered = discovery.find(name)?;
    let provider = match cronhost::provider::ProviderHandle::open_as(
        discovered,
        &context.config,
        cronhost::Isolation::Process,
    ) {
        Ok(provider) => provider,
        Err(e) => return Some(Err(e.to_string())),
    };
    provider.status().map_err(|e| e.to_string()).transpose()
}

fn print_provider_status(context: &Context, status: &serde_json::Value) {
    let Some(members) = status["members"].as_array() else {
        outln_escaped!("provider status: {status}");
        return;
    };
    let daemon = cronhost::DaemonLock::holder(&context.home.state_dir());
    outln_escaped!(
        "cluster:     {} ({} member(s))",
        status["cluster"].as_str().unwrap_or("?"),
        members.len()
    );
    for member in members {
        let name = member["member"].as_str().unwrap_or("?");
        let age = member["last_seen_age_secs"].as_f64().unwrap_or(f64::NAN);
        // This host's daemon (same pid), seen by the database moments ago: it holds its
        // connection.
        let this =
            daemon.is_some_and(|pid| member["pid"].as_u64() == Some(u64::from(pid))) && age < 10.0;
        outln_escaped!(
            "  {name:30}  last seen {age:.1}s ago{}",
            if this {
                "  <- this host (holds the database)"
            } else {
                ""
            }
        );
    }
}
