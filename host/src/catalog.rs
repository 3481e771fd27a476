//! The provider catalogue behind `cronhost providers`: what is installed, usable and selected.
//! Availability is asked in the sandboxed probe, never in this process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, Isolation};
use crate::crash_guard::CrashVerdict;
use crate::plugins::probe::{Job, Probed, SandboxReport};
use crate::plugins::{revet, DiscoverOptions, Discovered, Discovery, Rejected, Vetted};
use crate::provider::BUILTIN_NAME;

/// One selectable provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProviderRow {
    /// Its name.
    pub name: String,
    /// The library's version.
    pub version: String,
    /// The provider-api version it was built against.
    pub api_version: String,
    /// The library file.
    pub path: PathBuf,
    /// Its SHA-256, for `cron.plugin_allowlist` (empty for the built-in ticker).
    pub sha256: String,
    /// Whether it constructs and reports itself available with the current config (asked in
    /// the sandboxed probe: no network, no writes).
    pub available: bool,
    /// Where it runs: `in-process` or `process` (`[providers.NAME] isolation`, or a crash
    /// verdict).
    pub isolation: &'static str,
    /// The crash verdict that makes it run isolated, if any.
    pub crash_verdict: Option<String>,
}

/// Everything `cronhost providers` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Catalog {
    /// The trigger `cronhost run` would use now.
    pub selected: String,
    /// Selectable providers, the built-in first.
    pub providers: Vec<ProviderRow>,
    /// Files and providers that were rejected, with reasons.
    pub rejected: Vec<Rejected>,
    /// Providers that took a host down, and run isolated because of it.
    pub crash_verdicts: Vec<CrashVerdict>,
    /// The sandbox the probe ran in.
    pub probe_sandbox: Option<SandboxReport>,
}

impl Catalog {
    /// Ask every discovered provider, in the probe, whether it constructs with its config
    /// section and reports itself available, and resolve the selection as `cronhost run`
    /// would.
    pub fn build(
        config: &Config,
        discovery: &Discovery,
        options: &DiscoverOptions,
        crash_verdicts: Vec<CrashVerdict>,
    ) -> Self {
        let mut rows = vec![ProviderRow {
            name: BUILTIN_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            api_version: cronhost_provider_api::API_VERSION.into(),
            path: PathBuf::from("(built in)"),
            sha256: String::new(),
            available: true,
            isolation: "in-process",
            crash_verdict: None,
        }];
        let mut rejected = discovery.rejected.clone();
        // Vet each provider's file again (cheap: the identity is known) to hand it over.
        // One descriptor per file, however many providers it offers: the probe loads each
        // descriptor once.
        let mut revetted: Vec<Result<Vetted, String>> = Vec::new();
        let mut file_index: HashMap<&Path, usize> = HashMap::new();
        let vetted: Vec<usize> = discovery
            .providers
            .iter()
            .map(|discovered| {
                *file_index
                    .entry(discovered.file.path.as_path())
                    .or_insert_with(|| {
                        revetted.push(revet(&discovered.file));
                        revetted.len() - 1
                    })
            })
            .collect();
        let vetted: Vec<&Result<Vetted, String>> =
            vetted.into_iter().map(|i| &revetted[i]).collect();
        let configs: Vec<String> = discovery
            .providers
            .iter()
            .map(|discovered| config.provider_section_json(discovered.name()))
            .collect();
        let mut jobs = Vec::new();
        for (index, discovered) in discovery.providers.iter().enumerate() {
            if let Ok(file) = vetted[index] {
                jobs.push((
                    index,
                    Job {
                        file: file.file(),
                        path: &discovered.file.path,
                        check: Some((discovered.name(), configs[index].as_str())),
                    },
                ));
            }
        }
        let (indices, jobs): (Vec<usize>, Vec<Job<'_>>) = jobs.into_iter().unzip();
        let (answers, sandbox) = if jobs.is_empty() {
            (Vec::new(), None)
        } else {
            options.prober.probe(&jobs)
        };
        let mut answer_of: Vec<Option<Probed>> = vec![None; discovery.providers.len()];
        for (index, answer) in indices.into_iter().zip(answers) {
            answer_of[index] = Some(answer);
        }
        for (index, discovered) in discovery.providers.iter().enumerate() {
            let file = &discovered.file;
            // A provider that cannot be constructed is no choice at all: rejected, not
            // listed; one whose `is_available` fails is listed as unavailable, with the reason.
            let (available, reason) = match (vetted[index], answer_of[index].take()) {
                (_, Some(Probed::Available(available))) => (available, None),
                (_, Some(Probed::AvailabilityFailed(reason))) => (false, Some(reason)),
                (Err(reason), _) => {
                    reject(&mut rejected, discovered, reason.clone());
                    continue;
                }
                (_, Some(Probed::Refused(reason) | Probed::Fatal(reason))) => {
                    reject(&mut rejected, discovered, reason);
                    continue;
                }
                (_, Some(Probed::Unknown(reason))) => {
                    reject(&mut rejected, discovered, format!("not probed: {reason}"));
                    continue;
                }
                (_, Some(Probed::Library(_)) | None) => {
                    reject(&mut rejected, discovered, "the probe gave no answer".into());
                    continue;
                }
            };
            if let Some(reason) = reason {
                reject(&mut rejected, discovered, reason);
            }
            let verdict = crash_verdicts
                .iter()
                .find(|v| v.provider == discovered.name() && v.sha256 == file.sha256);
            let isolated =
                verdict.is_some() || config.isolation(discovered.name()) == Isolation::Process;
            rows.push(ProviderRow {
                name: discovered.name().to_owned(),
                version: file.library_version.clone(),
                api_version: file.api_version.clone(),
                path: file.path.clone(),
                sha256: file.sha256.clone(),
                available,
                isolation: if isolated { "process" } else { "in-process" },
                crash_verdict: verdict.map(ToString::to_string),
            });
        }
        // The resolver's rule, applied to the probes above.
        let selected = match config.selected_provider() {
            Some(name) if rows.iter().any(|row| row.name == name && row.available) => {
                name.to_owned()
            }
            _ => BUILTIN_NAME.to_owned(),
        };
        Self {
            selected,
            providers: rows,
            rejected,
            crash_verdicts,
            probe_sandbox: sandbox.or_else(|| discovery.sandbox.clone()),
        }
    }
}

fn reject(rejected: &mut Vec<Rejected>, discovered: &Discovered, reason: String) {
    rejected.push(Rejected {
        path: discovered.file.path.clone(),
        reason: format!("provider `{}`: {reason}", discovered.name()),
    });
}
