//! The sealing task: moves read events from the audit inbox into the hash chain, in order, in
//! batches, off every request's path. One task per process; on PostgreSQL the processes take
//! turns (the store's advisory lock), so any number of them may run it.

use std::time::Duration;

use crate::{App, Result};

/// How often the task seals.
pub const SEAL_EVERY: Duration = Duration::from_millis(200);

/// The most events one sealing transaction moves.
pub const SEAL_BATCH: i64 = 500;

impl App {
    /// Seals the inbox until it is empty, another process is sealing, or an event whose hash
    /// does not match its content stops it (that event and the ones after it stay in the inbox,
    /// where `ygt audit verify` reports them).
    pub async fn seal_audit_inbox(&self) -> Result<SealReport> {
        let mut report = SealReport::default();
        loop {
            let s = self.store().seal_inbox(SEAL_BATCH).await?;
            report.sealed += s.sealed;
            report.tampered = s.tampered;
            let full = i64::try_from(s.sealed).is_ok_and(|n| n >= SEAL_BATCH);
            if s.busy || s.tampered.is_some() || !full {
                return Ok(report);
            }
        }
    }

    /// Seals what an earlier run left in the inbox, then starts the task that seals every
    /// [`SEAL_EVERY`]. [`AuditSealer::stop`] ends it and seals what is left.
    pub async fn start_audit_sealer(&self) -> Result<AuditSealer> {
        let left = self.seal_audit_inbox().await?;
        if left.sealed > 0 {
            tracing::info!(
                events = left.sealed,
                "sealed audit events left by an earlier run"
            );
        }
        let mut reported = left.report_tampering(None);
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let app = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SEAL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
                match app.seal_audit_inbox().await {
                    Ok(r) => reported = r.report_tampering(reported),
                    Err(e) => {
                        tracing::warn!(error = %e, "sealing the audit inbox failed; retrying")
                    }
                }
            }
        });
        Ok(AuditSealer {
            app: self.clone(),
            stop,
            task,
        })
    }
}

/// What sealing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Events moved into the chain.
    pub sealed: usize,
    /// The inbox place of an event whose hash does not match its content (sealing stops
    /// before it).
    pub tampered: Option<i64>,
}

impl SealReport {
    /// Logs a tampered inbox event once (not on every round); returns what is now reported.
    fn report_tampering(&self, before: Option<i64>) -> Option<i64> {
        if let Some(at) = self.tampered
            && before != Some(at)
        {
            tracing::error!(
                inbox_seq = at,
                "an audit inbox event does not match its hash; it and the events after it stay \
                 unsealed (run `ygt audit verify`)"
            );
        }
        self.tampered
    }
}

/// The running sealing task of [`App::start_audit_sealer`].
pub struct AuditSealer {
    app: App,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AuditSealer {
    /// Ends the task (after the round in progress) and seals what is left in the inbox.
    pub async fn stop(self) -> Result<SealReport> {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the audit sealing task ended abnormally");
        }
        self.app.seal_audit_inbox().await
    }
}
