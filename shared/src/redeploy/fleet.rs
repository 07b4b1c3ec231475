//! Redeploy across accounts: a push in the tools account rolls out in each
//! workload account, through the role assumed there.
//!
//! Each [`Target`] is an account the function acts in: its own (no role), or
//! a workload account ([`crate::accounts::Workload`]). ECS, the Tagging API
//! and CodeDeploy are called in the target account; ECR (the image's
//! facts) and Systems Manager (change calendars) in the function's own. The
//! accounts are handled concurrently and independently: one whose role
//! cannot be assumed is reported, changes nothing, and stops no other.

use futures::future::join_all;

use super::freeze::{Release, release};
use super::plan::PushedImage;
use super::{Clients, Settings, Summary, redeploy};
use crate::accounts::Workload;
use crate::aws::AwsError;
use crate::error::{Classify, ErrorKind};

/// An account the function acts in.
#[derive(Debug, Clone)]
pub struct Target {
    /// The clients that act there.
    pub clients: Clients,
    /// The workload account's role; `None` for the function's own account.
    pub workload: Option<Workload>,
}

impl Target {
    /// The function's own account.
    pub fn home(clients: Clients) -> Self {
        Target {
            clients,
            workload: None,
        }
    }

    /// A workload account, with `home`'s ECR and Systems Manager.
    pub fn workload(home: &Clients, workload: Workload) -> Self {
        Target {
            clients: home.in_workload_account(&workload.sdk),
            workload: Some(workload),
        }
    }

    /// The workload account's ID, if this is one.
    pub fn account(&self) -> Option<&str> {
        self.workload.as_ref().map(Workload::account)
    }

    /// The clients, credentials checked: a role that cannot be assumed is
    /// an error naming it, before any call in its account.
    async fn ready(&self, ecr_region: &str) -> Result<Clients, AwsError> {
        if let Some(workload) = &self.workload {
            workload.credentials().await?;
        }
        Ok(self.clients.with_ecr_in(ecr_region))
    }
}

/// [`redeploy`] in every target, concurrently, as one summary: each entry
/// names its account (when the targets are workload accounts), and an
/// account that could not be searched is one of the summary's errors.
pub async fn redeploy_everywhere(
    targets: &[Target],
    settings: &Settings,
    pushed: PushedImage,
) -> Result<Summary, AwsError> {
    let region = pushed.registry.region.clone();
    if let [only] = targets
        && only.workload.is_none()
    {
        return redeploy(&only.clients.with_ecr_in(&region), settings, pushed).await;
    }
    let runs = join_all(targets.iter().map(|target| {
        let pushed = pushed.clone();
        let region = &region;
        async move {
            let clients = target.ready(region).await?;
            redeploy(&clients, settings, pushed).await
        }
    }))
    .await;
    let mut summary = Summary {
        repository: format!("{}/{}", pushed.registry.host(), pushed.repository),
        tag: pushed.tag.clone(),
        digest: pushed.digest.to_string(),
        dry_run: settings.dry_run,
        services: Vec::new(),
        errors: Vec::new(),
        error_kind: None,
    };
    let mut kinds = Vec::new();
    for (target, run) in targets.iter().zip(runs) {
        let account = target.account().map(str::to_owned);
        let label = account.as_deref().unwrap_or("the function's own");
        match run {
            Ok(mut run) => {
                kinds.extend(run.error_kind);
                for report in &mut run.services {
                    report.account = account.clone();
                }
                summary.services.extend(run.services);
                summary.errors.extend(
                    run.errors
                        .into_iter()
                        .map(|e| format!("account {label}: {e}")),
                );
            }
            Err(error) => {
                tracing::warn!(account = label, error = %error, "account skipped");
                kinds.push(error.kind());
                summary.errors.push(format!("account {label}: {error}"));
            }
        }
    }
    summary.services.sort_by(|a, b| {
        (&a.account, &a.cluster, &a.service).cmp(&(&b.account, &b.cluster, &b.service))
    });
    summary.error_kind = ErrorKind::of_batch(kinds);
    Ok(summary)
}

/// [`release`] in every target, concurrently, as one release.
pub async fn release_everywhere(
    targets: &[Target],
    settings: &Settings,
    trigger: String,
) -> Result<Release, AwsError> {
    if let [only] = targets
        && only.workload.is_none()
    {
        return release(&only.clients, settings, trigger).await;
    }
    let runs = join_all(targets.iter().map(|target| {
        let trigger = trigger.clone();
        async move {
            // Deferred images are described in the Region they were pushed
            // in, which each rollout's redeploy picks itself.
            if let Some(workload) = &target.workload {
                workload.credentials().await?;
            }
            release(&target.clients, settings, trigger).await
        }
    }))
    .await;
    let mut all = Release {
        trigger,
        dry_run: settings.dry_run,
        rollouts: Vec::new(),
        cleared: Vec::new(),
        errors: Vec::new(),
        error_kind: None,
    };
    let mut kinds = Vec::new();
    for (target, run) in targets.iter().zip(runs) {
        let account = target.account().map(str::to_owned);
        let label = account.as_deref().unwrap_or("the function's own");
        match run {
            Ok(mut run) => {
                kinds.extend(run.error_kind);
                for rollout in &mut run.rollouts {
                    for report in &mut rollout.services {
                        report.account = account.clone();
                    }
                }
                all.rollouts.extend(run.rollouts);
                all.cleared
                    .extend(run.cleared.into_iter().map(|c| format!("{label}: {c}")));
                all.errors.extend(
                    run.errors
                        .into_iter()
                        .map(|e| format!("account {label}: {e}")),
                );
            }
            Err(error) => {
                kinds.push(error.kind());
                all.errors.push(format!("account {label}: {error}"));
            }
        }
    }
    all.error_kind = ErrorKind::of_batch(kinds);
    Ok(all)
}
