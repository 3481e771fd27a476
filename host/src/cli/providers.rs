//! `cronhost providers`: what is installed, what is selected, what was rejected and why.

use cronhost::catalog::Catalog;
use cronhost::plugins::discover;

use std::path::{Path, PathBuf};

use cronhost::plugins::{load_library, vet_dir, vet_file};

use super::{print_json, CliError, Context, EXIT_FAILURE, EXIT_OK};

#[derive(Debug, clap::Subcommand)]
pub enum ProvidersCommand {
    /// Vet and load one library (its directory counts as the plugins directory) and print its
    /// metadata, digest and verdict; exit 0 when it would load.
    Check {
        /// The library file.
        file: PathBuf,
    },
}

pub fn check(context: &Context, file: &Path, json: bool) -> Result<i32, CliError> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let verdict = vet_dir(dir)
        .and_then(|()| vet_file(dir, file, &context.config.vet_policy()))
        .and_then(|vetted| load_library(file, vetted));
    let report = match &verdict {
        Ok(library) => serde_json::json!({
            "path": file,
            "verdict": "ok",
            "sha256": library.sha256,
            "version": library.library_version,
            "api_version": library.api_version,
            "providers": library.metadata.providers.iter().map(|p| serde_json::json!({
                "name": p.name.as_str(),
                "description": p.description.as_str(),
                "start_blocks": p.start_blocks,
            })).collect::<Vec<_>>(),
        }),
        Err(reason) => serde_json::json!({ "path": file, "verdict": "refused", "reason": reason }),
    };
    if json {
        print_json(&report)?;
    } else {
        match &verdict {
            Ok(library) => {
                println!("{}: ok", file.display());
                println!("  sha256:      {}", library.sha256);
                println!(
                    "  version:     {} (cronhost-provider-api {})",
                    library.library_version, library.api_version
                );
                for provider in library.metadata.providers.iter() {
                    println!(
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
            Err(reason) => println!("{}: refused: {reason}", file.display()),
        }
    }
    Ok(if verdict.is_ok() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}

pub fn run(context: &Context, json: bool) -> Result<i32, CliError> {
    let discovery = discover(
        &context.config.plugins_dir(&context.home),
        &context.config.vet_policy(),
    );
    let catalog = Catalog::build(&context.config, &discovery);
    if json {
        print_json(&catalog)?;
    } else {
        print_table(&catalog, &discovery.dir);
    }
    Ok(EXIT_OK)
}

fn print_table(catalog: &Catalog, dir: &std::path::Path) {
    println!("plugins dir: {}", dir.display());
    println!("selected:    {}", catalog.selected);
    println!();
    let name_width = catalog
        .providers
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "  {:name_width$}  {:9}  {:5}  {:9}  {:10}  PATH",
        "NAME", "VERSION", "API", "AVAILABLE", "ISOLATION"
    );
    for row in &catalog.providers {
        let marker = if row.name == catalog.selected {
            '*'
        } else {
            ' '
        };
        println!(
            "{marker} {:name_width$}  {:9}  {:5}  {:9}  {:10}  {}",
            row.name,
            row.version,
            row.api_version,
            if row.available { "yes" } else { "no" },
            row.isolation,
            row.path.display()
        );
    }
    if !catalog.rejected.is_empty() {
        println!();
        println!("rejected:");
        for rejected in &catalog.rejected {
            println!("  {}: {}", rejected.path.display(), rejected.reason);
        }
    }
}
