//! Which local times an expression matches, as bit sets resolved for one job (its `H`
//! values picked), and the next matching local time after another.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};

use super::field::CronField;
use super::syntax::{Expression, Field, Item, Nth};
use crate::schedule::stable_hash;

/// How many years past the start a search looks before it gives up: the Gregorian calendar
/// repeats every 400 years, so a schedule with nothing in 400 years has nothing ever.
const SEARCH_YEARS: i32 = 400;

/// A set of small numbers (0–63).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Bits(pub(super) u64);

impl Bits {
    fn insert(&mut self, value: u32) {
        self.0 |= 1 << value;
    }

    pub(super) fn contains(self, value: u32) -> bool {
        value < 64 && self.0 & (1 << value) != 0
    }

    /// The smallest member at or above `value`.
    fn first_from(self, value: u32) -> Option<u32> {
        if value >= 64 {
            return None;
        }
        let rest = self.0 & (u64::MAX << value);
        (rest != 0).then(|| rest.trailing_zeros())
    }

    /// The members, ascending.
    pub(super) fn values(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |v| self.contains(*v))
    }

    pub(super) fn len(self) -> u32 {
        self.0.count_ones()
    }
}

/// What the day fields match, beyond plain days and weekdays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Days {
    /// Days of the month (1–31).
    pub(super) days: Bits,
    /// `L-n`: days counted back from the month's last (0 = the last).
    pub(super) before_last: Bits,
    /// `LW`.
    pub(super) last_weekday: bool,
    /// `nW`: the days whose nearest weekday fires.
    pub(super) nearest_weekday: Bits,
    /// Weekdays (0–6, Sunday 0).
    pub(super) weekdays: Bits,
    /// `n#k` and `nL`: per weekday, bit k-1 for the k-th, bit 5 for the last.
    pub(super) nth: [u8; 7],
    /// The day-of-month field restricts nothing (`*`, `?`).
    pub(super) any_day: bool,
    /// The day-of-week field restricts nothing.
    pub(super) any_weekday: bool,
}

const LAST_BIT: u8 = 1 << 5;

impl Days {
    fn matches(&self, date: NaiveDate) -> bool {
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => self.weekday_matches(date),
            (false, true) => self.day_matches(date),
            // Both restricted: either may match (Vixie cron, robfig, croniter).
            (false, false) => self.day_matches(date) || self.weekday_matches(date),
        }
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let day = date.day();
        let last = last_day_of_month(date);
        self.days.contains(day)
            || self.before_last.contains(last - day)
            || (self.last_weekday && day == weekday_on_or_before(date.with_day(last), last))
            || self
                .nearest_weekday
                .values()
                .any(|n| nearest_weekday(date, n, last) == Some(day))
    }

    fn weekday_matches(&self, date: NaiveDate) -> bool {
        let weekday = date.weekday().num_days_from_sunday();
        if self.weekdays.contains(weekday) {
            return true;
        }
        let nth = self.nth[weekday as usize];
        if nth == 0 {
            return false;
        }
        let day = date.day();
        let kth = (day - 1) / 7;
        nth & (1 << kth) != 0 || (nth & LAST_BIT != 0 && day + 7 > last_day_of_month(date))
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (year, month) = (date.year(), date.month());
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    first_of_next
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// The last Monday–Friday on or before `day` (the month's last day).
fn weekday_on_or_before(date: Option<NaiveDate>, day: u32) -> u32 {
    match date.map(|d| d.weekday()) {
        Some(Weekday::Sat) => day - 1,
        Some(Weekday::Sun) => day - 2,
        _ => day,
    }
}

/// The Monday–Friday nearest day `n` of `date`'s month, without leaving the month; a day the
/// month does not have is its last day (`31W` in November is the weekday nearest the 30th,
/// as croniter reads it).
fn nearest_weekday(date: NaiveDate, n: u32, last: u32) -> Option<u32> {
    let n = n.min(last);
    let target = date.with_day(n)?;
    Some(match target.weekday() {
        Weekday::Sat if n == 1 => 3,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == last => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    })
}

/// An expression resolved for one job: every field a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Matcher {
    pub(super) seconds: Bits,
    pub(super) minutes: Bits,
    pub(super) hours: Bits,
    pub(super) months: Bits,
    pub(super) days: Days,
    /// The years allowed, ascending; `None` for every year.
    pub(super) years: Option<Vec<i32>>,
}

