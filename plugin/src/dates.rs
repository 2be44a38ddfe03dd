//! Birthdays are days, but Exchange and Graph carry them
//! as instants: Outlook stores the day's local midnight in the mailbox's
//! time zone, converted to UTC ("1990-04-30T22:00:00Z" for 1 May in
//! Berlin in summer), and OWA / Outlook.com store 11:59 UTC of the day.
//! The day is the one whose midnight is nearest to the instant: right for
//! both, for every zone from UTC-11 to UTC+12.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// Attributes that are days.
pub const DAY_ATTRIBUTES: &[&str] = &["birthday"];

/// `YYYY-MM-DD` for an `xs:dateTime` value; other text as it is.
pub fn as_day(value: &str) -> String {
    let value = value.trim();
    match OffsetDateTime::parse(value, &Rfc3339) {
        // The nearest midnight: half a day on, then the UTC day.
        Ok(instant) => {
            let date = (instant + Duration::hours(12)).to_offset(UtcOffset::UTC).date();
            format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
        }
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::as_day;

    #[test]
    fn instants_become_the_days_they_stand_for() {
        assert_eq!(as_day("1990-04-30T22:00:00Z"), "1990-05-01", "Berlin, summer");
        assert_eq!(as_day("1990-12-31T23:00:00Z"), "1991-01-01", "Berlin, winter, across a year");
        assert_eq!(as_day("1990-05-01T05:00:00Z"), "1990-05-01", "New York");
        assert_eq!(as_day("1990-05-01T11:59:00Z"), "1990-05-01", "OWA's noon convention");
        assert_eq!(as_day("2000-02-28T23:00:00.000Z"), "2000-02-29", "a leap day");
        assert_eq!(as_day("1990-05-01T00:00:00+02:00"), "1990-05-01", "with an offset");
        assert_eq!(as_day("not a date"), "not a date");
    }
}
