//! Benchmark: the cost of a TestSchedule's due-time step, the pure part of each reconcile
//! (parse the cron expression in its zone, the most recent due time, the next one), for
//! common schedules and for ones that match rarely or never (the search's worst case: a
//! schedule that never matches is searched until croner gives up, which is why the
//! controller refuses such a schedule once, with a condition, instead of searching on every
//! reconcile). Prints the time per step. Run `bench/schedule.sh`.

use std::time::Instant;

use anyhow::Result;
use jiff::Timestamp;
use operator::controllers::test_schedule::cron;

fn main() -> Result<()> {
    let now: Timestamp = "2026-12-05T12:34:56Z".parse()?;
    let after: Timestamp = "2026-12-01T00:00:00Z".parse()?;
    println!(
        "{:<22} {:<16} {:>8}  {:>14}  next due",
        "schedule", "zone", "steps", "time per step"
    );
    for (schedule, zone) in [
        ("* * * * *", "UTC"),
        ("*/15 * * * *", "UTC"),
        ("30 2 * * *", "Europe/Berlin"),
        ("0 9 * * MON-FRI", "America/New_York"),
        ("0 0 29 2 *", "UTC"),
        ("0 0 31 2 *", "UTC"),
    ] {
        let steps = 200u32;
        let started = Instant::now();
        let mut next = None;
        for _ in 0..steps {
            match cron::parse(schedule, zone) {
                Ok(c) => {
                    let _ = c.most_recent(after, now);
                    next = c.next_after(now);
                }
                Err(e) => {
                    println!("{schedule:<22} {zone:<16} refused: {e}");
                    break;
                }
            }
        }
        let per = started.elapsed() / steps;
        let next = next.map_or_else(|| "none".to_owned(), |t| t.to_string());
        println!("{schedule:<22} {zone:<16} {steps:>8}  {per:>14.2?}  {next}");
    }
    Ok(())
}
