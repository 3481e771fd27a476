//! The README's embedding example is `host/examples/readme.rs`, which CI compiles and runs:
//! this fails when the README's copy drifts from it.

/// The first ```rust block after `heading` in `text`.
fn rust_block_after<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let section = &text[text.find(heading)?..];
    let start = section.find("```rust\n")? + "```rust\n".len();
    let length = section[start..].find("```\n")?;
    Some(&section[start..start + length])
}

#[test]
fn the_readme_prints_the_example_that_ci_runs() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../examples/readme.rs");
    let printed = rust_block_after(readme, "## Embedding the host in an application")
        .expect("the README has an embedding section with a rust block");
    assert_eq!(
        printed, example,
        "README.md's embedding snippet differs from host/examples/readme.rs; copy one to the other"
    );
}
