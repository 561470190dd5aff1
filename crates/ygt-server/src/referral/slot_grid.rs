//! The slot picker of a booking resource as a compact grid: one column per day (「12-08 周二」),
//! each listing its free times as small radio chips, reserved ones (号源下沉) marked. Slots
//! that start together with the same availability (the beds of a ward from one admission
//! date) are one chip that says how many are left. Used by the referral form's fragment and
//! by the receiving side's schedule form.

use time::{Date, OffsetDateTime, Weekday};
use uuid::Uuid;
use ygt_app::ygt_store::referral::{Resource, Slot};
use ygt_domain::referral::SlotAvailability;

use crate::door::i18n::Lang;

const CST: time::UtcOffset = time::macros::offset!(+8);

/// Times listed one above the other in a day's column before it gets a second column.
const ROWS_PER_COLUMN: usize = 12;

/// One chip: the first free slot of its time (the radio's value) and how many are left.
pub struct SlotChip {
    pub id: Uuid,
    /// `08:30`, China Standard Time.
    pub time: String,
    pub reserved: bool,
    pub left: usize,
    /// The full date and time with who may book it, for the chip's title.
    pub title: String,
}

pub struct SlotDay {
    /// `12-08 周二` (`12-08 Tue`).
    pub label: String,
    pub chips: Vec<SlotChip>,
}

pub struct SlotGrid {
    pub resource: Resource,
    pub days: Vec<SlotDay>,
    /// Chip columns in each day (1 to 3), from its busiest day.
    pub cols: usize,
}

impl SlotGrid {
    /// The grid of a resource's free slots (sorted by start, as the store returns them).
    pub fn new(resource: Resource, slots: Vec<(Slot, SlotAvailability)>, en: bool) -> Self {
        let mut days: Vec<(Date, SlotDay)> = Vec::new();
        for (slot, a) in slots {
            let at = slot.starts_at.to_offset(CST);
            if days.last().is_none_or(|(d, _)| *d != at.date()) {
                let label = day_label(at.date(), en);
                days.push((
                    at.date(),
                    SlotDay {
                        label,
                        chips: Vec::new(),
                    },
                ));
            }
            if let Some((_, day)) = days.last_mut() {
                add_chip(&mut day.chips, &slot, a, en);
            }
        }
        let busiest = days.iter().map(|(_, d)| d.chips.len()).max().unwrap_or(0);
        SlotGrid {
            resource,
            days: days.into_iter().map(|(_, d)| d).collect(),
            cols: busiest.div_ceil(ROWS_PER_COLUMN).clamp(1, 3),
        }
    }
}

fn add_chip(chips: &mut Vec<SlotChip>, slot: &Slot, a: SlotAvailability, en: bool) {
    let reserved = a == SlotAvailability::Reserved;
    let time = hhmm(slot.starts_at);
    if let Some(c) = chips
        .last_mut()
        .filter(|c| c.time == time && c.reserved == reserved)
    {
        c.left += 1;
        return;
    }
    chips.push(SlotChip {
        id: slot.id,
        title: format!(
            "{} {}",
            crate::door::layout::local(slot.starts_at),
            a.label(en)
        ),
        time,
        reserved,
        left: 1,
    });
}

fn hhmm(t: OffsetDateTime) -> String {
    let t = t.to_offset(CST);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `12-08 周二`.
pub fn day_label(d: Date, en: bool) -> String {
    let t = if en { Lang::En } else { Lang::Zh };
    let w = t.t(match d.weekday() {
        Weekday::Monday => "common.weekday_mon",
        Weekday::Tuesday => "common.weekday_tue",
        Weekday::Wednesday => "common.weekday_wed",
        Weekday::Thursday => "common.weekday_thu",
        Weekday::Friday => "common.weekday_fri",
        Weekday::Saturday => "common.weekday_sat",
        Weekday::Sunday => "common.weekday_sun",
    });
    format!("{:02}-{:02} {w}", u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_labels_are_local_month_day_and_weekday() {
        let d = time::macros::date!(2026 - 12 - 08);
        assert_eq!(day_label(d, false), "12-08 周二");
        assert_eq!(day_label(d, true), "12-08 Tue");
    }

    #[test]
    fn times_are_china_standard_time() {
        assert_eq!(hhmm(time::macros::datetime!(2026-12-08 00:30 UTC)), "08:30");
    }
}
