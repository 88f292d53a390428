#!/usr/bin/env bash
# The cost of a TestSchedule's due-time step (operator/src/controllers/test_schedule/cron.rs):
# parse the cron expression in its time zone, find the most recent and the next due time, for
# common schedules and for ones that match rarely (Feb 29) or never (Feb 31). Prints the time
# per step; a reconcile does it once.
#   bench/schedule.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo run --quiet --release -p operator --example schedule_due
