//! `cronhost providers`: what is installed, what is selected, what was rejected and why.

use cronhost::catalog::Catalog;
use cronhost::config::Config;
use cronhost::home::Home;
use cronhost::plugins::discover;

use super::{EXIT_OK, EXIT_USAGE};

pub fn run(home: &Home, json: bool) -> i32 {
    let config = match Config::load(home) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cronhost: {e}");
            return EXIT_USAGE;
        }
    };
    let discovery = discover(&config.plugins_dir(home));
    let catalog = Catalog::build(&config, &discovery);
    if json {
        match serde_json::to_string_pretty(&catalog) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("cronhost: cannot encode JSON: {e}"),
        }
    } else {
        print_table(&catalog, &discovery.dir);
    }
    EXIT_OK
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
