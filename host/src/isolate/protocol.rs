//! The wire protocol between the host and an isolated provider's child process: versioned,
//! length-prefixed JSON frames, with a hard cap on the size of every frame.
//!
//! A frame is a 4-byte little-endian length followed by that many bytes of JSON encoding one
//! [`ToChild`] or [`FromChild`] message. The host opens with [`ToChild::Init`] carrying
//! [`PROTOCOL_VERSION`]; the child answers [`FromChild::Loaded`] once the library is loaded,
//! then [`FromChild::Hello`] with its own version, or [`FromChild::Refused`]. Either side treats a frame over [`MAX_FRAME_BYTES`], bad JSON or an
//! unknown message as the end of the conversation: the decoder never allocates more than the
//! cap, whatever the length prefix claims.

use std::io::{self, Read, Write};

use cronhost_provider_api::{FireOutcome, LogLevel, TickReport};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The protocol version both sides must speak. Bump on any incompatible message change.
/// 2: the `NextDueIn` service (API 1.2's `next_due_in_ms`).
/// 3: the `FireOccurrences` service (API 1.3's `fire_occurrences`).
pub const PROTOCOL_VERSION: u32 = 3;

/// The most occurrences one `FireOccurrences` message carries; a longer batch goes in several,
/// so that a message (a job id of up to 4 KiB each) and its answer (an error of up to
/// [`MAX_OUTCOME_ERROR_BYTES`] each) stay below [`MAX_FRAME_BYTES`] even when JSON escapes
/// every byte (6 bytes for one).
pub const MAX_OCCURRENCES_PER_MESSAGE: usize = 64;

/// The longest error text of one occurrence in an `Outcomes` answer.
pub const MAX_OUTCOME_ERROR_BYTES: usize = 1024;

/// The largest frame either side accepts (1 MiB). Strings inside are cut well below it.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// The first message: everything the child needs to load and construct the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Init {
    /// [`PROTOCOL_VERSION`] of the host.
    pub protocol: u32,
    /// The plugins directory the library was found in (vetted again by the child).
    pub plugins_dir: String,
    /// The library file.
    pub library: String,
    /// The SHA-256 the host vetted: the child loads the file only if it still has this digest.
    pub sha256: String,
    /// The provider to construct.
    pub provider: String,
    /// Its config section, as JSON.
    pub config_json: String,
}

/// A call into the provider (one per provider method).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// `is_available`.
    IsAvailable,
    /// `start`.
    Start {
        /// The host's tick interval.
        tick_interval_ms: u64,
    },
    /// `stop`.
    Stop,
    /// `on_jobs_changed`.
    OnJobsChanged,
    /// `fire_due`.
    FireDue {
        /// The job.
        job_id: String,
    },
    /// `reconcile`.
    Reconcile,
    /// `status_json`.
    Status,
}

/// What a provider call returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// A call without a value returned.
    Done,
    /// `is_available`.
    Available(bool),
    /// `fire_due`.
    Fired(FireOutcome),
    /// `status_json`.
    Status(String),
}

/// A host service the provider asked for (those that need an answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Service {
    /// `tick`.
    Tick,
    /// `fire_due`.
    FireDue {
        /// The job.
        job_id: String,
    },
    /// `due_job_ids`.
    DueJobIds,
    /// `due_occurrences`.
    DueOccurrences,
    /// `fire_occurrence`.
    FireOccurrence {
        /// The job.
        job_id: String,
        /// The nominal instant (ms since the epoch).
        at_ms: i64,
    },
    /// `skip_occurrence`.
    SkipOccurrence {
        /// The job.
        job_id: String,
        /// The nominal instant (ms since the epoch).
        at_ms: i64,
        /// Why.
        reason: String,
    },
    /// `run_report`.
    RunReport {
        /// The job.
        job_id: String,
        /// The nominal instant (ms since the epoch).
        at_ms: i64,
    },
    /// `next_due_in_ms`.
    NextDueIn,
    /// `fire_occurrences`: job ids and instants (ms since the epoch), at most
    /// [`MAX_OCCURRENCES_PER_MESSAGE`].
    FireOccurrences(Vec<(String, i64)>),
}

/// A run as `run_report` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Run status.
    pub status: String,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Start (ms since the epoch).
    pub started_at_ms: Option<i64>,
    /// End (ms since the epoch).
    pub finished_at_ms: Option<i64>,
    /// What went wrong, or empty.
    pub error: String,
}

