//! Why a cron expression was refused: always the field, the value as written and what is
//! allowed.

use super::field::CronField;

/// A cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// Not 5, 6 or 7 fields.
    #[error("a cron expression has 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or 7 with seconds first and a year last; this has {found}")]
    FieldCount {
        /// How many fields were given.
        found: usize,
    },
    /// An `@word` that is not a nickname.
    #[error("`{given}` is not a cron nickname; known: @yearly @annually @monthly @weekly @daily @midnight @hourly")]
    Nickname {
        /// What was given.
        given: String,
    },
    /// `@reboot`, which cronhost does not have.
    #[error("`@reboot` is not supported: cronhost fires on the clock, not when it starts; run the command from a systemd unit or your boot script instead (or `cronhost jobs run NAME` there)")]
    Reboot,
    /// A number outside the field's range.
    #[error("{field} `{value}` is outside {min}–{max}")]
    OutOfRange {
        /// The field.
        field: CronField,
        /// The value as written.
        value: String,
        /// The smallest allowed value.
        min: u32,
        /// The largest allowed value.
        max: u32,
    },
    /// Text the field does not accept.
    #[error("{field} `{value}` is not understood; allowed: {allowed}")]
    NotUnderstood {
        /// The field.
        field: CronField,
        /// The part as written.
        value: String,
        /// What the field accepts.
        allowed: String,
    },
    /// A range whose start lies after its end.
    #[error("{field} range `{value}` runs backwards ({from} is after {to}); write it as two ranges, `{from}-{max},{min}-{to}`")]
    Backwards {
        /// The field.
        field: CronField,
        /// The part as written.
        value: String,
        /// Its start.
        from: u32,
        /// Its end.
        to: u32,
        /// The field's smallest value.
        min: u32,
        /// The field's largest value.
        max: u32,
    },
    /// A step of 0.
    #[error("{field} `{value}`: a step must be 1 or more")]
    ZeroStep {
        /// The field.
        field: CronField,
        /// The part as written.
        value: String,
    },
    /// A step longer than the field, which would fire at its start only.
    #[error("{field} `{value}`: a step longer than the field's {span} values fires at its start only; write that value")]
    StepTooLarge {
        /// The field.
        field: CronField,
        /// The part as written.
        value: String,
        /// How many values the field has.
        span: u32,
    },
    /// Syntax some dialect has that cronhost refuses on purpose, with the reason.
    #[error("{field} `{value}` is refused: {reason}")]
    Refused {
        /// The field.
        field: CronField,
        /// The part as written.
        value: String,
        /// Why, and what to write instead.
        reason: &'static str,
    },
}
