//! A schedule's cron expression read in its time zone: when a run is due (pure).
//!
//! croner evaluates five-field expressions as Vixie cron and Kubernetes' CronJob do (a day
//! matching either a restricted day-of-month or a restricted day-of-week runs). Across
//! daylight-saving changes (croner's documented behaviour): a fixed time skipped by the
//! clock running forward runs at the first minute after the gap; a fixed time the clock
//! repeats runs once, at its first occurrence; `*`/step minutes and hours run at each
//! wall-clock minute that exists.

use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed schedule in its zone.
#[derive(Clone, Debug)]
pub struct Cron {
    cron: croner::Cron,
    zone: TimeZone,
}

/// Why a schedule cannot be evaluated; the message names the field and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// spec.schedule does not parse.
    #[error(
        "spec.schedule {schedule:?} is not a cron schedule ({why}): use five fields (minute hour day-of-month month day-of-week), e.g. '0 2 * * *' or '*/15 * * * *'"
    )]
    Schedule { schedule: String, why: String },
    /// spec.schedule parses but names no date that exists (e.g. 31 February).
    #[error(
        "spec.schedule {0:?} never matches (no such date, e.g. day 31 of February): use a day that exists, e.g. '0 0 28 2 *'"
    )]
    Never(String),
    /// spec.timeZone is not in the time zone database.
    #[error(
        "spec.timeZone {0:?} is not a known IANA time zone: use a name such as UTC, Europe/Berlin or America/New_York"
    )]
    TimeZone(String),
}

/// Parses `schedule` (five fields or an @-macro) and looks `zone` up.
pub fn parse(schedule: &str, zone: &str) -> Result<Cron, Invalid> {
    // CronJob accepts @midnight, which croner spells @daily.
    let expression = if schedule.trim().eq_ignore_ascii_case("@midnight") {
        "@daily"
    } else {
        schedule
    };
    let cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| Invalid::Schedule {
            schedule: schedule.to_owned(),
            why: e.to_string(),
        })?;
    let zone = TimeZone::get(zone).map_err(|_| Invalid::TimeZone(zone.to_owned()))?;
    Ok(Cron { cron, zone })
}

impl Cron {
    /// The latest due time in `(after, now]`: the one run to create, however many were
    /// missed (never a burst after downtime).
    pub fn most_recent(&self, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let due = self
            .cron
            .find_previous_occurrence(&now.to_zoned(self.zone.clone()), true)
            .ok()?
            .timestamp();
        (due > after).then_some(due)
    }

    /// The first due time after `now`.
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        self.cron
            .find_next_occurrence(&now.to_zoned(self.zone.clone()), false)
            .ok()
            .map(|z| z.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn five_fields_and_macros_parse_and_the_rest_is_refused_naming_the_field() {
        for ok in [
            "*/5 * * * *",
            "0 2 * * 1-5",
            "@hourly",
            "@midnight",
            "0 0 1 JAN *",
        ] {
            parse(ok, "UTC").unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "0 25 * * *",
            "nonsense",
        ] {
            let e = parse(bad, "UTC").expect_err(bad).to_string();
            assert!(
                e.contains("spec.schedule") && e.contains("'0 2 * * *'"),
                "{e}"
            );
        }
        let e = parse("0 2 * * *", "Mars/Olympus")
            .expect_err("zone")
            .to_string();
        assert!(
            e.contains("spec.timeZone") && e.contains("Europe/Berlin"),
            "{e}"
        );
    }

    #[test]
    fn most_recent_is_one_time_however_many_were_missed() {
        let c = parse("*/10 * * * *", "UTC").expect("parses");
        let now = at("2026-12-05T12:34:56Z");
        assert_eq!(
            c.most_recent(at("2026-12-01T00:00:00Z"), now),
            Some(at("2026-12-05T12:30:00Z"))
        );
        assert_eq!(c.most_recent(at("2026-12-05T12:30:00Z"), now), None);
        assert_eq!(c.next_after(now), Some(at("2026-12-05T12:40:00Z")));
        // Exactly on a due time, that time is due (not the one before).
        assert_eq!(
            c.most_recent(at("2026-12-05T12:00:00Z"), at("2026-12-05T12:40:00Z")),
            Some(at("2026-12-05T12:40:00Z"))
        );
    }

    #[test]
    fn a_zone_moves_the_due_times_and_dst_is_crossed_as_documented() {
        let berlin = parse("30 2 * * *", "Europe/Berlin").expect("parses");
        // Winter: 02:30 CET is 01:30 UTC.
        assert_eq!(
            berlin.next_after(at("2026-12-05T00:00:00Z")),
            Some(at("2026-12-05T01:30:00Z"))
        );
        // 2026-03-29: clocks jump from 02:00 to 03:00; the skipped 02:30 runs at 03:00 CEST.
        assert_eq!(
            berlin.next_after(at("2026-03-28T23:00:00Z")),
            Some(at("2026-03-29T01:00:00Z"))
        );
        // 2026-10-25: 02:00-03:00 happens twice; 02:30 runs once, at the first (CEST).
        assert_eq!(
            berlin.next_after(at("2026-10-24T23:00:00Z")),
            Some(at("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            berlin.next_after(at("2026-10-25T00:30:00Z")),
            Some(at("2026-10-26T01:30:00Z"))
        );
    }

    #[test]
    fn a_day_matching_either_restricted_day_field_runs_as_in_cronjob() {
        // The 1st of the month or any Monday, at midnight UTC.
        let c = parse("0 0 1 * MON", "UTC").expect("parses");
        // 2026-12-05 is a Saturday: the next is Monday the 7th, then Monday the 14th.
        assert_eq!(
            c.next_after(at("2026-12-05T00:00:00Z")),
            Some(at("2026-12-07T00:00:00Z"))
        );
        assert_eq!(
            c.next_after(at("2026-12-28T00:00:00Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
    }
}
