//! Moving generated referrals into the past: demo data only. The use cases stamp every step
//! with the current time; the demo county wants referrals written weeks ago. This is the one
//! write of the generator that does not go through the use cases, and it lives here, with the
//! generator, not in the production store.

use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ygt_app::ygt_store::{Sql, Store, StoreError};

/// How the demo generator moves a referral it wrote through the use cases into the past.
///
/// The use cases stamp every step with the current time; a demo county wants referrals that
/// were written weeks ago, accepted hours later and are overdue today. Each anchor is (the real
/// time just before a step was taken, the time that step should carry); every time stored at
/// or after an anchor's real time (the last such anchor) becomes `wanted + (t − real)`. Times
/// before the first anchor are kept.
#[derive(Debug, Clone, Default)]
pub struct Retime {
    /// (real time before a step, wanted time of the step), in the order the steps were taken.
    pub anchors: Vec<(OffsetDateTime, OffsetDateTime)>,
    /// The local (Beijing) date of the wanted creation time: the slip number is renewed from
    /// that day's counter when it differs from the number's date.
    pub number_day: Option<Date>,
}

impl Retime {
    /// The wanted time of a stored time.
    pub fn map(&self, t: OffsetDateTime) -> OffsetDateTime {
        let mut out = t;
        for (real, wanted) in &self.anchors {
            if *real > t {
                break;
            }
            out = *wanted + (t - *real);
        }
        out
    }

    fn map_opt(&self, t: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
        t.map(|t| self.map(t))
    }
}

/// Moves the times of one generated referral as `r` says, in one transaction — the referral's step
/// times and slip number, its events, its notifications (created and read), the care tasks
/// it handed over (created, done, and the due date by the same number of days), the care
/// links it opened and the booking time of the slot it holds.
///
/// Left as they are: the appointment time (a booked slot is a real calendar time; the
/// generator moves no referral whose appointment lies in the past), the version (this is
/// no change by a person) and the audit log, which keeps when the generator really wrote.
pub async fn retime_generated_referral(
    store: &Store,
    id: Uuid,
    r: &Retime,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let row = tx
        .referral_for_update(id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut number = row.number.clone();
    if let Some(day) = r.number_day {
        let stamp = format!(
            "ZZ{:04}{:02}{:02}-",
            day.year(),
            u8::from(day.month()),
            day.day()
        );
        if !number.starts_with(&stamp) {
            let seq = tx.next_referral_seq(&day.to_string()).await?;
            number = ygt_domain::referral::slip_number(day, seq);
        }
    }
    tx.execute(
        Sql::new(
            "UPDATE referrals SET number = ?, created_at = ?, submitted_at = ?, accepted_at = ?, \
                 arrived_at = ?, closed_at = ?, status_since = ? WHERE id = ?",
        )
        .arg(number.as_str())
        .arg(r.map(row.created_at))
        .arg(r.map_opt(row.submitted_at))
        .arg(r.map_opt(row.accepted_at))
        .arg(r.map_opt(row.arrived_at))
        .arg(r.map_opt(row.closed_at))
        .arg(r.map(row.status_since))
        .arg(id),
    )
    .await?;
    if number != row.number {
        // The messages already sent quote the slip number: they quote the new one.
        tx.execute(
            Sql::new(
                "UPDATE notifications SET title_zh = REPLACE(title_zh, ?, ?), \
                     title_en = REPLACE(title_en, ?, ?), message = REPLACE(message, ?, ?) \
                     WHERE referral_id = ?",
            )
            .arg(row.number.as_str())
            .arg(number.as_str())
            .arg(row.number.as_str())
            .arg(number.as_str())
            .arg(row.number.as_str())
            .arg(number.as_str())
            .arg(id),
        )
        .await?;
    }
    let events: Vec<(Uuid, OffsetDateTime)> = tx
        .fetch_all(Sql::new("SELECT id, at FROM referral_events WHERE referral_id = ?").arg(id))
        .await?;
    for (e, at) in events {
        tx.execute(
            Sql::new("UPDATE referral_events SET at = ? WHERE id = ?")
                .arg(r.map(at))
                .arg(e),
        )
        .await?;
    }
    let notes: Vec<(Uuid, OffsetDateTime, Option<OffsetDateTime>)> = tx
        .fetch_all(
            Sql::new("SELECT id, created_at, read_at FROM notifications WHERE referral_id = ?")
                .arg(id),
        )
        .await?;
    for (n, created_at, read_at) in notes {
        tx.execute(
            Sql::new("UPDATE notifications SET created_at = ?, read_at = ? WHERE id = ?")
                .arg(r.map(created_at))
                .arg(r.map_opt(read_at))
                .arg(n),
        )
        .await?;
    }
    let tasks: Vec<(Uuid, Date, OffsetDateTime, Option<OffsetDateTime>)> = tx
        .fetch_all(
            Sql::new(
                "SELECT id, due_on, created_at, done_at FROM care_tasks WHERE referral_id = ?",
            )
            .arg(id),
        )
        .await?;
    for (t, due_on, created_at, done_at) in tasks {
        let created = r.map(created_at);
        let shift = created - created_at;
        let days = (shift.whole_seconds() as f64 / 86_400.0).round() as i64;
        tx.execute(
            Sql::new("UPDATE care_tasks SET due_on = ?, created_at = ?, done_at = ? WHERE id = ?")
                .arg(due_on + time::Duration::days(days))
                .arg(created)
                .arg(r.map_opt(done_at))
                .arg(t),
        )
        .await?;
    }
    let source = id.to_string();
    let links: Vec<(Uuid, OffsetDateTime, Option<OffsetDateTime>)> = tx
        .fetch_all(
            Sql::new(
                "SELECT id, valid_from, valid_until FROM care_links \
                     WHERE kind = 'referral' AND source_id = ?",
            )
            .arg(&source),
        )
        .await?;
    for (l, valid_from, valid_until) in links {
        tx.execute(
            Sql::new("UPDATE care_links SET valid_from = ?, valid_until = ? WHERE id = ?")
                .arg(r.map(valid_from))
                .arg(r.map_opt(valid_until))
                .arg(l),
        )
        .await?;
    }
    let slots: Vec<(Uuid, Option<OffsetDateTime>)> = tx
        .fetch_all(Sql::new("SELECT id, booked_at FROM slots WHERE referral_id = ?").arg(id))
        .await?;
    for (s, booked_at) in slots {
        tx.execute(
            Sql::new("UPDATE slots SET booked_at = ? WHERE id = ?")
                .arg(r.map_opt(booked_at))
                .arg(s),
        )
        .await?;
    }
    tx.commit().await
}
