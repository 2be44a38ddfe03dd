//! The time zones the emulator knows, by their Windows ids: the mailbox's
//! own (Berlin), in which Outlook stored its birthdays, Tokyo's for a
//! calendar, and UTC. Not a
//! time zone database, and not applied to `TimeZoneContext`: Exchange
//! sends instants in UTC and uses that header only for zone-less values
//! in requests (reference/mailbox-content.md, "Time zones").

use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

/// The mailbox's own zone: Berlin's.
pub const MAILBOX_ZONE: &str = "W. Europe Standard Time";

/// The offset of a zone at an instant; `None` for a zone we do not know.
pub fn offset_at(zone: &str, instant: OffsetDateTime) -> Option<UtcOffset> {
    let hours = match zone {
        "UTC" | "Greenwich Standard Time" => 0,
        // Japan keeps no summer time.
        "Tokyo Standard Time" => 9,
        MAILBOX_ZONE => {
            // EU summer time: from the last Sunday of March to the last
            // Sunday of October, switching at 01:00 UTC.
            let year = instant.year();
            let start = last_sunday(year, Month::March).midnight().assume_utc() + time::Duration::hours(1);
            let end = last_sunday(year, Month::October).midnight().assume_utc() + time::Duration::hours(1);
            if (start..end).contains(&instant) { 2 } else { 1 }
        }
        _ => return None,
    };
    UtcOffset::from_hms(hours, 0, 0).ok()
}

fn last_sunday(year: i32, month: Month) -> Date {
    let mut day = Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).expect("a valid day");
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().expect("a valid day");
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn berlin_switches_on_the_last_sundays_of_march_and_october() {
        let at = |t| offset_at(MAILBOX_ZONE, t).unwrap().whole_hours();
        assert_eq!(at(datetime!(2026-03-29 00:59 UTC)), 1);
        assert_eq!(at(datetime!(2026-03-29 01:00 UTC)), 2);
        assert_eq!(at(datetime!(2026-10-25 00:59 UTC)), 2);
        assert_eq!(at(datetime!(2026-10-25 01:00 UTC)), 1);
        assert!(offset_at("Mars Standard Time", datetime!(2026-01-01 0:00 UTC)).is_none());
    }
}
