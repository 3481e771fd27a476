//! Files and directories the host keeps its state in: who may write them (the ownership
//! policy) and how a state file is opened so that no one else can redirect it.

mod policy;
pub mod state_file;

use std::path::Path;

pub use policy::{
    check_ancestors, check_directory, check_links, check_tree, effective_uid, PolicyError,
    Violation,
};

/// Create `dir` and its parents; a directory created here gets mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
