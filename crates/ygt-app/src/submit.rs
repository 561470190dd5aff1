//! Submissions that register residents and record their clinical items together, all or
//! nothing: a FHIR transaction Bundle (a Patient and the Observations that refer to it), an
//! HL7 v2 ADT message (the registration and the visit it announces).

use ygt_domain::access::Permission;
use ygt_domain::msg;
use ygt_domain::{Reason, ValidationError, ValidationErrors};

use crate::access::Event;
use crate::mpi::{Registered, ResidentDraft};
use crate::record::{ItemDraft, ParsedItem, Recorded};
use crate::{App, AppError, Ctx, Result};

/// One entry of a submission.
#[derive(Debug, Clone)]
pub enum Submission {
    /// A registration (or, under a patient number the institution already keeps, its update).
    Resident(Box<ResidentDraft>),
    /// A clinical item; `patient_entry` names the resident entry of this submission it is
    /// about (its person is known only once that entry is registered).
    Item {
        draft: Box<ItemDraft>,
        patient_entry: Option<usize>,
    },
}

/// What became of one entry.
#[derive(Debug, Clone)]
pub enum Submitted {
    Resident(Registered),
    Item(Recorded),
}

/// A submission parsed and authorised, ready to write.
pub struct Prepared {
    residents: Vec<(usize, crate::mpi::Parsed)>,
    items: Vec<(usize, ParsedItem, Option<usize>)>,
    len: usize,
}

