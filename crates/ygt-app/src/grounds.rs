//! The grounds on which an institution holds a resident's record (care links): proven
//! relationships only, each new one listed for the auditor.
//!
//! Registrations give their institution a `registered` ground when their identity is proven
//! (`ygt_domain::access::registration_grounds`), an `registered_unverified` one otherwise;
//! the grounds of a person are recomputed whenever its registrations change (a registration,
//! an update of its number, a link, merge or split), so a ground follows the registration it
//! comes from and never the person an attacker merged it into. Referrals, arrivals and later
//! consultations and contracts add their own grounds through [`App::grant_in`].

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::access::{Ground, RegistrationFacts, registration_grounds};
use ygt_domain::audit::Outcome;
use ygt_store::Tx;
use ygt_store::mpi::Registration;

use crate::access::Event;
use crate::{App, Ctx, Result, new_id};

/// The audit action of a new ground (what the auditor's list of new relationships shows).
pub const GRANT_ACTION: &str = "access.grant";

/// A new ground to record.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    pub resident: Uuid,
    pub ground: Ground,
    pub institution: Option<Uuid>,
    pub user: Option<Uuid>,
    /// What the ground comes from: a registration, a referral, ...
    pub source: Option<&'a str>,
    pub until: Option<OffsetDateTime>,
}

/// The audit event of a new ground: who (the actor), for whom (institution or user), on what
/// ground, from what.
pub(crate) fn grant_event(g: &Grant<'_>) -> Event<'static> {
    let mut detail = format!("ground={}", g.ground.code());
    if let Some(i) = g.institution {
        detail.push_str(&format!(" institution={i}"));
    }
    if let Some(u) = g.user {
        detail.push_str(&format!(" user={u}"));
    }
    if let Some(s) = g.source {
        detail.push_str(&format!(" source={s}"));
    }
    Event::new(GRANT_ACTION, "resident", Some(g.resident.to_string()))
        .resident(g.resident)
        .detail(detail)
}

fn facts(r: &Registration) -> RegistrationFacts {
    RegistrationFacts {
        id: r.id,
        id_number: r.id_number.clone(),
        registered_at: r.registered_at,
    }
}

impl App {
    /// Records a ground inside the caller's transaction; an opening one is audited as a new
    /// relationship.
    pub(crate) async fn grant_in(&self, tx: &mut Tx, ctx: &Ctx, g: Grant<'_>) -> Result<()> {
        tx.insert_care_link(
            new_id(),
            g.resident,
            g.institution,
            g.user,
            g.ground,
            g.source,
            self.now(),
            g.until,
        )
        .await?;
        if g.ground.opens() {
            self.audit_in(tx, ctx, grant_event(&g), Outcome::Allowed)
                .await?;
        }
        Ok(())
    }

    /// Brings the registration grounds of `person` in line with its registrations `regs`
    /// (all of them, as now stored): links of registrations that left or whose ground changed
    /// end, missing ones are added.
    pub(crate) async fn sync_registration_grounds(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        person: Uuid,
        regs: &[Registration],
    ) -> Result<()> {
        let now = self.now();
        let facts: Vec<RegistrationFacts> = regs.iter().map(facts).collect();
        let want = registration_grounds(&facts);
        let have = tx.registration_links(person, now).await?;
        let source_of = |id: Uuid| id.to_string();
        for l in &have {
            let keep = want.iter().any(|(r, g)| {
                l.source_id.as_deref() == Some(source_of(*r).as_str()) && l.kind == g.code()
            });
            if !keep {
                tx.end_care_link(l.id, now).await?;
            }
        }
        for (reg, ground) in want {
            let source = source_of(reg);
            let held = have.iter().any(|l| {
                l.source_id.as_deref() == Some(source.as_str()) && l.kind == ground.code()
            });
            if held {
                continue;
            }
            let institution = regs.iter().find(|r| r.id == reg).map(|r| r.institution_id);
            self.grant_in(
                tx,
                ctx,
                Grant {
                    resident: person,
                    ground,
                    institution,
                    user: None,
                    source: Some(&source),
                    until: None,
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// The grounds of new registrations written in bulk (an initial load), per person: (person,
/// institution, ground, source).
pub(crate) fn bulk_grounds(
    by_person: &std::collections::HashMap<Uuid, Vec<Registration>>,
) -> Vec<(Uuid, Uuid, Ground, Option<String>)> {
    let mut out = Vec::new();
    for (person, regs) in by_person {
        let facts: Vec<RegistrationFacts> = regs.iter().map(facts).collect();
        for (reg, ground) in registration_grounds(&facts) {
            if let Some(r) = regs.iter().find(|r| r.id == reg) {
                out.push((*person, r.institution_id, ground, Some(reg.to_string())));
            }
        }
    }
    out
}