impl From<Run> for cronhost_provider_api::ffi::RunReport {
    fn from(run: Run) -> Self {
        Self {
            status: run.status.into(),
            exit_code: run.exit_code.into(),
            started_at_ms: run.started_at_ms.into(),
            finished_at_ms: run.finished_at_ms.into(),
            error: run.error.into(),
        }
    }
}

impl From<cronhost_provider_api::ffi::RunReport> for Run {
    fn from(run: cronhost_provider_api::ffi::RunReport) -> Self {
        Self {
            status: run.status.into_string(),
            exit_code: run.exit_code.into_option(),
            started_at_ms: run.started_at_ms.into_option(),
            finished_at_ms: run.finished_at_ms.into_option(),
            error: run.error.into_string(),
        }
    }
}

/// What a host service returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceAnswer {
    /// `tick`.
    Ticked(TickReport),
    /// `fire_due`, `fire_occurrence`, `skip_occurrence`.
    Outcome(FireOutcome),
    /// `due_job_ids`.
    Ids(Vec<String>),
    /// `due_occurrences`: job id and instant.
    Occurrences(Vec<(String, i64)>),
    /// `run_report`.
    Run(Option<Run>),
    /// `next_due_in_ms`: milliseconds from when the host answered, or none known.
    NextDueIn(Option<u64>),
    /// `fire_occurrences`: an outcome or an error per occurrence, in their order.
    Outcomes(Vec<Result<FireOutcome, String>>),
}

/// Host → child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToChild {
    /// Load and construct the provider; sent once, first.
    Init(Init),
    /// Call a provider method; answered by [`FromChild::Done`] with the same id.
    Call {
        /// Matches the answer to the call.
        id: u64,
        /// The method.
        call: Call,
    },
    /// The answer to [`FromChild::Service`] with the same id.
    Served {
        /// The request's id.
        id: u64,
        /// The answer or the error text.
        result: Result<ServiceAnswer, String>,
    },
    /// Set the stop signal handed to `start`.
    Stop,
    /// Are you there? Answered by [`FromChild::Pong`].
    Ping(u64),
}

/// Child → host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromChild {
    /// The library is vetted and loaded; the constructor runs next (under the call deadline).
    Loaded,
    /// The provider is constructed.
    Hello {
        /// The child's [`PROTOCOL_VERSION`].
        protocol: u32,
        /// Whether `start` blocks like a ticker.
        start_blocks: bool,
    },
    /// The provider could not be loaded or constructed; the child exits after sending this.
    Refused(String),
    /// A provider call returned.
    Done {
        /// The call's id.
        id: u64,
        /// The answer or the provider's error text.
        result: Result<Answer, String>,
    },
    /// The provider asks for a host service; answered by [`ToChild::Served`].
    Service {
        /// Matches the answer to the request.
        id: u64,
        /// The service.
        service: Service,
    },
    /// `log` (no answer).
    Log(LogLevel, String),
    /// `record_heartbeat` (no answer).
    Heartbeat {
        /// Whether the last tick went through cleanly.
        success: bool,
        /// The last failure, or empty.
        error: String,
    },
    /// The answer to [`ToChild::Ping`].
    Pong(u64),
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The other side closed the pipe between frames.
    #[error("the other side closed the connection")]
    Closed,
    /// Reading failed, or the pipe closed inside a frame.
    #[error("reading a frame failed: {0}")]
    Io(#[from] io::Error),
    /// The length prefix is over the cap.
    #[error("a frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// The bytes are not a message of this protocol.
    #[error("a frame is not a valid message: {0}")]
    Malformed(String),
}

/// Encode `message` as one frame. Fails only if it is over [`MAX_FRAME_BYTES`].
pub fn encode<M: Serialize>(message: &M) -> Result<Vec<u8>, FrameError> {
    let json = serde_json::to_vec(message).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if json.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(json.len()));
    }
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&(json.len() as u32).to_le_bytes());
    frame.extend_from_slice(&json);
    Ok(frame)
}

/// Write `message` as one frame and flush.
pub fn write_frame<M: Serialize>(out: &mut impl Write, message: &M) -> Result<(), FrameError> {
    out.write_all(&encode(message)?)?;
    out.flush()?;
    Ok(())
}

/// Read one frame and decode it. Never allocates more than [`MAX_FRAME_BYTES`] for the body.
pub fn read_frame<M: DeserializeOwned>(input: &mut impl Read) -> Result<M, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match input.read(&mut prefix[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let length = u32::from_le_bytes(prefix) as usize;
    if length > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(length));
    }
    let mut body = vec![0u8; length];
    input.read_exact(&mut body)?;
    decode(&body)
}

