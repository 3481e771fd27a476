//! Reading a cron expression into its parts, field by field, in every common dialect:
//! Vixie/POSIX, Quartz (`?`, `L`, `W`, `#`, a year), croniter/robfig (`N/step`, `a-L`) and
//! Jenkins (`H`). Refusals name the field, the part as written and what is allowed.

use super::error::CronError;
use super::field::CronField;

/// One comma-separated part of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Item {
    /// `*` or `?`, every `step`th value of the field.
    All { step: u32 },
    /// `a`, `a-b`, `a-b/n`, `a/n` (to the field's end) or `a-L` (to the month's end).
    Range { from: u32, to: u32, step: u32 },
    /// Jenkins' `H`, `H(a-b)`, `H/n`, `H(a-b)/n`: a value picked by the job's hash.
    Hash {
        from: u32,
        to: u32,
        step: Option<u32>,
    },
    /// Day of month `L` (`minus` 0) or `L-n`.
    LastDay { minus: u32 },
    /// Day of month `LW`: the month's last Monday–Friday.
    LastWeekday,
    /// Day of month `nW`: the Monday–Friday nearest day n, within the month.
    NearestWeekday(u32),
    /// Day of week `n#k` (the k-th of the month), `nL` or `n#L` (the last).
    Nth { weekday: u32, nth: Nth },
}

/// Which occurrence of a weekday in its month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nth {
    /// The first to fifth.
    Number(u32),
    /// The last.
    Last,
}

/// A field and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    pub(super) field: CronField,
    pub(super) items: Vec<Item>,
    /// `*` or `?` (step 1) among the parts: the field does not restrict.
    pub(super) unrestricted: bool,
    /// The field as written.
    pub(super) text: String,
}

impl Field {
    /// Whether the field uses Jenkins' `H`.
    pub(super) fn is_hashed(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item::Hash { .. }))
    }
}

/// A whole expression: 5, 6 (seconds first) or 7 (and a year last) fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Expression {
    /// The fields as written; seconds and year only when given.
    pub(super) fields: Vec<Field>,
    /// A weekday number in Quartz's form (see [`quartz_weekday_numbers`]).
    pub(super) quartz_weekday_numbers: bool,
}

impl Expression {
    /// The field of that kind, if the expression has it.
    pub(super) fn get(&self, field: CronField) -> Option<&Field> {
        self.fields.iter().find(|f| f.field == field)
    }
}

/// `@nickname` → its 5-field expression.
pub(super) fn expand_nickname(text: &str) -> Result<Option<&'static str>, CronError> {
    if !text.starts_with('@') {
        return Ok(None);
    }
    Ok(Some(match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        "@reboot" => return Err(CronError::Reboot),
        _ => {
            return Err(CronError::Nickname {
                given: text.to_owned(),
            })
        }
    }))
}

/// Read the fields of an expression (nicknames already expanded).
pub(super) fn parse(fields: &[&str]) -> Result<Expression, CronError> {
    use CronField::*;
    let kinds: &[CronField] = match fields.len() {
        5 => &[Minute, Hour, DayOfMonth, Month, DayOfWeek],
        6 => &[Second, Minute, Hour, DayOfMonth, Month, DayOfWeek],
        7 => &[Second, Minute, Hour, DayOfMonth, Month, DayOfWeek, Year],
        found => return Err(CronError::FieldCount { found }),
    };
    let parsed = kinds
        .iter()
        .zip(fields)
        .map(|(kind, text)| parse_field(*kind, text))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Expression {
        quartz_weekday_numbers: quartz_weekday_numbers(fields, &parsed),
        fields: parsed,
    })
}

