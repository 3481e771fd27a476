//! `cronhost.toml`: the operator's configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::home::Home;

/// The config file exists but cannot be used. Nothing is written back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Reading the file failed.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed, a key has the wrong type or an unknown name, or a value is out
    /// of its range.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: InvalidConfig,
    },
}

/// What is wrong with config text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidConfig {
    /// Not TOML, or a key of the wrong type or an unknown name: toml's message, several lines
    /// (the line and column, the line itself with a caret under the spot, what is wrong).
    #[error("{}", .0.to_string().trim_end())]
    Toml(#[source] toml::de::Error),
    /// A `[cron]` number outside its range.
    #[error("cron.{key} = {value} is out of range: allowed {low} to {high}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value given.
        value: u64,
        /// The smallest allowed.
        low: u64,
        /// The largest allowed.
        high: u64,
    },
    /// `[providers.NAME] isolation` is neither `in-process` nor `process`.
    #[error("providers.{provider}.isolation is {value}; write \"in-process\" (the default) or \"process\"")]
    Isolation {
        /// The provider's section.
        provider: String,
        /// The value given.
        value: String,
    },
    /// `cron.timezone` is not an IANA zone.
    #[error("cron.timezone: {0}")]
    Zone(#[source] cronhost_core::schedule::ScheduleError),
}

/// The whole configuration. A missing file, section or key means its default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The `[cron]` section.
    pub cron: CronConfig,
    /// `[providers.NAME]` sections, each handed to its provider as JSON.
    pub providers: toml::Table,
    /// The `[metrics]` section.
    pub metrics: MetricsConfig,
}

/// The `[metrics]` section: Prometheus metrics, off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Where `cronhost run` serves `GET /metrics` (e.g. `127.0.0.1:9464`); unset means off.
    pub listen: Option<String>,
}

/// The `[cron]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CronConfig {
    /// Which provider drives the fires: `""`, `"builtin"` or `"in-process"` mean the built-in
    /// ticker; any other name is looked up among the installed provider libraries.
    pub provider: String,
    /// Where provider libraries are found; relative paths are under the home. Default `plugins.d`.
    pub plugins_dir: PathBuf,
    /// The built-in ticker's longest wait between due scans, in milliseconds. Default 1000.
    pub tick_interval_ms: u64,
    /// How often the provider's `reconcile` runs, in seconds. Default 300.
    pub reconcile_interval_secs: u64,
    /// How long shutdown waits for the trigger thread, in milliseconds. Default 5000.
    pub shutdown_timeout_ms: u64,
    /// The zone of jobs added without `--tz` (IANA name). Default `UTC`.
    pub timezone: String,
    /// Most runs going at once across all jobs; 0 means no cap. Default 0.
    pub max_parallel_jobs: u32,
    /// Days a completed one-shot is kept before it is pruned. Default 7.
    pub completed_retention_days: u64,
    /// Runs kept per job, the newest, with their output files (0: no count limit), unless
    /// the job has its own (`jobs add --run-retention`). Default 1000. Read from
    /// `output_retention` too, its name when it bounded only the output files.
    #[serde(alias = "output_retention", deserialize_with = "limit")]
    pub run_retention: u64,
    /// Days of runs kept per job, by scheduled instant (0: no age limit), unless the job has
    /// its own (`jobs add --run-retention-days`). Default 90.
    #[serde(deserialize_with = "limit")]
    pub run_retention_days: u64,
    /// Where the commands' output goes: `files` (default), `forward` or `both`.
    pub job_output: JobOutput,
    /// The most bytes of one run's output kept (stdout and stderr together); the rest is
    /// discarded and a marker line says so. Default 10 MiB.
    pub output_max_bytes: u64,
    /// What fires jobs when the selected provider is missing, unavailable or failing:
    /// `builtin` (default) or `none`. A host in a cluster sets `none`: firing on its own would
    /// run occurrences other hosts also run.
    pub fallback: Fallback,
    /// SHA-256 digests (hex) of the only plugin files that may load; empty means any file that
    /// passes the ownership and mode checks.
    pub plugin_allowlist: Vec<String>,
    /// How long a provider call that must return promptly (constructor, `is_available`,
    /// `on_jobs_changed`, `reconcile`, `stop`) may take before the provider is quarantined.
    /// Default 5000.
    pub provider_call_timeout_ms: u64,
}

