//! A recurrence pattern, whichever protocol read it, and the words a
//! person reads it in: "every Monday 10:00-11:00 Europe/Berlin, from 5 Jan
//! 2026 until 30 Mar 2026". EWS and Graph describe the same patterns
//! (reference/mailbox-content.md 1.4: daily, weekly, absolute and relative
//! monthly and yearly; an end date, a number of occurrences or no end).

/// How often it repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    /// on these days (`Monday`, ...)
    Weekly(Vec<String>),
    /// on this day of the month
    Monthly(u8),
    /// on the `index` (`First`...`Last`) `day` of the month
    MonthlyOn { index: String, day: String },
    /// on this day of this month (`January`...)
    Yearly { month: String, day: u8 },
    YearlyOn { index: String, day: String, month: String },
    /// a task that comes back this many days, weeks, months or years after
    /// it is completed (`Day`, `Week`, `Month`, `Year`)
    Regenerating(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// `YYYY-MM-DD`
    Date(String),
    Count(u32),
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub repeat: Repeat,
    pub interval: u32,
    /// `YYYY-MM-DD`
    pub start: String,
    pub end: End,
    /// the series' offset from UTC on its first day, in minutes, where the
    /// server says it (EWS writes it on the start date: `2026-01-05+01:00`)
    pub offset_minutes: Option<i32>,
}

pub const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/// `2026-01-05` as `5 Jan 2026`; anything else as it came.
pub fn day_in_words(date: &str) -> String {
    let mut parts = date.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else { return date.to_string() };
    let month = month.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    match (month, day.get(..2).and_then(|d| d.parse::<u8>().ok())) {
        (Some(month), Some(day)) => format!("{day} {} {year}", &month[..3]),
        _ => date.to_string(),
    }
}