impl Matcher {
    /// Resolve `expression`, picking its `H` values from `seed` (the job's id).
    pub(super) fn new(expression: &Expression, seed: &str) -> Self {
        let set = |field: CronField, default: u32| match expression.get(field) {
            Some(f) => resolve(f, seed),
            None => {
                let mut bits = Bits::default();
                bits.insert(default);
                bits
            }
        };
        let mut days = Days::default();
        for field in [CronField::DayOfMonth, CronField::DayOfWeek] {
            let f = expression
                .get(field)
                .expect("5 to 7 fields all have the day fields");
            let plain = resolve(f, seed);
            if field == CronField::DayOfMonth {
                days.days = plain;
                days.any_day = f.unrestricted;
            } else {
                days.weekdays = Bits(plain.0 | (plain.0 >> 7 & 1));
                days.weekdays.0 &= 0x7f;
                days.any_weekday = f.unrestricted;
            }
            for item in &f.items {
                match *item {
                    Item::LastDay { minus } => days.before_last.insert(minus),
                    Item::LastWeekday => days.last_weekday = true,
                    Item::NearestWeekday(n) => days.nearest_weekday.insert(n),
                    Item::Nth { weekday, nth } => {
                        days.nth[weekday as usize] |= match nth {
                            Nth::Number(k) => 1 << (k - 1),
                            Nth::Last => LAST_BIT,
                        }
                    }
                    _ => {}
                }
            }
        }
        let years = expression.get(CronField::Year).map(|f| {
            let (min, max) = CronField::Year.bounds();
            (min..=max)
                .filter(|year| f.items.iter().any(|item| plain_contains(item, *year)))
                .map(|year| year as i32)
                .collect()
        });
        Self {
            seconds: set(CronField::Second, 0),
            minutes: set(CronField::Minute, 0),
            hours: set(CronField::Hour, 0),
            months: set(CronField::Month, 0),
            days,
            years,
        }
    }

    /// The first local time strictly after `after` that the expression matches.
    pub(super) fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = after
            .with_nanosecond(0)?
            .checked_add_signed(Duration::seconds(1))?;
        let last_year = match &self.years {
            Some(years) => *years.last()?,
            None => after.year().saturating_add(SEARCH_YEARS),
        };
        loop {
            if t.year() > last_year {
                return None;
            }
            if let Some(years) = &self.years {
                if !years.contains(&t.year()) {
                    let next = *years.iter().find(|y| **y > t.year())?;
                    t = start_of_day(NaiveDate::from_ymd_opt(next, 1, 1)?);
                    continue;
                }
            }
            if !self.months.contains(t.month()) {
                t = match self.months.first_from(t.month() + 1) {
                    Some(month) => start_of_day(NaiveDate::from_ymd_opt(t.year(), month, 1)?),
                    None => start_of_day(NaiveDate::from_ymd_opt(t.year() + 1, 1, 1)?),
                };
                continue;
            }
            if !self.days.matches(t.date()) {
                t = start_of_day(t.date().succ_opt()?);
                continue;
            }
            let Some(hour) = self.hours.first_from(t.hour()) else {
                t = start_of_day(t.date().succ_opt()?);
                continue;
            };
            if hour != t.hour() {
                t = t.date().and_hms_opt(hour, 0, 0)?;
            }
            let Some(minute) = self.minutes.first_from(t.minute()) else {
                t = t
                    .date()
                    .and_hms_opt(t.hour(), 0, 0)?
                    .checked_add_signed(Duration::hours(1))?;
                continue;
            };
            if minute != t.minute() {
                t = t.date().and_hms_opt(t.hour(), minute, 0)?;
            }
            let Some(second) = self.seconds.first_from(t.second()) else {
                t = t
                    .date()
                    .and_hms_opt(t.hour(), t.minute(), 0)?
                    .checked_add_signed(Duration::minutes(1))?;
                continue;
            };
            return t.date().and_hms_opt(t.hour(), t.minute(), second);
        }
    }
}

fn start_of_day(date: NaiveDate) -> NaiveDateTime {
    date.and_hms_opt(0, 0, 0).unwrap_or_default()
}

/// The plain values (not `L`, `W`, `#`) a field's parts name, with `H` picked from `seed`.
fn resolve(field: &Field, seed: &str) -> Bits {
    let (min, max) = field.field.bounds();
    let mut bits = Bits::default();
    for (index, item) in field.items.iter().enumerate() {
        let (from, to, step) = match *item {
            Item::All { step } => {
                let max = if field.field == CronField::DayOfWeek {
                    6
                } else {
                    max
                };
                (min, max, step)
            }
            Item::Range { from, to, step } => (from, to, step),
            Item::Hash { from, to, step } => {
                let hash = mix(stable_hash(&format!(
                    "{seed}\u{0}{}\u{0}{index}",
                    field.field
                )));
                match step {
                    None => {
                        let at = from + (hash % u64::from(to - from + 1)) as u32;
                        (at, at, 1)
                    }
                    Some(step) => {
                        let start = from + (hash % u64::from(step)) as u32;
                        (start.min(to), to, step)
                    }
                }
            }
            _ => continue,
        };
        if field.field == CronField::Year {
            continue;
        }
        let mut value = from;
        while value <= to {
            bits.insert(value);
            value = match value.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
    }
    bits
}

/// FNV's low bits follow the last bytes of its input, so the values `H` picks for two fields
/// of one job would be tied; a finaliser (SplitMix64's) spreads every input bit over all.
fn mix(mut hash: u64) -> u64 {
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Whether a (year field) part names `year`.
fn plain_contains(item: &Item, year: u32) -> bool {
    let (min, _) = CronField::Year.bounds();
    match *item {
        Item::All { step } => (year - min).is_multiple_of(step),
        Item::Range { from, to, step } => {
            (from..=to).contains(&year) && (year - from).is_multiple_of(step)
        }
        _ => false,
    }
}
