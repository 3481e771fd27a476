//! Starting a discovered provider in a process of its own: the child's command, its `Init`
//! message, and the constructor's failure named as the guard names it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Init, PROTOCOL_VERSION};
use super::remote::{ChildSpec, RemoteError, RemoteProvider};
use crate::plugins::Discovered;
use crate::provider::{ProviderCallError, KILLED};

/// Start `program provider-host` and construct `discovered` in it from `config_json`; the
/// handshake and the constructor get `deadline`. A failure is logged at ERROR.
pub fn spawn_provider(
    discovered: &Discovered,
    config_json: &str,
    deadline: Duration,
    program: PathBuf,
) -> Result<RemoteProvider, ProviderCallError> {
    let name = discovered.name().to_owned();
    let library = &discovered.file;
    let spec = ChildSpec {
        program,
        init: Init {
            protocol: PROTOCOL_VERSION,
            plugins_dir: library
                .path
                .parent()
                .unwrap_or(Path::new("."))
                .to_string_lossy()
                .into_owned(),
            library: library.path.to_string_lossy().into_owned(),
            sha256: library.sha256.clone(),
            provider: name.clone(),
            config_json: config_json.to_owned(),
        },
        deadline,
    };
    let remote = RemoteProvider::spawn(spec).map_err(|error| {
        let call = "constructor";
        let error = match error {
            RemoteError::Failed(message) => ProviderCallError::Failed {
                provider: name.clone(),
                call,
                message,
            },
            RemoteError::Died(reason) => ProviderCallError::Died {
                provider: name.clone(),
                call,
                reason,
            },
            RemoteError::Hung | RemoteError::Missed => ProviderCallError::Hung {
                provider: name.clone(),
                call,
                deadline,
                consequence: KILLED,
            },
        };
        log::error!("{error}");
        error
    })?;
    log::info!(
        "provider `{name}` runs isolated in process {}",
        remote.pid().unwrap_or_default()
    );
    Ok(remote)
}