/// Decode one frame body.
pub fn decode<M: DeserializeOwned>(body: &[u8]) -> Result<M, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip<M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(message: M) {
        let frame = encode(&message).unwrap();
        let back: M = read_frame(&mut frame.as_slice()).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn every_kind_of_message_survives_a_roundtrip() {
        roundtrip(ToChild::Init(Init {
            protocol: PROTOCOL_VERSION,
            plugins_dir: "/p".into(),
            library: "/p/lib.so".into(),
            sha256: "ab".into(),
            provider: "x".into(),
            config_json: "{\"a\":1}".into(),
        }));
        roundtrip(ToChild::Call {
            id: 7,
            call: Call::FireDue { job_id: "j".into() },
        });
        roundtrip(ToChild::Served {
            id: 1,
            result: Ok(ServiceAnswer::Occurrences(vec![("j".into(), -5)])),
        });
        roundtrip(ToChild::Served {
            id: 2,
            result: Err("no".into()),
        });
        roundtrip(ToChild::Served {
            id: 4,
            result: Ok(ServiceAnswer::Outcomes(vec![
                Ok(FireOutcome::Fired),
                Err("job `x`: no".into()),
            ])),
        });
        roundtrip(FromChild::Done {
            id: 3,
            result: Ok(Answer::Fired(FireOutcome::ClaimLost)),
        });
        roundtrip(FromChild::Log(LogLevel::Warn, "w".into()));
        roundtrip(FromChild::Service {
            id: 4,
            service: Service::SkipOccurrence {
                job_id: "j".into(),
                at_ms: 9,
                reason: "r".into(),
            },
        });
    }

    #[test]
    fn a_length_over_the_cap_is_refused_before_anything_is_allocated() {
        let mut frame = u32::MAX.to_le_bytes().to_vec();
        frame.extend_from_slice(b"{}");
        let error = read_frame::<ToChild>(&mut frame.as_slice()).unwrap_err();
        assert!(matches!(error, FrameError::TooLarge(n) if n == u32::MAX as usize));
    }

    #[test]
    fn a_message_over_the_cap_is_not_sent() {
        let huge = FromChild::Log(LogLevel::Info, "x".repeat(MAX_FRAME_BYTES));
        assert!(matches!(encode(&huge), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn end_of_input_between_frames_is_closed_and_inside_one_is_an_error() {
        assert!(matches!(
            read_frame::<ToChild>(&mut [].as_slice()),
            Err(FrameError::Closed)
        ));
        assert!(matches!(
            read_frame::<ToChild>(&mut [5, 0].as_slice()),
            Err(FrameError::Io(_))
        ));
        assert!(matches!(
            read_frame::<ToChild>(&mut [5, 0, 0, 0, b'{'].as_slice()),
            Err(FrameError::Io(_))
        ));
    }

    #[test]
    fn deeply_nested_json_is_refused_not_a_stack_overflow() {
        let body = "[".repeat(100_000);
        let mut frame = (body.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        assert!(matches!(
            read_frame::<FromChild>(&mut frame.as_slice()),
            Err(FrameError::Malformed(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes at all: the decoder answers with a message or an error, never a panic.
        #[test]
        fn the_decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read_frame::<ToChild>(&mut bytes.as_slice());
            let _ = read_frame::<FromChild>(&mut bytes.as_slice());
        }

        /// A well-formed prefix with arbitrary JSON-ish text behind it.
        #[test]
        fn the_decoder_never_panics_on_arbitrary_text(text in "[\\[\\]{}\":,a-zA-Z0-9 .-]{0,512}") {
            let mut frame = (text.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(text.as_bytes());
            let _ = read_frame::<ToChild>(&mut frame.as_slice());
            let _ = read_frame::<FromChild>(&mut frame.as_slice());
        }

        /// Messages built from arbitrary field values survive encoding.
        #[test]
        fn arbitrary_messages_roundtrip(id in any::<u64>(), text in ".{0,64}", at_ms in any::<i64>(), flag in any::<bool>()) {
            roundtrip(FromChild::Service { id, service: Service::FireOccurrence { job_id: text.clone(), at_ms } });
            roundtrip(FromChild::Service { id, service: Service::FireOccurrences(vec![(text.clone(), at_ms); 3]) });
            roundtrip(FromChild::Heartbeat { success: flag, error: text.clone() });
            roundtrip(ToChild::Call { id, call: Call::FireDue { job_id: text.clone() } });
            roundtrip(FromChild::Done { id, result: Err(text) });
        }
    }
}