impl App {
    /// Registers and records every entry in one transaction: all are stored or none. Errors
    /// name the entry (`entry[2].results[0].value`). Residents are registered first, in order,
    /// then items are recorded in order.
    pub async fn submit(
        &self,
        ctx: &Ctx,
        entries: &[Submission],
        channel: &str,
    ) -> Result<Vec<Submitted>> {
        let prepared = self.prepare_submission(ctx, entries).await?;
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let out = self.apply(&mut tx, ctx, &prepared, channel).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Several independent submissions (messages of several senders arriving together),
    /// each already prepared by [`App::prepare_submission`], in one commit: each is written
    /// under its own savepoint, so one that fails fails alone; the others are durable when
    /// this returns.
    pub async fn write_many(
        &self,
        batch: &[(Ctx, Prepared)],
        channel: &str,
    ) -> Vec<Result<Vec<Submitted>>> {
        // Most batches are all good: write them as one (fewest statements); only when one
        // is refused, write them again each under a savepoint.
        match self.write_together(batch, channel).await {
            Ok(Some(outs)) => return outs.into_iter().map(Ok).collect(),
            Ok(None) => {}
            Err(e) => return failed_batch(batch.len(), &e),
        }
        let written = async {
            let mut tx = self.store().begin().await?;
            tx.lock_writes().await?;
            let mut outs = Vec::with_capacity(batch.len());
            for (ctx, p) in batch {
                tx.savepoint().await?;
                match self.apply(&mut tx, ctx, p, channel).await {
                    Ok(o) => {
                        tx.release_savepoint().await?;
                        outs.push(Ok(o));
                    }
                    Err(AppError::Store(e)) => return Err(AppError::Store(e)),
                    Err(e) => {
                        tx.rollback_to_savepoint().await?;
                        outs.push(Err(e));
                    }
                }
            }
            tx.commit().await?;
            Ok::<_, AppError>(outs)
        }
        .await;
        match written {
            Ok(outs) => outs,
            Err(e) => failed_batch(batch.len(), &e),
        }
    }

    /// The whole batch in one go: `None` when one of them was refused (nothing written).
    async fn write_together(
        &self,
        batch: &[(Ctx, Prepared)],
        channel: &str,
    ) -> Result<Option<Vec<Vec<Submitted>>>> {
        let mut tx = self.store().begin().await?;
        tx.lock_writes().await?;
        let same_actor = batch
            .first()
            .is_some_and(|(c0, _)| batch.iter().all(|(c, _)| c.actor == c0.actor));
        let items_only = batch.iter().all(|(_, p)| p.residents.is_empty());
        let mut outs = Vec::with_capacity(batch.len());
        if same_actor
            && items_only
            && let Some((ctx, _)) = batch.first()
        {
            // One sender's results: one pass over all their items.
            let all: Vec<ParsedItem> = batch
                .iter()
                .flat_map(|(_, p)| p.items.iter().map(|(_, it, _)| it.clone()))
                .collect();
            let mut recorded = match self.record_in(&mut tx, ctx, &all, channel).await {
                Ok(r) => r.into_iter(),
                Err(AppError::Store(e)) => return Err(AppError::Store(e)),
                Err(_) => return Ok(None),
            };
            for (_, p) in batch {
                outs.push(
                    recorded
                        .by_ref()
                        .take(p.items.len())
                        .map(Submitted::Item)
                        .collect(),
                );
            }
        } else {
            for (ctx, p) in batch {
                match self.apply(&mut tx, ctx, p, channel).await {
                    Ok(o) => outs.push(o),
                    Err(AppError::Store(e)) => return Err(AppError::Store(e)),
                    Err(_) => return Ok(None),
                }
            }
        }
        tx.commit().await?;
        Ok(Some(outs))
    }

    /// Parses and authorises a submission (no write yet).
    pub async fn prepare_submission(&self, ctx: &Ctx, entries: &[Submission]) -> Result<Prepared> {
        if entries.is_empty() {
            return Err(AppError::invalid("entry", Reason::Required));
        }
        if entries.len() > 1000 {
            return Err(AppError::invalid(
                "entry",
                Reason::Range { min: 1, max: 1000 },
            ));
        }
        let now = self.now();
        let mut errs = ValidationErrors::default();
        let mut residents = Vec::new();
        let mut items: Vec<(usize, ParsedItem, Option<usize>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let prefix = |errs: &mut ValidationErrors, e: ValidationErrors| {
                for x in e.0 {
                    let f = format!("entry[{i}].{}", x.field);
                    errs.push(x.at(f));
                }
            };
            match e {
                Submission::Resident(d) => match d.parse(now.date()) {
                    Ok(p) => residents.push((i, p)),
                    Err(e) => prefix(&mut errs, e),
                },
                Submission::Item {
                    draft,
                    patient_entry,
                } => {
                    if let Some(k) = patient_entry
                        && !matches!(entries.get(*k), Some(Submission::Resident(_)))
                    {
                        errs.push(ValidationError::new(
                            format!("entry[{i}].patient"),
                            Reason::Other(msg!("record.patient_not_in_submission")),
                        ));
                    }
                    // The patient is the resident of that entry: its sender's identifiers.
                    let mut draft = draft.clone();
                    if let Some(Submission::Resident(r)) =
                        patient_entry.and_then(|k| entries.get(k))
                    {
                        let p = &mut draft.patient;
                        p.name = p.name.clone().or_else(|| Some(r.name.clone()));
                        p.record_id = p.record_id.clone().or_else(|| r.record_id.clone());
                        p.id_number = p.id_number.clone().or_else(|| r.id_number.clone());
                    }
                    match draft.parse(now) {
                        Ok(p) => items.push((i, p, *patient_entry)),
                        Err(e) => prefix(&mut errs, e),
                    }
                }
            }
        }
        if !errs.0.is_empty() {
            return Err(AppError::Invalid(errs));
        }
        for (i, p) in &residents {
            self.require_scoped_ref(
                ctx,
                Permission::PatientWrite,
                p.institution_id,
                &format!("entry[{i}].institution_id"),
                Event::new("resident.register", "registration", None),
            )
            .await?;
        }
        let parsed: Vec<ParsedItem> = items.iter().map(|(_, p, _)| p.clone()).collect();
        self.authorise_items(ctx, &parsed, "record.write").await?;
        Ok(Prepared {
            residents,
            items,
            len: entries.len(),
        })
    }

    /// Writes a prepared submission inside the caller's transaction (which holds the write
    /// lock).
    async fn apply(
        &self,
        tx: &mut ygt_store::Tx,
        ctx: &Ctx,
        prepared: &Prepared,
        channel: &str,
    ) -> Result<Vec<Submitted>> {
        let mut out: Vec<Option<Submitted>> = vec![None; prepared.len];
        for (i, p) in &prepared.residents {
            if tx.institution_tier(p.institution_id).await?.is_none() {
                return Err(AppError::invalid(
                    &format!("entry[{i}].institution_id"),
                    Reason::NotFound,
                ));
            }
            let r = self.register_in(tx, ctx, p).await?;
            if let Some(slot) = out.get_mut(*i) {
                *slot = Some(Submitted::Resident(r));
            }
        }
        let mut batch = Vec::with_capacity(prepared.items.len());
        for (_, p, patient_entry) in &prepared.items {
            let mut p = p.clone();
            if let Some(k) = patient_entry
                && let Some(Some(Submitted::Resident(r))) = out.get(*k)
            {
                p.person_id = Some(r.person_id);
            }
            batch.push(p);
        }
        if !batch.is_empty() {
            let recorded = self.record_in(tx, ctx, &batch, channel).await?;
            for ((i, _, _), r) in prepared.items.iter().zip(recorded) {
                if let Some(slot) = out.get_mut(*i) {
                    *slot = Some(Submitted::Item(r));
                }
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

fn failed_batch(n: usize, e: &AppError) -> Vec<Result<Vec<Submitted>>> {
    let msg = e.to_string();
    (0..n)
        .map(|_| Err(AppError::Store(ygt_store::StoreError::Batch(msg.clone()))))
        .collect()
}