/// Whether a weekday is written as a number in an expression in Quartz's form (a `?` or a
/// year). Quartz (and AWS EventBridge) count 1 = Sunday … 7 = Saturday; cron, Spring,
/// croniter, cron-parser and the rest count 0 (or 7) = Sunday, 1 = Monday, which is how
/// cronhost reads it: worth a note to the operator, who may have pasted from Quartz.
pub(super) fn quartz_weekday_numbers(text: &[&str], fields: &[Field]) -> bool {
    let quartz_form = text.len() == 7
        || text.iter().zip(fields).any(|(text, f)| {
            matches!(f.field, CronField::DayOfMonth | CronField::DayOfWeek) && *text == "?"
        });
    let Some(position) = fields.iter().position(|f| f.field == CronField::DayOfWeek) else {
        return false;
    };
    quartz_form
        && text[position].split(',').any(|part| {
            let part = part.split_once('/').map_or(part, |(base, _)| base);
            let part = part.split_once('#').map_or(part, |(base, _)| base);
            let part = part.strip_suffix(['L', 'l']).unwrap_or(part);
            part.split('-')
                .any(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn parse_field(field: CronField, text: &str) -> Result<Field, CronError> {
    let mut items = Vec::new();
    let mut unrestricted = false;
    if text.split(',').any(str::is_empty) {
        return Err(CronError::NotUnderstood {
            field,
            value: text.to_owned(),
            allowed: format!("no empty list items; {}", field.allowed()),
        });
    }
    for part in text.split(',') {
        let item = parse_item(field, part)?;
        unrestricted |= matches!(item, Item::All { step: 1 });
        items.push(item);
    }
    Ok(Field {
        field,
        text: text.to_owned(),
        items,
        unrestricted,
    })
}

/// One part of a field.
fn parse_item(field: CronField, part: &str) -> Result<Item, CronError> {
    let not_understood = || CronError::NotUnderstood {
        field,
        value: part.to_owned(),
        allowed: field.allowed(),
    };
    let refused = |reason| CronError::Refused {
        field,
        value: part.to_owned(),
        reason,
    };
    let (min, max) = field.bounds();
    let (base, step) = match part.split_once('/') {
        Some((base, step)) => {
            if step.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_understood());
            }
            let step: u32 = step.parse().map_err(|_| not_understood())?;
            if step == 0 {
                return Err(CronError::ZeroStep {
                    field,
                    value: part.to_owned(),
                });
            }
            let span = if field == CronField::DayOfWeek {
                7
            } else {
                max - min + 1
            };
            if step > span {
                return Err(CronError::StepTooLarge {
                    field,
                    value: part.to_owned(),
                    span,
                });
            }
            (base, Some(step))
        }
        None => (part, None),
    };
    let upper = base.to_ascii_uppercase();
    let day_field = matches!(field, CronField::DayOfMonth | CronField::DayOfWeek);
    match upper.as_str() {
        "" => return Err(not_understood()),
        "*" => {
            return Ok(Item::All {
                step: step.unwrap_or(1),
            })
        }
        "?" if day_field && step.is_none() => return Ok(Item::All { step: 1 }),
        "?" => {
            return Err(refused(
                "`?` (no specific value) belongs in the day-of-month or day-of-week field, alone",
            ))
        }
        _ => {}
    }
    if let Some(rest) = upper.strip_prefix('H') {
        if field == CronField::Year {
            return Err(refused(
                "`H` spreads jobs over minutes, hours and days, not years",
            ));
        }
        let (hash_min, hash_max) = field.hash_bounds();
        let (from, to) = if rest.is_empty() {
            (hash_min, hash_max)
        } else {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(not_understood)?;
            let (from, to) = inner.split_once('-').ok_or_else(not_understood)?;
            let from = value(field, part, from)?;
            let to = value(field, part, to)?;
            check_order(field, part, from, to)?;
            (from, to)
        };
        return Ok(Item::Hash { from, to, step });
    }
    if field == CronField::DayOfMonth {
        if let Some(item) = last_day(&upper, part)? {
            return match step {
                None => Ok(item),
                Some(_) => Err(not_understood()),
            };
        }
    }
    if field == CronField::DayOfWeek {
        if let Some(item) = nth_weekday(&upper, part)? {
            return match step {
                None => Ok(item),
                Some(_) => Err(not_understood()),
            };
        }
    }
    let (from, to) = match base.split_once('-') {
        Some((from, to)) => {
            let from = value(field, part, from)?;
            // `7-1`, `SUN-MON`: Sunday opens a week as 0.
            let from = if field == CronField::DayOfWeek && from == 7 {
                0
            } else {
                from
            };
            let to = if field == CronField::DayOfMonth && to.eq_ignore_ascii_case("L") {
                max
            } else {
                value(field, part, to)?
            };
            // `SAT-SUN`, `5-0`: Sunday closes a week as 7.
            let to = if field == CronField::DayOfWeek && to == 0 && from > 0 {
                7
            } else {
                to
            };
            check_order(field, part, from, to)?;
            (from, to)
        }
        // `a/n` runs to the field's end (a week ends on Saturday).
        None if step.is_some() => {
            let start = value(field, part, base)?;
            match field {
                // Sunday (7) starts the week again.
                CronField::DayOfWeek => (start % 7, 6),
                _ => (start, max),
            }
        }
        None => {
            let at = value(field, part, base)?;
            (at, at)
        }
    };
    debug_assert!(min <= from && to <= max);
    Ok(Item::Range {
        from,
        to,
        step: step.unwrap_or(1),
    })
}

/// A value of `field`, in range, or the error for `part`.
fn value(field: CronField, part: &str, word: &str) -> Result<u32, CronError> {
    let (min, max) = field.bounds();
    match field.value(word) {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(CronError::OutOfRange {
            field,
            value: word.to_owned(),
            min,
            max,
        }),
        // A long number is out of range, not garbage.
        None if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) => {
            Err(CronError::OutOfRange {
                field,
                value: word.to_owned(),
                min,
                max,
            })
        }
        None => Err(CronError::NotUnderstood {
            field,
            value: part.to_owned(),
            allowed: field.allowed(),
        }),
    }
}

fn check_order(field: CronField, part: &str, from: u32, to: u32) -> Result<(), CronError> {
    if from <= to {
        return Ok(());
    }
    let (min, max) = field.bounds();
    Err(CronError::Backwards {
        field,
        value: part.to_owned(),
        from,
        to,
        min,
        max: if field == CronField::DayOfWeek {
            6
        } else {
            max
        },
    })
}

/// Day of month `L`, `L-n`, `LW`, `nW`.
fn last_day(upper: &str, part: &str) -> Result<Option<Item>, CronError> {
    let field = CronField::DayOfMonth;
    if upper == "L" {
        return Ok(Some(Item::LastDay { minus: 0 }));
    }
    if upper == "LW" || upper == "WL" {
        return Ok(Some(Item::LastWeekday));
    }
    if let Some(minus) = upper.strip_prefix("L-") {
        let minus = number_in(field, part, minus, 0, 30)?;
        return Ok(Some(Item::LastDay { minus }));
    }
    if let Some(day) = upper.strip_suffix('W') {
        if day.is_empty() || !day.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CronError::NotUnderstood {
                field,
                value: part.to_owned(),
                allowed: field.allowed(),
            });
        }
        return Ok(Some(Item::NearestWeekday(value(field, part, day)?)));
    }
    Ok(None)
}

