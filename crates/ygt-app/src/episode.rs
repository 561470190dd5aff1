//! The record closes the loop: a resident's referral episodes as the 360 page shows them.
//!
//! An episode is an up-referral (from → to, reason, status), the visit it produced at the
//! receiving institution (the items that institution recorded for the resident between arrival
//! and completion), the outcome it reported back, the down-referral that followed, the
//! prescription of that down-referral's plan (source `ygt-referral-plan`, source id the
//! referral) and the care tasks the plan became.
//!
//! The schema does not link a down-referral to the up-referral it follows, so the link is a
//! rule ([`link_episodes`]): a down-referral follows the latest completed up-referral of the
//! same resident whose receiving institution is the one that sends the resident back down,
//! and at which the resident had arrived before the down-referral was written. Each
//! up-referral is followed by at most one down-referral (the earliest that fits); a
//! down-referral that fits none is an episode of its own, and so is an up-referral that no
//! down-referral followed. The down-referral may go to another institution than the one that
//! referred up (a township centre for its village clinic).

use std::collections::BTreeSet;

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::Permission;
use ygt_domain::audit::Outcome;
use ygt_domain::referral::{Direction, Status};
use ygt_store::record::Item;
use ygt_store::referral::{CareTask, Referral};

use crate::access::Event;
use crate::referral::{Plan, ReferralOutcome, Worklist};
use crate::{App, Ctx, Result};

/// How many referrals of a resident the 360 page links (most recently changed first).
pub const EPISODE_REFERRALS: i64 = 60;

/// How many items the episodes show together, newest first.
const EPISODE_ITEMS: i64 = 400;

/// The source system of the prescriptions written from a down-referral's plan.
pub const PLAN_SOURCE: &str = "ygt-referral-plan";

/// One referral episode of a resident: at least one of `up` and `down`.
#[derive(Debug, Clone)]
pub struct Episode {
    pub up: Option<Referral>,
    /// Items the receiving institution recorded between arrival and completion, oldest first.
    pub visit: Vec<Item>,
    pub outcome: Option<ReferralOutcome>,
    pub down: Option<Referral>,
    pub plan: Option<Plan>,
    /// The prescription the plan's medications became.
    pub plan_item: Option<Item>,
    /// The care tasks the plan's follow-ups became.
    pub tasks: Vec<CareTask>,
}

impl Episode {
    /// When the episode began (its first referral was written).
    pub fn started_at(&self) -> Option<OffsetDateTime> {
        self.up
            .as_ref()
            .or(self.down.as_ref())
            .map(|r| r.created_at)
    }
}

fn is(r: &Referral, d: Direction) -> bool {
    r.direction == d
}

/// Whether `down` follows `up` (the rule of the module comment, without the "latest").
fn follows(up: &Referral, down: &Referral) -> bool {
    is(up, Direction::Up)
        && is(down, Direction::Down)
        && up.person_id == down.person_id
        && up.status == Status::Completed
        && up.to_institution_id == down.from_institution_id
        && up.arrived_at.is_some_and(|a| a <= down.created_at)
}

/// Pairs a resident's referrals into episodes, newest episode first (see the module comment).
pub fn link_episodes(mut referrals: Vec<Referral>) -> Vec<(Option<Referral>, Option<Referral>)> {
    referrals.sort_by_key(|r| (r.created_at, r.id));
    let (ups, downs): (Vec<Referral>, Vec<Referral>) =
        referrals.into_iter().partition(|r| !is(r, Direction::Down));
    let mut pairs: Vec<(Option<Referral>, Option<Referral>)> =
        ups.into_iter().map(|u| (Some(u), None)).collect();
    for d in downs {
        let best = pairs
            .iter_mut()
            .filter(|(u, taken)| taken.is_none() && u.as_ref().is_some_and(|u| follows(u, &d)))
            .max_by_key(|(u, _)| u.as_ref().and_then(|u| u.arrived_at));
        match best {
            Some(slot) => slot.1 = Some(d),
            None => pairs.push((None, Some(d))),
        }
    }
    pairs.sort_by_key(|(u, d)| {
        std::cmp::Reverse([u, d].into_iter().flatten().map(|r| r.created_at).max())
    });
    pairs
}

