//! `cronhost providers`: what is installed, what is selected, what was rejected and why.

use cronhost::catalog::Catalog;
use cronhost::plugins::discover;

use super::{print_json, CliError, Context, EXIT_OK};

pub fn run(context: &Context, json: bool) -> Result<i32, CliError> {
    let discovery = discover(&context.config.plugins_dir(&context.home));
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
        "  {:name_width$}  {:9}  {:5}  {:9}  PATH",
        "NAME", "VERSION", "API", "AVAILABLE"
    );
    for row in &catalog.providers {
        let marker = if row.name == catalog.selected {
            '*'
        } else {
            ' '
        };
        println!(
            "{marker} {:name_width$}  {:9}  {:5}  {:9}  {}",
            row.name,
            row.version,
            row.api_version,
            if row.available { "yes" } else { "no" },
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