/// Day of week `n#k`, `n#L`, `nL` (n a number or a name).
fn nth_weekday(upper: &str, part: &str) -> Result<Option<Item>, CronError> {
    let field = CronField::DayOfWeek;
    let (weekday, nth) = if let Some((weekday, nth)) = upper.split_once('#') {
        let nth = if nth == "L" {
            Nth::Last
        } else {
            Nth::Number(number_in(field, part, nth, 1, 5)?)
        };
        (weekday, nth)
    } else if upper == "L" {
        return Err(CronError::Refused {
            field,
            value: part.to_owned(),
            reason: "a lone `L` means Saturday in Quartz and nothing elsewhere; write `SAT`, or `FRIL` / `5L` for the last Friday of the month",
        });
    } else if let Some(weekday) = upper.strip_suffix('L').filter(|w| field.value(w).is_some()) {
        (weekday, Nth::Last)
    } else {
        return Ok(None);
    };
    if weekday.contains(['-', '*']) {
        return Err(CronError::Refused {
            field,
            value: part.to_owned(),
            reason: "`#` and `L` take one weekday; for several, list them (`MON#1,TUE#1`)",
        });
    }
    let weekday = value(field, part, weekday)? % 7;
    Ok(Some(Item::Nth { weekday, nth }))
}

fn number_in(
    field: CronField,
    part: &str,
    word: &str,
    min: u32,
    max: u32,
) -> Result<u32, CronError> {
    match word.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) => {
            Err(CronError::OutOfRange {
                field,
                value: part.to_owned(),
                min,
                max,
            })
        }
        _ => Err(CronError::NotUnderstood {
            field,
            value: part.to_owned(),
            allowed: field.allowed(),
        }),
    }
}
