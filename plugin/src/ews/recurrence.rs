//! EWS's `Recurrence` element (types.xsd RecurrenceType and
//! TaskRecurrenceType): one pattern element, then one range element, read
//! into the protocol-neutral [`Pattern`].

use super::xml::Element;
use crate::documents::recurrence::{End, Pattern, Repeat};

/// `2026-01-05+01:00`, `2026-01-05Z` or `2026-01-05`: the date, and the
/// offset in minutes where there is one.
fn date_and_offset(text: &str) -> (String, Option<i32>) {
    let text = text.trim();
    let (date, zone) = text.split_at(text.len().min(10));
    let offset = match zone {
        "Z" => Some(0),
        "" => None,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (h, m) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
            h.parse::<i32>().ok().zip(m.parse::<i32>().ok()).map(|(h, m)| sign * (h * 60 + m))
        }
    };
    (date.to_string(), offset)
}

pub fn read(recurrence: &Element) -> Option<Pattern> {
    let mut pattern: Option<(Repeat, u32)> = None;
    let mut range: Option<(String, Option<i32>, End)> = None;
    for part in &recurrence.children {
        let text = |name: &str| part.child_text(name).map(|t| t.trim().to_string()).unwrap_or_default();
        let interval = part.child_text("Interval").and_then(|i| i.trim().parse().ok()).unwrap_or(1);
        let day_of_month = part.child_text("DayOfMonth").and_then(|d| d.trim().parse().ok()).unwrap_or(1);
        let repeat = match part.name.as_str() {
            "DailyRecurrence" => Some(Repeat::Daily),
            "WeeklyRecurrence" => Some(Repeat::Weekly(text("DaysOfWeek").split_whitespace().map(str::to_string).collect())),
            "AbsoluteMonthlyRecurrence" => Some(Repeat::Monthly(day_of_month)),
            "RelativeMonthlyRecurrence" => Some(Repeat::MonthlyOn { index: text("DayOfWeekIndex"), day: text("DaysOfWeek") }),
            "AbsoluteYearlyRecurrence" => Some(Repeat::Yearly { month: text("Month"), day: day_of_month }),
            "RelativeYearlyRecurrence" => Some(Repeat::YearlyOn { index: text("DayOfWeekIndex"), day: text("DaysOfWeek"), month: text("Month") }),
            "DailyRegeneration" => Some(Repeat::Regenerating("Day".into())),
            "WeeklyRegeneration" => Some(Repeat::Regenerating("Week".into())),
            "MonthlyRegeneration" => Some(Repeat::Regenerating("Month".into())),
            "YearlyRegeneration" => Some(Repeat::Regenerating("Year".into())),
            _ => None,
        };
        if let Some(repeat) = repeat {
            pattern = Some((repeat, interval));
            continue;
        }
        let (start, offset) = date_and_offset(&text("StartDate"));
        let end = match part.name.as_str() {
            "NoEndRecurrence" => End::Never,
            "EndDateRecurrence" => End::Date(date_and_offset(&text("EndDate")).0),
            "NumberedRecurrence" => End::Count(text("NumberOfOccurrences").parse().unwrap_or(0)),
            _ => continue,
        };
        range = Some((start, offset, end));
    }
    let ((repeat, interval), (start, offset_minutes, end)) = (pattern?, range?);
    Some(Pattern { repeat, interval, start, end, offset_minutes })
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_of_start_dates() {
        assert_eq!(super::date_and_offset("2014-03-08-08:00"), ("2014-03-08".into(), Some(-480)));
        assert_eq!(super::date_and_offset("2026-01-05+01:00"), ("2026-01-05".into(), Some(60)));
        assert_eq!(super::date_and_offset("2026-01-05Z"), ("2026-01-05".into(), Some(0)));
        assert_eq!(super::date_and_offset("2026-01-05"), ("2026-01-05".into(), None));
    }
}