/// Where the commands' output goes (`cron.job_output`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum JobOutput {
    /// A file per run under `cron/output/<job-id>/`, read with `cronhost logs`.
    #[default]
    Files,
    /// Each line to the daemon's stdout (the command's stdout) or stderr (its stderr) as
    /// `[NAME] line`, as containers and journald want; no files.
    Forward,
    /// Both.
    Both,
}

/// A limit that 0 switches off: a whole number, or the error says that is what it takes (the
/// range is checked with the others, in `check_bounds`).
fn limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Limit;
    impl serde::de::Visitor<'_> for Limit {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number (0: no limit)")
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
        }
    }
    deserializer.deserialize_u64(Limit)
}

/// The fallback when the selected provider cannot drive the fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Fallback {
    /// The built-in ticker takes over (cron is never left without a trigger).
    #[default]
    Builtin,
    /// Nothing fires until the provider works again; the status says so.
    None,
}

impl Default for CronConfig {
    /// The engine's own defaults for what it takes from here ([`CronConfig::engine_settings`]).
    fn default() -> Self {
        let engine = cronhost_core::engine::CronEngineSettings::default();
        Self {
            provider: String::new(),
            plugins_dir: PathBuf::from("plugins.d"),
            tick_interval_ms: 1000,
            reconcile_interval_secs: 300,
            shutdown_timeout_ms: 5000,
            timezone: "UTC".into(),
            max_parallel_jobs: engine.max_parallel_jobs,
            completed_retention_days: engine.completed_retention.as_secs() / 86_400,
            run_retention: u64::from(engine.run_retention),
            run_retention_days: u64::from(engine.run_retention_days),
            job_output: JobOutput::Files,
            output_max_bytes: engine.output.max_bytes,
            fallback: Fallback::Builtin,
            plugin_allowlist: Vec::new(),
            provider_call_timeout_ms: 5000,
        }
    }
}

impl CronConfig {
    /// What the engine takes from `[cron]`.
    pub fn engine_settings(&self) -> cronhost_core::engine::CronEngineSettings {
        let mut settings = cronhost_core::engine::CronEngineSettings::default();
        settings.max_parallel_jobs = self.max_parallel_jobs;
        settings.completed_retention =
            std::time::Duration::from_secs(self.completed_retention_days * 86_400);
        settings.output.keep_files = self.job_output != JobOutput::Forward;
        settings.output.forward = match self.job_output {
            JobOutput::Files => cronhost_core::run::Forward::Off,
            JobOutput::Forward | JobOutput::Both => cronhost_core::run::Forward::Prefixed,
        };
        settings.output.max_bytes = self.output_max_bytes;
        // Within u32 once the config was checked (`check_bounds`).
        settings.run_retention = u32::try_from(self.run_retention).unwrap_or(u32::MAX);
        settings.run_retention_days = u32::try_from(self.run_retention_days).unwrap_or(u32::MAX);
        settings
    }

    /// Every number within the range the host can compute with (a duration that overflows an
    /// instant, a retention that overflows seconds): the first one outside is named with its
    /// allowed range.
    fn check_bounds(&self) -> Result<(), InvalidConfig> {
        use cronhost_core::store::{MAX_RUN_RETENTION, MAX_RUN_RETENTION_DAYS};
        let bounds: [(&str, u64, u64, u64); 9] = [
            ("tick_interval_ms", self.tick_interval_ms, 1, 3_600_000),
            (
                "reconcile_interval_secs",
                self.reconcile_interval_secs,
                1,
                604_800,
            ),
            (
                "shutdown_timeout_ms",
                self.shutdown_timeout_ms,
                0,
                3_600_000,
            ),
            (
                "provider_call_timeout_ms",
                self.provider_call_timeout_ms,
                1,
                600_000,
            ),
            (
                "completed_retention_days",
                self.completed_retention_days,
                0,
                36_500,
            ),
            (
                "run_retention",
                self.run_retention,
                0,
                u64::from(MAX_RUN_RETENTION),
            ),
            (
                "run_retention_days",
                self.run_retention_days,
                0,
                u64::from(MAX_RUN_RETENTION_DAYS),
            ),
            ("output_max_bytes", self.output_max_bytes, 1024, 1 << 40),
            (
                "max_parallel_jobs",
                u64::from(self.max_parallel_jobs),
                0,
                100_000,
            ),
        ];
        for (key, value, low, high) in bounds {
            if !(low..=high).contains(&value) {
                return Err(InvalidConfig::OutOfRange {
                    key,
                    value,
                    low,
                    high,
                });
            }
        }
        Ok(())
    }
}

