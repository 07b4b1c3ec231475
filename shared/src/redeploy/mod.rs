//! Redeploy on push: an image pushed to ECR rolls out to the services that track it.
//!
//! [`redeploy`] reads as a straight script over its modules:
//! - [`push`]: the ECR event read once into the [`plan::PushedImage`] (or
//!   the reason to ignore it), errors naming the field;
//! - `gather`: the services opted in with `autopilot:redeploy` that run the
//!   repository, their task definitions once each, each family's newest
//!   revision, what ECR knows of the images;
//! - [`plan`]: the pure decision per service ([`plan::plan_redeploy`]);
//! - `act`: where each rollout goes (reads), then, unless dry run, register
//!   a revision pinned to the digest (or reuse an equal one) and
//!   `UpdateService` or a CodeDeploy deployment;
//! - [`fleet`]: the same, in each workload account (assumed roles);
//! - [`freeze`]: change calendars; a push bound for a frozen service is
//!   deferred (a tag on the service) and [`freeze::release`]d when the
//!   calendar opens;
//! - [`taskdef`], [`appspec`], [`codedeploy`], [`policy`]: the task-definition
//!   copy, the AppSpec, CodeDeploy's groups and deployments, the tag policy.

mod act;
pub mod appspec;
pub mod codedeploy;
pub mod fleet;
pub mod freeze;
mod gather;
pub mod plan;
pub mod policy;
pub mod push;
pub mod taskdef;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, stream};
use serde::Serialize;

use crate::aws::{AwsError, OnFirstUse};
use crate::calendar::CalendarName;
use crate::discovery::{ClusterScope, DiscoveryLimits, Finder, Source};
use crate::error::{Classify, ErrorKind};
use crate::image::Digest;
use gather::{Revision, Tracked};
use plan::{Decision, PushedImage, RunningImageFacts, ServiceFacts, plan_redeploy};
use policy::{Policy, REDEPLOY_TAG};
use taskdef::{ImageUpdate, plan_images};

/// How a redeploy runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Clusters to search.
    pub scope: ClusterScope,
    /// How tracking services are found (`DISCOVERY`).
    pub discovery: Source,
    /// Independent AWS reads in flight at once.
    pub concurrency: usize,
    /// ECS reads a second after the burst.
    pub read_rate: f64,
    /// ECS reads sent at once before pacing starts.
    pub read_burst: u32,
    /// CodeDeploy hook functions for the AppSpec: `(hook, function)`.
    pub hooks: Vec<(String, String)>,
    /// Log every change, make none.
    pub dry_run: bool,
    /// Change calendars that freeze every service (`FREEZE_CALENDARS`).
    pub freeze_calendars: Vec<CalendarName>,
}

/// The AWS clients a redeploy uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// The Resource Groups Tagging API, to find the services by tag (built
    /// on first use: `DISCOVERY=ecs` never needs it).
    pub tagging: OnFirstUse<aws_sdk_resourcegroupstagging::Client>,
    /// ECR, in the account (and Region) of the pushed image.
    pub ecr: aws_sdk_ecr::Client,
    /// CodeDeploy.
    pub codedeploy: aws_sdk_codedeploy::Client,
    /// Systems Manager, for change calendars (built on first use: most
    /// pushes meet no calendar).
    pub ssm: OnFirstUse<aws_sdk_ssm::Client>,
}

impl Clients {
    /// Every client from one `SdkConfig`.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            tagging: OnFirstUse::new(sdk, aws_sdk_resourcegroupstagging::Client::new),
            ecr: aws_sdk_ecr::Client::new(sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(sdk),
            ssm: OnFirstUse::new(sdk, aws_sdk_ssm::Client::new),
        }
    }

    /// The clients of a workload account: ECS, the Tagging API and
    /// CodeDeploy from `workload` (its assumed role), ECR and Systems Manager
    /// still those of `self`, the account that holds the images and the
    /// change calendars.
    pub fn in_workload_account(&self, workload: &aws_config::SdkConfig) -> Clients {
        Clients {
            ecs: aws_sdk_ecs::Client::new(workload),
            tagging: OnFirstUse::new(workload, aws_sdk_resourcegroupstagging::Client::new),
            codedeploy: aws_sdk_codedeploy::Client::new(workload),
            ecr: self.ecr.clone(),
            ssm: self.ssm.clone(),
        }
    }

    /// Where discovery looks, searching as `source` says.
    pub fn finder(&self, source: Source) -> Finder<'_> {
        Finder {
            ecs: &self.ecs,
            tagging: &self.tagging,
            source,
        }
    }

    /// These clients, with ECR's in `region`: an image pushed in another
    /// Region is described there.
    pub fn with_ecr_in(&self, region: &str) -> Clients {
        let mut clients = self.clone();
        if self.ecr.config().region().map(|r| r.as_ref()) != Some(region) {
            let config = self
                .ecr
                .config()
                .to_builder()
                .region(aws_sdk_ecr::config::Region::new(region.to_owned()))
                .build();
            clients.ecr = aws_sdk_ecr::Client::from_conf(config);
        }
        clients
    }
}