/// The window of a visit: the receiving institution, from arrival to completion (or now).
fn visit_window(
    up: &Referral,
    now: OffsetDateTime,
) -> Option<(Uuid, OffsetDateTime, OffsetDateTime)> {
    let arrived = up.arrived_at?;
    let until = if up.status == Status::Completed {
        up.closed_at.unwrap_or(now)
    } else {
        now
    };
    Some((up.to_institution_id, arrived, until))
}

fn in_window(it: &Item, w: &(Uuid, OffsetDateTime, OffsetDateTime)) -> bool {
    it.institution_id == w.0 && it.occurred_at >= w.1 && it.occurred_at <= w.2
}

fn parsed<T: serde::de::DeserializeOwned>(json: Option<&str>) -> Option<T> {
    json.and_then(|s| serde_json::from_str(s).ok())
}

/// An episode from its referrals and the items and tasks loaded for all episodes.
fn assemble(
    (up, down): (Option<Referral>, Option<Referral>),
    items: &[Item],
    tasks: &[CareTask],
    now: OffsetDateTime,
) -> Episode {
    let window = up.as_ref().and_then(|u| visit_window(u, now));
    let mut visit: Vec<Item> = window
        .map(|w| {
            items
                .iter()
                .filter(|it| it.source_system != PLAN_SOURCE && in_window(it, &w))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    visit.reverse();
    let down_id = down.as_ref().map(|d| d.id);
    let plan_item = down_id.and_then(|id| {
        items
            .iter()
            .find(|it| it.source_system == PLAN_SOURCE && it.source_id == id.to_string())
            .cloned()
    });
    Episode {
        outcome: up.as_ref().and_then(|u| parsed(u.outcome.as_deref())),
        plan: down.as_ref().and_then(|d| parsed(d.plan.as_deref())),
        tasks: tasks
            .iter()
            .filter(|t| t.referral_id.is_some() && t.referral_id == down_id)
            .cloned()
            .collect(),
        visit,
        plan_item,
        up,
        down,
    }
}

impl App {
    /// The referral episodes of a resident for the 360 page: the referrals of the resident the
    /// actor may see (the worklist's 「全部」 scope: those involving the actor's institutions,
    /// drafts only on the writing side; every one for community-wide roles), linked into
    /// episodes, with the items and tasks each produced. Three queries whatever the number of
    /// referrals. Empty for an actor who may not open the resident's record; audited as a
    /// list of referrals under the resident.
    pub async fn referral_episodes(&self, ctx: &Ctx, person_id: Uuid) -> Result<Vec<Episode>> {
        let reads = ctx
            .principal()
            .is_none_or(|p| p.can(Permission::PatientRead) || p.can(Permission::ReferralManage));
        if !reads || !self.may_see(ctx, person_id).await? {
            return Ok(Vec::new());
        }
        let mut f = self.scope_filter(ctx, Worklist::All).await?;
        f.person_id = Some(person_id);
        let referrals = self.store().referrals(&f, EPISODE_REFERRALS).await?;
        self.audit(
            ctx,
            Event::new("referral.list", "referral", None)
                .resident(person_id)
                .purpose("treatment")
                .detail(format!("list=record n={}", referrals.len())),
            Outcome::Allowed,
        )
        .await?;
        let now = self.now();
        let pairs = link_episodes(referrals);
        let windows: Vec<_> = pairs
            .iter()
            .filter_map(|(u, _)| u.as_ref().and_then(|u| visit_window(u, now)))
            .collect();
        let downs: Vec<Uuid> = pairs
            .iter()
            .filter_map(|(_, d)| d.as_ref().map(|d| d.id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let sources: Vec<String> = downs.iter().map(Uuid::to_string).collect();
        let items = self
            .store()
            .episode_items(person_id, &windows, (PLAN_SOURCE, &sources), EPISODE_ITEMS)
            .await?;
        let tasks = self.store().care_tasks_of_referrals(&downs).await?;
        Ok(pairs
            .into_iter()
            .map(|p| assemble(p, &items, &tasks, now))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + day)
    }

    fn referral(direction: &str, from: u128, to: u128, day: i64) -> Referral {
        Referral {
            id: Uuid::now_v7(),
            number: String::new(),
            direction: direction.parse().unwrap(),
            status: Status::Completed,
            urgency: ygt_domain::referral::Urgency::Routine,
            person_id: Uuid::from_u128(1),
            person_name: String::new(),
            person_sex: String::new(),
            person_birth_date: None,
            from_institution_id: Uuid::from_u128(from),
            from_institution_name: String::new(),
            from_department_id: None,
            from_department_name: None,
            from_user_id: None,
            from_doctor: String::new(),
            to_institution_id: Uuid::from_u128(to),
            to_institution_name: String::new(),
            to_department_id: None,
            to_department_name: None,
            to_staff_id: None,
            to_staff_name: None,
            diagnosis_code: None,
            diagnosis_name: None,
            reason: String::new(),
            criterion: None,
            summary: None,
            needs: None,
            plan: None,
            outcome: None,
            status_note: None,
            appointment_at: None,
            created_at: at(day),
            submitted_at: Some(at(day)),
            accepted_at: Some(at(day)),
            arrived_at: Some(at(day + 1)),
            closed_at: Some(at(day + 10)),
            status_since: at(day + 10),
            version: 1,
        }
    }

    const VILLAGE: u128 = 10;
    const COUNTY: u128 = 20;
    const OTHER: u128 = 30;

    fn ids(pairs: &[(Option<Referral>, Option<Referral>)]) -> Vec<(Option<Uuid>, Option<Uuid>)> {
        pairs
            .iter()
            .map(|(u, d)| (u.as_ref().map(|r| r.id), d.as_ref().map(|r| r.id)))
            .collect()
    }

    #[test]
    fn a_down_referral_follows_the_latest_completed_up_referral_it_came_back_from() {
        let first = referral("up", VILLAGE, COUNTY, 0);
        let second = referral("up", VILLAGE, COUNTY, 30);
        let elsewhere = referral("up", VILLAGE, OTHER, 35);
        let down = referral("down", COUNTY, VILLAGE, 40);
        let pairs = link_episodes(vec![
            down.clone(),
            first.clone(),
            elsewhere.clone(),
            second.clone(),
        ]);
        assert_eq!(
            ids(&pairs),
            vec![
                (Some(second.id), Some(down.id)),
                (Some(elsewhere.id), None),
                (Some(first.id), None),
            ]
        );
    }

    #[test]
    fn open_and_later_referrals_start_their_own_episodes() {
        let mut open = referral("up", VILLAGE, COUNTY, 0);
        open.status = Status::Arrived;
        let before = referral("down", COUNTY, VILLAGE, 0);
        let mut not_arrived = referral("up", VILLAGE, COUNTY, 50);
        not_arrived.status = Status::Completed;
        not_arrived.arrived_at = Some(at(70));
        let down = referral("down", COUNTY, VILLAGE, 60);
        let pairs = link_episodes(vec![
            open.clone(),
            before.clone(),
            not_arrived,
            down.clone(),
        ]);
        assert!(pairs.iter().all(|(u, d)| u.is_none() || d.is_none()));
        assert_eq!(pairs.len(), 4);
        // Newest first.
        assert_eq!(pairs[0].1.as_ref().map(|r| r.id), Some(down.id));
    }

    #[test]
    fn each_up_referral_is_followed_once() {
        let up = referral("up", VILLAGE, COUNTY, 0);
        let d1 = referral("down", COUNTY, VILLAGE, 12);
        let d2 = referral("down", COUNTY, VILLAGE, 20);
        let pairs = link_episodes(vec![d2.clone(), up.clone(), d1.clone()]);
        assert_eq!(
            ids(&pairs),
            vec![(None, Some(d2.id)), (Some(up.id), Some(d1.id))]
        );
    }
}