/// The longest config file read.
const CONFIG_LIMIT: u64 = 1024 * 1024;

/// The text of the config file; `None` when there is none. Opened without blocking and read
/// bounded: a fifo, a device (`/dev/zero`) or a huge file is an error, never a hang. A
/// symlinked config (managed by a configuration tool, say) is followed.
fn read_config_text(path: &Path) -> std::io::Result<Option<String>> {
    crate::text_file::read_bounded(path, CONFIG_LIMIT)
}

/// Where a provider runs: `[providers.NAME] isolation = "in-process" | "process"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// Loaded into the host process (the default): fastest; a panic is contained, a crash is
    /// not.
    #[default]
    InProcess,
    /// In a child process of its own: a segfault, abort or endless loop costs only the child,
    /// which is restarted with backoff while the built-in ticker stands in.
    Process,
}

/// The key in a provider's section that the host reads (and does not pass to the provider).
pub const ISOLATION_KEY: &str = "isolation";

/// After how long without a heartbeat a trigger beating every `interval` counts as stalled:
/// 3 × the interval + 20 s. What `status` judges and what the supervisor acts on.
pub(crate) fn stale_after(interval: Duration) -> Duration {
    interval * 3 + Duration::from_secs(20)
}

/// Names of `cron.provider` that select the built-in ticker.
pub const BUILTIN_ALIASES: [&str; 3] = ["", "builtin", "in-process"];

impl Config {
    /// Read `HOME/cronhost.toml`; a missing file is the default config.
    pub fn load(home: &Home) -> Result<Self, ConfigError> {
        Self::load_file(&home.config_file())
    }