/// What happened to one matched service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new revision was rolled out.
    Deployed,
    /// Nothing to do, with a reason.
    Skipped,
    /// Something went wrong; other services went on.
    Failed,
    /// Dry run: this is what would have been done.
    Planned,
    /// Held back by a closed change calendar, until it opens.
    Deferred,
}

impl Outcome {
    /// The lower-case name used in the summary and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Planned => "planned",
            Outcome::Deferred => "deferred",
        }
    }
}

/// One matched service in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReport {
    /// The workload account, when the function acts in other accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Cluster name.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why, in a sentence.
    pub reason: String,
    /// The containers whose image changes.
    pub containers: Vec<String>,
    /// The task definition rolled out (or that would be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// The CodeDeploy deployment started, or the one already carrying it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The closed calendars that deferred the push, or that an
    /// `autopilot:freeze-override` let it through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze: Option<String>,
    /// Rolled out during a freeze by `autopilot:freeze-override`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub freeze_override: bool,
    /// For a failure, how the caller should react.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
}

/// The result of one push event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `registry/repository`.
    pub repository: String,
    /// The pushed tag.
    pub tag: Option<String>,
    /// The pushed digest.
    pub digest: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One entry per matched service.
    pub services: Vec<ServiceReport>,
    /// Clusters or reads that failed during discovery.
    pub errors: Vec<String>,
    /// How the caller should react to the failures, if any.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
}

impl Summary {
    /// Services with this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.services
            .iter()
            .filter(|s| s.outcome == outcome)
            .count()
    }
}

