//! `cronhost providers`: what is installed, what is selected, what was rejected and why.

use std::path::{Path, PathBuf};

use cronhost::plugins::{discover, probe_file, vet_dir, vet_file};
use cronhost::Catalog;
use cronhost::CrashGuard;

use super::{print_document, CliError, Context, EXIT_FAILURE, EXIT_OK};

#[derive(Debug, clap::Subcommand)]
pub enum ProvidersCommand {
    /// Vet one library (its directory counts as the plugins directory), load it in the
    /// sandboxed probe and print its metadata, digest and verdict; exit 0 when it would load.
    Check {
        /// The library file.
        file: PathBuf,
    },
    /// Lift the crash verdict on a provider that took a host down, so the next start runs it
    /// as configured (in-process by default) again.
    Clear {
        /// The provider's name.
        name: String,
    },
}

pub fn clear(context: &Context, name: &str) -> Result<i32, CliError> {
    let guard = CrashGuard::new(&context.home.state_dir());
    match guard.clear(name) {
        Ok(Some(verdict)) => {
            outln_escaped!(
                "lifted the crash verdict on `{name}` (it took the host with pid {} down); the next start runs it as configured",
                verdict.pid
            );
            Ok(EXIT_OK)
        }
        Ok(None) => {
            let names: Vec<String> = guard.verdicts().into_iter().map(|v| v.provider).collect();
            Err(CliError::usage(format!(
                "no crash verdict on `{name}`; verdicts stand on: {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )))
        }
        Err(e) => Err(CliError::failure(format!(
            "cannot lift the crash verdict on `{name}`: {e}"
        ))),
    }
}

pub fn check(context: &Context, file: &Path, json: bool) -> Result<i32, CliError> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let options = context.config.discover_options(&context.home);
    let verdict = vet_dir(dir)
        .and_then(|()| vet_file(dir, file, &options.policy))
        .and_then(|vetted| {
            let report = probe_file(&options.prober, &vetted, file)?;
            Ok((vetted.sha256, report))
        });
    let report = match &verdict {
        Ok((sha256, library)) => serde_json::json!({
            "path": file,
            "verdict": "ok",
            "sha256": sha256,
            "library_version": library.library_version,
            "api_version": library.api_version,
            "providers": library.providers.iter().map(|p| serde_json::json!({
                "name": p.name,
                "description": p.description,
                "start_blocks": p.start_blocks,
            })).collect::<Vec<_>>(),
        }),
        Err(reason) => serde_json::json!({ "path": file, "verdict": "refused", "reason": reason }),
    };
    if json {
        print_document("cronhost-provider-check", &report)?;
    } else {
        match &verdict {
            Ok((sha256, library)) => {
                outln_escaped!("{}: ok", file.display());
                outln_escaped!("  sha256:      {sha256}");
                outln_escaped!(
                    "  version:     {} (cronhost-provider-api {})",
                    library.library_version,
                    library.api_version
                );
                for provider in &library.providers {
                    outln_escaped!(
                        "  provider:    {}{}  {}",
                        provider.name,
                        if provider.start_blocks {
                            ""
                        } else {
                            " (arms an external scheduler)"
                        },
                        provider.description
                    );
                }
            }
            Err(reason) => outln_escaped!("{}: refused: {reason}", file.display()),
        }
    }
    Ok(if verdict.is_ok() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}

pub fn run(context: &Context, json: bool) -> Result<i32, CliError> {
    let options = context.config.discover_options(&context.home);
    let discovery = discover(&context.config.plugins_dir(&context.home), &options);
    let verdicts = CrashGuard::new(&context.home.state_dir()).verdicts();
    let catalog = Catalog::build(&context.config, &discovery, &options, verdicts);
    if json {
        print_document("cronhost-providers", &catalog)?;
    } else {
        print_table(&catalog, &discovery.dir);
    }
    Ok(EXIT_OK)
}

fn print_table(catalog: &Catalog, dir: &std::path::Path) {
    outln_escaped!("plugins dir: {}", dir.display());
    outln_escaped!("selected:    {}", catalog.selected);
    outln_escaped!();
    let name_width = catalog
        .providers
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    outln_escaped!(
        "  {:name_width$}  {:9}  {:5}  {:9}  {:10}  PATH",
        "NAME",
        "VERSION",
        "API",
        "AVAILABLE",
        "ISOLATION"
    );
    for row in &catalog.providers {
        let marker = if row.name == catalog.selected {
            '*'
        } else {
            ' '
        };
        outln_escaped!(
            "{marker} {:name_width$}  {:9}  {:5}  {:9}  {:10}  {}",
            row.name,
            row.version,
            row.api_version,
            if row.available { "yes" } else { "no" },
            row.isolation,
            row.path.display()
        );
    }
    for verdict in &catalog.crash_verdicts {
        outln_escaped!();
        outln_escaped!("crash verdict: {verdict}");
        outln_escaped!(
            "  it runs isolated until its file changes or `cronhost providers clear {}`",
            verdict.provider
        );
    }
    if !catalog.rejected.is_empty() {
        outln_escaped!();
        outln_escaped!("rejected:");
        for rejected in &catalog.rejected {
            outln_escaped!("  {}: {}", rejected.path.display(), rejected.reason);
        }
    }
}