    /// Read one config file; a missing file is the default config.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        let text = match read_config_text(path) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let invalid = |source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        };
        let config = Self::parse(&text).map_err(invalid)?;
        cronhost_core::schedule::parse_zone(&config.cron.timezone)
            .map_err(|e| invalid(InvalidConfig::Zone(e)))?;
        Ok(config)
    }

    /// Parse config text.
    pub fn parse(text: &str) -> Result<Self, InvalidConfig> {
        let config: Self = toml::from_str(text).map_err(InvalidConfig::Toml)?;
        for name in config.providers.keys() {
            config.parse_isolation(name)?;
        }
        config.cron.check_bounds()?;
        Ok(config)
    }

    fn parse_isolation(&self, name: &str) -> Result<Isolation, InvalidConfig> {
        let value = self
            .providers
            .get(name)
            .and_then(|section| section.get(ISOLATION_KEY));
        match value {
            None => Ok(Isolation::InProcess),
            Some(toml::Value::String(s)) if s == "in-process" => Ok(Isolation::InProcess),
            Some(toml::Value::String(s)) if s == "process" => Ok(Isolation::Process),
            Some(other) => Err(InvalidConfig::Isolation {
                provider: name.to_owned(),
                value: other.to_string(),
            }),
        }
    }

    /// Where provider `name` runs (`[providers.NAME] isolation`, checked when the config was
    /// parsed).
    pub fn isolation(&self, name: &str) -> Isolation {
        self.parse_isolation(name).unwrap_or_default()
    }

    /// Whether this host may fire only through its selected provider (`cron.fallback = "none"`
    /// with a provider selected): then `tick` and `fire` are refused too.
    pub fn provider_exclusive(&self) -> Option<&str> {
        self.selected_provider()
            .filter(|_| self.cron.fallback == Fallback::None)
    }

    /// The provider `cron.provider` names, or `None` for the built-in ticker.
    pub fn selected_provider(&self) -> Option<&str> {
        let name = self.cron.provider.trim();
        (!BUILTIN_ALIASES.contains(&name)).then_some(name)
    }

    /// The plugins directory, resolved against the home.
    pub fn plugins_dir(&self, home: &Home) -> PathBuf {
        home.root().join(&self.cron.plugins_dir)
    }

    /// The zone of `cron.timezone` (validated when the file is loaded; UTC otherwise).
    pub fn zone(&self) -> chrono_tz::Tz {
        cronhost_core::schedule::parse_zone(&self.cron.timezone).unwrap_or(chrono_tz::UTC)
    }

    /// The deadline of provider calls that must return promptly.
    pub fn provider_call_timeout(&self) -> Duration {
        Duration::from_millis(self.cron.provider_call_timeout_ms.max(1))
    }

    /// How plugin files are vetted.
    pub fn vet_policy(&self) -> crate::plugins::VetPolicy {
        crate::plugins::VetPolicy {
            allowlist: self
                .cron
                .plugin_allowlist
                .iter()
                .map(|d| d.trim().to_lowercase())
                .collect(),
        }
    }

    /// How the plugins directory of `home` is scanned: this config's vetting policy, probes
    /// run by this executable (or `CRONHOST_PROVIDER_HOST`) with the provider call deadline
    /// per file, results cached in the home.
    pub fn discover_options(&self, home: &Home) -> crate::plugins::DiscoverOptions {
        let program =
            crate::subprocess::helper_program().unwrap_or_else(|_| PathBuf::from("cronhost"));
        crate::plugins::DiscoverOptions {
            policy: self.vet_policy(),
            prober: crate::plugins::Prober::new(program, self.provider_call_timeout()),
            cache_file: Some(home.probe_cache_file()),
        }
    }

    /// The built-in ticker's tick interval (at least 1 ms).
    pub fn tick_interval(&self) -> Duration {
        Duration::from_millis(self.cron.tick_interval_ms.max(1))
    }

    /// After how long without a heartbeat the ticker counts as stalled: 3 × the tick interval
    /// + 20 s.
    pub fn stale_after(&self) -> Duration {
        stale_after(self.tick_interval())
    }

    /// `[providers.NAME]` as a JSON object (empty when absent).
    pub fn provider_section_json(&self, name: &str) -> String {
        match self.providers.get(name) {
            Some(toml::Value::Table(section)) => {
                let mut section = section.clone();
                section.remove(ISOLATION_KEY);
                serde_json::to_string(&section).unwrap_or_else(|_| "{}".into())
            }
            Some(section) => serde_json::to_string(section).unwrap_or_else(|_| "{}".into()),
            None => "{}".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_sample_config_parses_to_the_defaults() {
        let text = include_str!("../../contrib/cronhost.toml");
        let config = Config::parse(text).unwrap();
        assert_eq!(config.cron, CronConfig::default());
    }

    #[test]
    fn job_output_chooses_files_forwarding_or_both() {
        let settings = |text: &str| Config::parse(text).unwrap().cron.engine_settings().output;
        let files = settings("");
        assert!(files.keep_files);
        assert_eq!(files.forward, cronhost_core::run::Forward::Off);
        let forward = settings("[cron]\njob_output = \"forward\"\n");
        assert!(!forward.keep_files);
        assert_eq!(forward.forward, cronhost_core::run::Forward::Prefixed);
        let both = settings("[cron]\njob_output = \"both\"\noutput_max_bytes = 4096\n");
        assert!(both.keep_files);
        assert_eq!(both.forward, cronhost_core::run::Forward::Prefixed);
        assert_eq!(both.max_bytes, 4096);
        let error = Config::parse("[cron]\njob_output = \"stdout\"\n").unwrap_err();
        assert!(error.to_string().contains("files"), "{error}");
        let error = Config::parse("[cron]\noutput_max_bytes = 10\n").unwrap_err();
        assert!(error.to_string().contains("1024"), "{error}");
    }

    #[test]
    fn isolation_is_read_per_provider_kept_from_the_provider_and_checked() {
        let config = Config::parse(
            "[providers.a]\nisolation = \"process\"\nurl = \"x\"\n[providers.b]\nurl = \"y\"\n",
        )
        .unwrap();
        assert_eq!(config.isolation("a"), Isolation::Process);
        assert_eq!(config.isolation("b"), Isolation::InProcess);
        assert_eq!(config.isolation("missing"), Isolation::InProcess);
        assert_eq!(config.provider_section_json("a"), r#"{"url":"x"}"#);
        let error = Config::parse("[providers.a]\nisolation = \"proces\"\n").unwrap_err();
        assert!(
            matches!(&error, InvalidConfig::Isolation { provider, .. } if provider == "a"),
            "{error}"
        );
        let text = error.to_string();
        assert!(text.contains("providers.a.isolation"), "{text}");
        assert!(text.contains("\"process\""), "{text}");
        assert!(Config::parse("[providers.a]\nisolation = 1\n").is_err());
    }

    #[test]
    fn default_provider_is_empty_and_means_builtin() {
        let config = Config::default();
        assert_eq!(config.cron.provider, "");
        assert_eq!(config.selected_provider(), None);
    }

    #[test]
    fn builtin_aliases_and_missing_sections_select_builtin() {
        for text in [
            "",
            "[cron]",
            "[cron]\nprovider = \"\"",
            "[cron]\nprovider = \"builtin\"",
            "[cron]\nprovider = \"in-process\"",
        ] {
            let config = Config::parse(text).unwrap();
            assert_eq!(config.selected_provider(), None, "{text:?}");
        }
        let config = Config::parse("[cron]\nprovider = \"example\"").unwrap();
        assert_eq!(config.selected_provider(), Some("example"));
    }

    #[test]
    fn missing_file_is_default_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_file(&dir.path().join("absent.toml")).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn malformed_file_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronhost.toml");
        std::fs::write(&path, "[cron]\nprovidr = \"x\"\n").unwrap();
        let error = Config::load_file(&path).unwrap_err().to_string();
        assert!(error.contains("cronhost.toml"), "{error}");
        assert!(error.contains("providr"), "{error}");
        // toml's snippet stays as it is: the line, and a caret under the spot.
        assert!(error.contains("\n2 | providr = \"x\"\n"), "{error}");
        assert!(error.contains("  | ^^^^^^^"), "{error}");
        assert!(!error.ends_with('\n'), "{error:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[cron]\nprovidr = \"x\"\n"
        );
    }

    proptest::proptest! {
        /// Any text, TOML or not: a config or an error naming the problem, never a panic.
        #[test]
        fn parsing_never_panics(text in "(\\[cron\\]\n)?[a-z_ =\"0-9\n\\[\\].{}-]{0,80}") {
            let _ = Config::parse(&text);
        }
    }

    #[test]
    fn run_retention_reads_its_old_name_and_refuses_what_is_not_a_count() {
        let config = Config::default();
        assert_eq!(
            (config.cron.run_retention, config.cron.run_retention_days),
            (1000, 90)
        );
        let settings = Config::parse("[cron]\noutput_retention = 7\nrun_retention_days = 0\n")
            .unwrap()
            .cron
            .engine_settings();
        assert_eq!(
            (settings.run_retention, settings.run_retention_days),
            (7, 0)
        );
        for text in ["\"x\"", "-1", "1.5"] {
            let error = Config::parse(&format!("[cron]\nrun_retention_days = {text}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("expected a whole number (0: no limit)"),
                "{error}"
            );
        }
        let error = Config::parse("[cron]\nrun_retention = 1000001\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "cron.run_retention = 1000001 is out of range: allowed 0 to 1000000"
        );
    }

    #[test]
    fn provider_section_is_handed_over_as_json() {
        let config = Config::parse("[providers.example]\ninterval_ms = 250\n").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&config.provider_section_json("example")).unwrap();
        assert_eq!(json["interval_ms"], 250);
        assert_eq!(config.provider_section_json("other"), "{}");
    }
}