/// `Monday` and `monday` alike; EWS's `Weekday`, `WeekendDay` and `Day`
/// in words.
fn day_name(day: &str) -> String {
    match day.to_ascii_lowercase().as_str() {
        "day" => "day".into(),
        "weekday" => "weekday".into(),
        "weekendday" => "weekend day".into(),
        other => {
            let mut chars = other.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        }
    }
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn every(interval: u32, unit: &str) -> String {
    if interval <= 1 { format!("every {unit}") } else { format!("every {interval} {unit}s") }
}

impl Pattern {
    /// The pattern in words; `times` the local `10:00-11:00` and the zone
    /// it is in, where the item has times.
    pub fn words(&self, times: Option<(&str, &str)>) -> String {
        let index = |i: &str| i.to_ascii_lowercase();
        let month = |m: &str| day_name(m);
        let mut text = match &self.repeat {
            Repeat::Daily => every(self.interval, "day"),
            Repeat::Weekly(days) => {
                let days: Vec<String> = days.iter().map(|d| day_name(d)).collect();
                if self.interval <= 1 { format!("every {}", list(&days)) } else { format!("every {} weeks on {}", self.interval, list(&days)) }
            }
            Repeat::Monthly(day) => format!("{} on day {day}", every(self.interval, "month")),
            Repeat::MonthlyOn { index: i, day } => format!("{} on the {} {}", every(self.interval, "month"), index(i), day_name(day)),
            Repeat::Yearly { month: m, day } => format!("{} on {day} {}", every(self.interval, "year"), month(m)),
            Repeat::YearlyOn { index: i, day, month: m } => format!("{} on the {} {} of {}", every(self.interval, "year"), index(i), day_name(day), month(m)),
            Repeat::Regenerating(unit) => format!("{} after it is completed", every(self.interval, &unit.to_ascii_lowercase())),
        };
        if let Some((hours, zone)) = times {
            text += &format!(" {hours} {zone}");
        }
        text += &format!(", from {}", day_in_words(&self.start));
        match &self.end {
            End::Date(date) => text += &format!(" until {}", day_in_words(date)),
            End::Count(n) => text += &format!(", {n} times"),
            End::Never => {}
        }
        text
    }
}

impl Pattern {
    /// The days (`YYYY-MM-DD`) the pattern falls on up to `until`, for
    /// daily and weekly patterns (weeks starting on Sunday, as Outlook's
    /// `firstDayOfWeek` defaults); None for the others, which a client
    /// that must find deleted occurrences itself does not expand here.
    pub fn days(&self, until: &str) -> Option<Vec<String>> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let parse = |d: &str| time::Date::parse(d.get(..10)?, format).ok();
        let first = parse(&self.start)?;
        let mut last = parse(until)?;
        if let End::Date(end) = &self.end {
            last = last.min(parse(end)?);
        }
        let count = match self.end {
            End::Count(n) => n as usize,
            _ => usize::MAX,
        };
        let interval = self.interval.max(1) as i32;
        let week = |d: time::Date| (d.to_julian_day() - i32::from(d.weekday().number_days_from_sunday())) / 7;
        let mut days = Vec::new();
        let mut day = first;
        while day <= last && days.len() < count {
            let falls = match &self.repeat {
                Repeat::Daily => (day.to_julian_day() - first.to_julian_day()) % interval == 0,
                Repeat::Weekly(names) => {
                    (week(day) - week(first)) % interval == 0 && names.iter().any(|n| n.eq_ignore_ascii_case(&day.weekday().to_string()))
                }
                _ => return None,
            };
            if falls {
                days.push(day.format(format).ok()?);
            }
            day = day.next_day()?;
        }
        Some(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(repeat: Repeat, interval: u32, end: End) -> Pattern {
        Pattern { repeat, interval, start: "2026-01-05".into(), end, offset_minutes: Some(60) }
    }

    #[test]
    fn patterns_in_words() {
        let weekly = pattern(Repeat::Weekly(vec!["Monday".into()]), 1, End::Date("2026-03-30".into()));
        assert_eq!(weekly.words(Some(("10:00-11:00", "Europe/Berlin"))), "every Monday 10:00-11:00 Europe/Berlin, from 5 Jan 2026 until 30 Mar 2026");
        let two = pattern(Repeat::Weekly(vec!["monday".into(), "wednesday".into(), "friday".into()]), 2, End::Count(10));
        assert_eq!(two.words(None), "every 2 weeks on Monday, Wednesday and Friday, from 5 Jan 2026, 10 times");
        let monthly = pattern(Repeat::MonthlyOn { index: "Last".into(), day: "Friday".into() }, 1, End::Never);
        assert_eq!(monthly.words(None), "every month on the last Friday, from 5 Jan 2026");
        let yearly = pattern(Repeat::Yearly { month: "March".into(), day: 15 }, 1, End::Never);
        assert_eq!(yearly.words(None), "every year on 15 March, from 5 Jan 2026");
        let again = pattern(Repeat::Regenerating("Week".into()), 2, End::Never);
        assert_eq!(again.words(None), "every 2 weeks after it is completed, from 5 Jan 2026");
        assert_eq!(day_in_words("2026-12-24"), "24 Dec 2026");
    }

    #[test]
    fn daily_and_weekly_patterns_expand_to_their_days() {
        let weekly = pattern(Repeat::Weekly(vec!["Monday".into()]), 1, End::Date("2026-01-26".into()));
        assert_eq!(weekly.days("2026-12-31").unwrap(), ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]);
        let fortnightly = pattern(Repeat::Weekly(vec!["monday".into(), "friday".into()]), 2, End::Count(3));
        assert_eq!(fortnightly.days("2026-12-31").unwrap(), ["2026-01-05", "2026-01-09", "2026-01-19"]);
        let daily = pattern(Repeat::Daily, 3, End::Never);
        assert_eq!(daily.days("2026-01-12").unwrap(), ["2026-01-05", "2026-01-08", "2026-01-11"]);
        assert!(pattern(Repeat::Monthly(5), 1, End::Never).days("2026-12-31").is_none());
    }
}