/// Rolls `pushed` out to every service that tracks it, as a straight script:
/// gather, decide, act.
///
/// 1. Gather: the services opted in with `autopilot:redeploy` that run the
///    pushed repository, their task definitions (each described once), each
///    family's newest revision, and what ECR knows of the pushed and running
///    images.
/// 2. Decide: [`plan::plan_redeploy`] for each service, a pure function.
/// 3. Act: family by family (services sharing a family reuse one new
///    revision), see [`act`]; dry run stops each rollout before its first write.
///
/// IAM: `ecs:ListClusters`, `ecs:ListServices`, `ecs:DescribeServices`,
/// `ecs:DescribeTaskDefinition`, `ecs:ListTaskDefinitions`,
/// `ecs:RegisterTaskDefinition`, `ecs:TagResource`, `ecs:UpdateService`,
/// `ecr:DescribeImages`, the CodeDeploy actions of [`codedeploy`], and
/// `iam:PassRole` for the task and execution roles.
pub async fn redeploy(
    clients: &Clients,
    settings: &Settings,
    mut pushed: PushedImage,
) -> Result<Summary, AwsError> {
    let limits = DiscoveryLimits::with_rate(
        settings.concurrency,
        settings.read_rate,
        settings.read_burst,
    );
    let mut summary = Summary {
        repository: format!("{}/{}", pushed.registry.host(), pushed.repository),
        tag: pushed.tag.clone(),
        digest: pushed.digest.to_string(),
        dry_run: settings.dry_run,
        services: Vec::new(),
        errors: Vec::new(),
        error_kind: None,
    };

    // Gather.
    let gathered = gather::tracking_services(clients, settings, &pushed, &limits).await?;
    summary.errors = gathered.errors;
    let tracked = gathered.tracked;
    if tracked.is_empty() {
        summary.error_kind = ErrorKind::of_batch(gathered.error_kinds);
        return Ok(summary);
    }
    let mut newest = gather::newest_revisions(clients, &tracked, &limits).await;
    let running = running_digests(&pushed, &tracked, &newest);
    let images = match gather::image_facts(clients, &pushed, &running).await {
        Ok(images) => images,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            let reason = format!("{} is no longer in ECR", pushed.digest);
            summary.services = tracked
                .iter()
                .map(|t| act::report(t, Outcome::Skipped, reason.clone()))
                .collect();
            return Ok(summary);
        }
        Err(error) => return Err(error),
    };
    pushed.pushed_at = images.get(&pushed.digest).and_then(|f| f.pushed_at);

    // Decide, then hold back what a closed calendar freezes.
    let Decided {
        mut deploy,
        reports,
    } = decide(&pushed, tracked, &newest, &images);
    summary.services = reports;
    let held = freeze::hold(clients, settings, &pushed, &mut deploy).await;
    summary.services.extend(held.reports);

    // Act.
    let groups = act::DeploymentGroups::new();
    let work: Vec<_> = deploy
        .into_iter()
        .map(|(family, services)| {
            let newest = newest.remove(&family).and_then(Result::ok).flatten();
            (newest, services)
        })
        .collect();
    let acted: Vec<Vec<ServiceReport>> = stream::iter(work)
        .map(|(newest, services)| {
            act::roll_out_family(clients, settings, &pushed, &groups, newest, services)
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    for mut report in acted.into_iter().flatten() {
        if let Some(closed) = held
            .overridden
            .get(&(report.cluster.clone(), report.service.clone()))
        {
            report.freeze = Some(closed.clone());
            report.freeze_override = matches!(report.outcome, Outcome::Deployed | Outcome::Planned);
        }
        summary.services.push(report);
    }
    summary
        .services
        .sort_by(|a, b| (&a.cluster, &a.service).cmp(&(&b.cluster, &b.service)));
    summary.error_kind = ErrorKind::of_batch(
        gathered
            .error_kinds
            .into_iter()
            .chain(summary.services.iter().filter_map(|e| e.error_kind)),
    );
    Ok(summary)
}

/// The digests ECR is asked about beside the pushed one: those the tracking
/// services run, and those of each family's newest revision.
fn running_digests(pushed: &PushedImage, tracked: &[Tracked], newest: &Newest) -> BTreeSet<Digest> {
    tracked
        .iter()
        .flat_map(|t| {
            t.updates
                .iter()
                .chain(&registered_updates(pushed, t, newest))
                .filter_map(|u| u.from.digest().cloned())
                .collect::<Vec<_>>()
        })
        .filter(|d| *d != pushed.digest)
        .collect()
}

type Newest = HashMap<String, Result<Option<Revision>, AwsError>>;

/// What the decision gives: the services to roll out, by family, and the
/// reports of the others.
struct Decided {
    deploy: BTreeMap<String, Vec<Tracked>>,
    reports: Vec<ServiceReport>,
}

/// Decides every tracking service with [`plan_redeploy`], over what was
/// gathered: pure.
fn decide(
    pushed: &PushedImage,
    tracked: Vec<Tracked>,
    newest: &Newest,
    images: &HashMap<Digest, RunningImageFacts>,
) -> Decided {
    let facts_of = |updates: &[ImageUpdate]| -> Vec<RunningImageFacts> {
        updates
            .iter()
            .map(|u| {
                u.from
                    .digest()
                    .and_then(|d| images.get(d))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut decided = Decided {
        deploy: BTreeMap::new(),
        reports: Vec::new(),
    };
    for service in tracked {
        if let Some(Err(error)) = newest.get(&service.current.family) {
            decided.reports.push(act::failed(&service, error));
            continue;
        }
        let facts = ServiceFacts {
            registered: facts_of(&registered_updates(pushed, &service, newest)),
            policy: Policy::parse(
                service
                    .tags
                    .get(REDEPLOY_TAG)
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
            controller: service.controller,
            running: facts_of(&service.updates),
            updates: service.updates.clone(),
        };
        match plan_redeploy(pushed, &facts) {
            Decision::NotMatched => {}
            Decision::Skip(reason) => {
                decided
                    .reports
                    .push(act::report(&service, Outcome::Skipped, reason))
            }
            Decision::Fail(reason) => {
                decided
                    .reports
                    .push(act::refused(&service, reason, ErrorKind::InvalidInput))
            }
            Decision::Deploy => decided
                .deploy
                .entry(service.current.family.clone())
                .or_default()
                .push(service),
        }
    }
    decided
}

/// The images of the family's newest revision that the push would replace,
/// when that revision is not the one the service runs (a rollout already on
/// its way).
fn registered_updates(
    pushed: &PushedImage,
    service: &Tracked,
    newest: &Newest,
) -> Vec<ImageUpdate> {
    match newest.get(&service.current.family) {
        Some(Ok(Some(revision))) if revision.arn != service.current.arn => plan_images(
            &revision.definition,
            &pushed.registry,
            &pushed.repository,
            &pushed.digest,
            service.only.as_deref(),
        ),
        _ => Vec::new(),
    }
}
