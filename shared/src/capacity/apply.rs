//! Gather and act: select the services, read their scalable targets, decide
//! per service, take the steps (none on dry run) and report in a [`Summary`].

use std::collections::{BTreeMap, HashMap};

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use aws_sdk_ecs::types::{Service, Tag};
use futures::{StreamExt, stream};
use tracing::{info, warn};

use super::decide::{Decision, Memory, Observed, Step, capacity_change};
use super::gate::gated;
use super::payload::{Action, ScalingRequest, Selection, Selector, ServiceName};
use super::remembered::{REMEMBERED_CAPACITY_TAG, Suspended, TargetCapacity};
use super::summary::{Outcome, ServiceReport, Summary};
use crate::aws::{AwsError, OnFirstUse};
use crate::calendar;
use crate::discovery::{
    ClusterScope, DiscoveryLimits, Finder, Source, WantedTag, cluster_name, describe_named,
    find_services, service_label, service_tags,
};
use crate::error::{Classify, ErrorKind};
use crate::throttle::RateLimiter;

// Application Auto Scaling: DescribeScalableTargets takes at most 50 ResourceIds a call.
const DESCRIBE_SCALABLE_TARGETS_BATCH: usize = 50;

/// The AWS clients the schedule needs.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS: `ListClusters`, `ListServices`, `DescribeServices`,
    /// `UpdateService`, `TagResource`, `UntagResource`.
    pub ecs: aws_sdk_ecs::Client,
    /// The Resource Groups Tagging API: `GetResources`, for tag selectors
    /// (built on first use).
    pub tagging: OnFirstUse<aws_sdk_resourcegroupstagging::Client>,
    /// Application Auto Scaling: `DescribeScalableTargets`,
    /// `RegisterScalableTarget`.
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// Systems Manager: `GetCalendarState`, for payloads with a calendar
    /// (built on first use).
    pub ssm: OnFirstUse<aws_sdk_ssm::Client>,
}

impl Clients {
    /// Both clients from one `SdkConfig`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            tagging: OnFirstUse::new(sdk, aws_sdk_resourcegroupstagging::Client::new),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(sdk),
            ssm: OnFirstUse::new(sdk, aws_sdk_ssm::Client::new),
        }
    }
}

impl Clients {
    /// The clients of a workload account: ECS, the Tagging API and
    /// Application Auto Scaling from `workload` (its assumed role), Systems
    /// Manager (change calendars) still `self`'s.
    pub fn in_workload_account(&self, workload: &SdkConfig) -> Clients {
        Clients {
            ecs: aws_sdk_ecs::Client::new(workload),
            tagging: OnFirstUse::new(workload, aws_sdk_resourcegroupstagging::Client::new),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(workload),
            ssm: self.ssm.clone(),
        }
    }
}

/// An account a schedule acts in: the function's own (no workload), or a
/// workload account through its assumed role.
#[derive(Debug, Clone)]
pub struct Account {
    /// The clients that act there.
    pub clients: Clients,
    /// The workload account's role; `None` for the function's own account.
    pub workload: Option<crate::accounts::Workload>,
}

/// The accounts `request` acts in: those its `accounts` names, each of
/// which must have a workload role; without `accounts`, every workload
/// account, or `home` when there are none. The error names the field, and
/// comes before any AWS call: a payload cannot make the function assume a
/// role it was not given.
pub fn accounts_of<'a>(
    request: &ScalingRequest,
    home: &'a Account,
    workloads: &'a [Account],
) -> Result<Vec<&'a Account>, crate::events::EventError> {
    let invalid = |path: String, reason: String| crate::events::EventError {
        event: "scheduled-scaling",
        path,
        reason,
    };
    if request.accounts.is_empty() {
        return Ok(if workloads.is_empty() {
            vec![home]
        } else {
            workloads.iter().collect()
        });
    }
    if workloads.is_empty() {
        return Err(invalid(
            "accounts".into(),
            "this function has no TARGET_ROLE_ARNS: it acts in its own account only".into(),
        ));
    }
    request
        .accounts
        .iter()
        .enumerate()
        .map(|(i, id)| {
            workloads
                .iter()
                .find(|a| a.workload.as_ref().is_some_and(|w| w.account() == id))
                .ok_or_else(|| {
                    invalid(
                        format!("accounts[{i}]"),
                        format!("account {id} has no role in TARGET_ROLE_ARNS"),
                    )
                })
        })
        .collect()
}

/// [`apply_schedule`] in each account, concurrently, as one summary: each
/// service names its `account` (in workload accounts), and an account whose
/// role cannot be assumed is one of the summary's errors, with nothing
/// changed there.
pub async fn apply_in_accounts(
    accounts: &[&Account],
    request: &ScalingRequest,
    options: RunOptions,
) -> Summary {
    if let [only] = accounts
        && only.workload.is_none()
    {
        return apply_schedule(&only.clients, request, options).await;
    }
    let runs = futures::future::join_all(accounts.iter().map(|account| async move {
        if let Some(workload) = &account.workload {
            workload.credentials().await?;
        }
        Ok::<_, AwsError>(apply_schedule(&account.clients, request, options).await)
    }))
    .await;
    let mut summary = Summary::new(request.action.name(), options.dry_run);
    for (account, run) in accounts.iter().zip(runs) {
        let id = account.workload.as_ref().map(|w| w.account().to_owned());
        let label = id.as_deref().unwrap_or("the function's own");
        match run {
            Ok(mut run) => {
                for report in &mut run.services {
                    report.account = id.clone();
                }
                summary.services.extend(run.services);
                summary.errors.extend(
                    run.errors
                        .into_iter()
                        .map(|e| format!("account {label}: {e}")),
                );
                summary.error_kinds.extend(run.error_kinds);
                if summary.calendar.is_none() {
                    summary.calendar = run.calendar;
                }
                summary.action = run.action;
            }
            Err(error) => {
                warn!(account = label, error = %error, "account skipped");
                summary.error_kinds.push(error.kind());
                summary.errors.push(format!("account {label}: {error}"));
            }
        }
    }
    summary.finish();
    summary
}

/// How to run a schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Make no change; report `planned`.
    pub dry_run: bool,
    /// Services (and read batches) handled at once.
    pub concurrency: usize,
    /// ECS reads a second after the burst (see [`DiscoveryLimits::with_rate`]).
    pub read_rate: f64,
    /// ECS reads sent before pacing starts.
    pub read_burst: u32,
    /// How a selector's services are found (`DISCOVERY`).
    pub discovery: Source,
}

impl RunOptions {
    /// `concurrency` services at once, ECS reads paced at the defaults of
    /// [`crate::discovery`].
    pub fn new(dry_run: bool, concurrency: usize) -> Self {
        RunOptions {
            dry_run,
            concurrency,
            read_rate: crate::discovery::DEFAULT_READ_RATE,
            read_burst: crate::discovery::DEFAULT_READ_BURST,
            discovery: Source::Tags,
        }
    }
}

// A selected, described service.
struct Selected {
    label: String,
    cluster: String,
    name: String,
    arn: String,
    desired: i32,
    memory: Memory,
}

impl Selected {
    fn resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.name)
    }
}

// What selection gave: services to handle, services already failed, errors
// that cannot be tied to a service.
#[derive(Default)]
struct Gathered {
    services: Vec<Selected>,
    failed: Vec<ServiceReport>,
    errors: Vec<AwsError>,
}

fn selected(service: &Service) -> Result<Selected, Box<ServiceReport>> {
    let label = service_label(service);
    let arn = service.service_arn().ok_or_else(|| {
        let error = AwsError::missing_field("describe", format!("service {label}"), "serviceArn");
        Box::new(ServiceReport::failed(
            label.clone(),
            None,
            error.kind(),
            error.to_string(),
        ))
    })?;
    Ok(Selected {
        cluster: cluster_name(service.cluster_arn().unwrap_or_default()).to_owned(),
        name: service.service_name().unwrap_or_default().to_owned(),
        arn: arn.to_owned(),
        desired: service.desired_count(),
        memory: Memory::from_tags(&service_tags(service)),
        label,
    })
}

fn is_active(service: &Service) -> bool {
    service.status() == Some("ACTIVE")
}

// Explicit names: described cluster by cluster, so that a cluster that cannot
// be read fails exactly its own services.
async fn select_named(
    ecs: &aws_sdk_ecs::Client,
    names: &[ServiceName],
    limits: &DiscoveryLimits,
) -> Gathered {
    let mut by_cluster: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for name in names {
        by_cluster
            .entry(&name.cluster)
            .or_default()
            .push((name.cluster.clone(), name.service.clone()));
    }
    let described: Vec<_> = stream::iter(by_cluster)
        .map(|(cluster, names)| async move {
            let found = describe_named(ecs, &names, limits).await;
            (cluster, names, found)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await;
    let mut selection = Gathered::default();
    for (cluster, names, found) in described {
        let by_label: HashMap<String, &Service> = found
            .services
            .iter()
            .map(|s| (service_label(s), s))
            .collect();
        let cluster_kind = if found.errors.iter().all(|e| e.kind().is_retryable()) {
            ErrorKind::Retryable
        } else if found.errors.iter().all(|e| e.kind() == ErrorKind::NotFound) {
            ErrorKind::NotFound
        } else {
            ErrorKind::Unexpected
        };
        let cluster_error = found
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        for (_, service) in names {
            let label = format!("{cluster}/{service}");
            match by_label.get(&label) {
                Some(s) if is_active(s) => match selected(s) {
                    Ok(s) => selection.services.push(s),
                    Err(report) => selection.failed.push(*report),
                },
                Some(s) => selection.failed.push(ServiceReport::failed(
                    label,
                    None,
                    ErrorKind::NotFound,
                    format!(
                        "service is {}, not ACTIVE",
                        s.status().unwrap_or("of unknown status")
                    ),
                )),
                None if found.missing.contains(&label) => {
                    selection.failed.push(ServiceReport::failed(
                        label,
                        None,
                        ErrorKind::NotFound,
                        format!("service not found in cluster {cluster}"),
                    ))
                }
                None if !found.errors.is_empty() => selection.failed.push(ServiceReport::failed(
                    label,
                    None,
                    cluster_kind,
                    cluster_error.clone(),
                )),
                None => selection.failed.push(ServiceReport::failed(
                    label,
                    None,
                    ErrorKind::Unexpected,
                    "DescribeServices returned neither the service nor a failure for it".to_owned(),
                )),
            }
        }
    }
    selection
}

async fn select_by_selector(
    finder: Finder<'_>,
    selector: &Selector,
    limits: &DiscoveryLimits,
) -> Gathered {
    let scope = ClusterScope::from_list(selector.clusters.clone());
    let mut selection = Gathered::default();
    let wanted: Vec<WantedTag> = selector
        .tags
        .iter()
        .map(|(key, value)| WantedTag::value(key, value))
        .collect();
    let found = match find_services(finder, &scope, &wanted, limits, |s| {
        is_active(s) && selector.matches(&service_tags(s))
    })
    .await
    {
        Ok(found) => found,
        Err(error) => {
            selection.errors.push(error);
            return selection;
        }
    };
    if !found.missing.is_empty() {
        // Listed, then gone before being described: deleted meanwhile.
        tracing::debug!(missing = ?found.missing, "services disappeared during selection");
    }
    selection.errors = found.errors;
    for service in &found.services {
        match selected(service) {
            Ok(s) => selection.services.push(s),
            Err(report) => selection.failed.push(*report),
        }
    }
    selection
}

// A batch of resource ids and what DescribeScalableTargets said about them.
type TargetBatch = (Vec<String>, Result<Vec<ScalableTarget>, AwsError>);

// The scalable targets of these resource ids, 50 ids a call, batches read
// concurrently. A batch that fails is reported for each of its ids.
async fn describe_targets(
    autoscaling: &aws_sdk_applicationautoscaling::Client,
    resource_ids: Vec<String>,
    concurrency: usize,
) -> HashMap<String, Result<Option<TargetCapacity>, AwsError>> {
    let batches: Vec<Vec<String>> = resource_ids
        .chunks(DESCRIBE_SCALABLE_TARGETS_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    let answers: Vec<TargetBatch> = stream::iter(batches)
        .map(|ids| async move {
            let mut pages = autoscaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .set_resource_ids(Some(ids.clone()))
                .into_paginator()
                .send();
            let mut targets = Vec::new();
            while let Some(page) = pages.next().await {
                match page {
                    Ok(page) => targets.extend(page.scalable_targets().iter().cloned()),
                    Err(e) => {
                        let error = AwsError::new(
                            "describe scalable targets of",
                            format!("{} ECS services", ids.len()),
                            &e,
                        );
                        return (ids, Err(error));
                    }
                }
            }
            (ids, Ok(targets))
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut by_id = HashMap::new();
    for (ids, answer) in answers {
        match answer {
            Ok(targets) => {
                let found: HashMap<&str, &ScalableTarget> =
                    targets.iter().map(|t| (t.resource_id(), t)).collect();
                for id in ids {
                    let target = found.get(id.as_str()).map(|t| TargetCapacity {
                        min: t.min_capacity(),
                        max: t.max_capacity(),
                        suspended: Suspended::from_sdk(t.suspended_state()),
                    });
                    by_id.insert(id, Ok(target));
                }
            }
            Err(error) => {
                for id in ids {
                    by_id.insert(id, Err(error.clone()));
                }
            }
        }
    }
    by_id
}

// Paces writes under the APIs' throttling limits.
struct WriteLimits {
    // ECS service modify (UpdateService): 50 burst, 5 per second per account
    // and Region; half the burst leaves room for deployments running meanwhile.
    update_service: RateLimiter,
    // TagResource / UntagResource, RegisterScalableTarget: no documented
    // rates in our contracts; paced the same, the SDK retries throttling.
    tagging: RateLimiter,
    autoscaling: RateLimiter,
}

impl WriteLimits {
    fn new() -> Self {
        WriteLimits {
            update_service: RateLimiter::new(5.0, 25),
            tagging: RateLimiter::new(5.0, 25),
            autoscaling: RateLimiter::new(5.0, 25),
        }
    }
}

async fn take_step(
    clients: &Clients,
    limits: &WriteLimits,
    service: &Selected,
    step: &Step,
) -> Result<(), AwsError> {
    let resource = format!("service {}", service.label);
    match step {
        Step::Remember(remembered) => {
            limits.tagging.acquire().await;
            clients
                .ecs
                .tag_resource()
                .resource_arn(&service.arn)
                .tags(
                    Tag::builder()
                        .key(REMEMBERED_CAPACITY_TAG)
                        .value(remembered.encode())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::new("remember the capacity of", &resource, &e))?;
        }
        Step::RegisterTarget(target) => {
            limits.autoscaling.acquire().await;
            clients
                .autoscaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(service.resource_id())
                .min_capacity(target.min)
                .max_capacity(target.max)
                .suspended_state(target.suspended.to_sdk())
                .send()
                .await
                .map_err(|e| AwsError::new("register the scalable target of", &resource, &e))?;
        }
        Step::SetDesired(desired) => {
            limits.update_service.acquire().await;
            clients
                .ecs
                .update_service()
                .cluster(&service.cluster)
                .service(&service.name)
                .desired_count(*desired)
                .send()
                .await
                .map_err(|e| AwsError::new("set the desired count of", &resource, &e))?;
        }
        Step::Forget => {
            limits.tagging.acquire().await;
            clients
                .ecs
                .untag_resource()
                .resource_arn(&service.arn)
                .tag_keys(REMEMBERED_CAPACITY_TAG)
                .send()
                .await
                .map_err(|e| AwsError::new("forget the remembered capacity of", &resource, &e))?;
        }
    }
    Ok(())
}

async fn scale_one(
    clients: &Clients,
    limits: &WriteLimits,
    action: &Action,
    dry_run: bool,
    service: Selected,
    target: Result<Option<TargetCapacity>, AwsError>,
) -> ServiceReport {
    let target = match target {
        Ok(target) => target,
        Err(error) => {
            return ServiceReport::failed(service.label, None, error.kind(), error.to_string());
        }
    };
    let observed = Observed {
        desired: service.desired,
        target,
        memory: service.memory.clone(),
    };
    let before = observed.capacity();
    let decision = capacity_change(action, &observed);
    let outcome = decision.outcome_without_acting(dry_run);
    let report = match (decision, outcome) {
        (Decision::Change { after, reason, .. }, Some(outcome)) => ServiceReport {
            account: None,
            service: service.label.clone(),
            outcome,
            reason: format!("would {reason}"),
            before: Some(before),
            after: Some(after),
            error_type: None,
            kind: None,
        },
        (
            Decision::Change {
                after,
                steps,
                reason,
            },
            None,
        ) => {
            let mut done: Vec<String> = Vec::new();
            let mut failure = None;
            for step in &steps {
                match take_step(clients, limits, &service, step).await {
                    Ok(()) => done.push(step.to_string()),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
            match failure {
                None => ServiceReport {
                    account: None,
                    service: service.label.clone(),
                    outcome: Outcome::Changed,
                    reason,
                    before: Some(before),
                    after: Some(after),
                    error_type: None,
                    kind: None,
                },
                Some(error) => {
                    let mut reason = error.to_string();
                    if !done.is_empty() {
                        reason.push_str(&format!(" (done before it: {})", done.join("; ")));
                    }
                    ServiceReport::failed(service.label.clone(), Some(before), error.kind(), reason)
                }
            }
        }
        (Decision::Refuse { reason }, _) => ServiceReport::failed(
            service.label.clone(),
            Some(before),
            ErrorKind::Unexpected,
            reason,
        ),
        (Decision::Unchanged { reason } | Decision::Skip { reason }, outcome) => ServiceReport {
            account: None,
            service: service.label.clone(),
            outcome: outcome.unwrap_or(Outcome::Unchanged),
            reason,
            before: Some(before),
            after: Some(before),
            error_type: None,
            kind: None,
        },
    };
    match report.outcome {
        Outcome::Failed => warn!(
            service = %report.service,
            action = action.name(),
            reason = %report.reason,
            "scaling failed"
        ),
        outcome => info!(
            service = %report.service,
            action = action.name(),
            outcome = outcome.as_str(),
            before = %before,
            after = %report.after.map(|a| a.to_string()).unwrap_or_default(),
            reason = %report.reason,
            "scaled"
        ),
    }
    report
}

/// Runs a schedule: selects the services, reads their scalable targets,
/// decides with [`capacity_change`] and acts, `options.concurrency` services
/// at a time. One service failing never stops the others; every service and
/// every selection error is in the [`Summary`] (see [`Summary::failure`]).
///
/// AWS calls, per invocation:
/// - selection by name: `ecs:DescribeServices` per cluster and 10 services;
///   by selector, by tag: `tag:GetResources` per 100 tagged services, then
///   `ecs:DescribeServices` per cluster and 10 of them; by listing
///   (`DISCOVERY=ecs`): `ecs:ListClusters` (without `clusters`),
///   `ecs:ListServices` per cluster and 100 services, `ecs:DescribeServices`
///   per 10 services;
/// - `application-autoscaling:DescribeScalableTargets` per 50 services;
/// - per service, only as decided (none on dry run): `ecs:TagResource`
///   (remember), `application-autoscaling:RegisterScalableTarget`,
///   `ecs:UpdateService` (desired count), `ecs:UntagResource` (forget).
pub async fn apply_schedule(
    clients: &Clients,
    request: &ScalingRequest,
    options: RunOptions,
) -> Summary {
    let concurrency = options.concurrency.max(1);
    let limits = DiscoveryLimits::with_rate(concurrency, options.read_rate, options.read_burst);
    let mut summary = Summary::new(request.action.name(), options.dry_run);

    // The calendar gate: a closed calendar skips or replaces the action.
    let mut action = request.action;
    if let Some(gate) = &request.calendar {
        match calendar::states(clients.ssm.get(), &gate.calendars).await {
            Ok(states) => {
                let gated = gated(request.action, gate, &states);
                info!(reason = %gated.note.reason, "calendar gate");
                summary.calendar = Some(gated.note);
                match gated.action {
                    Some(instead) => action = instead,
                    None => {
                        summary.finish();
                        return summary;
                    }
                }
                summary.action = action.name();
            }
            Err(error) => {
                // Nothing changes while the calendar cannot be told.
                warn!(error = %error, "calendar unreadable");
                summary.error_kinds.push(error.kind());
                summary.errors.push(error.to_string());
                summary.finish();
                return summary;
            }
        }
    }

    let selection = match &request.selection {
        Selection::Services(names) => select_named(&clients.ecs, names, &limits).await,
        Selection::Selector(selector) => {
            let finder = Finder {
                ecs: &clients.ecs,
                tagging: &clients.tagging,
                source: options.discovery,
            };
            select_by_selector(finder, selector, &limits).await
        }
    };
    for error in &selection.errors {
        warn!(error = %error, "selection incomplete");
    }
    summary.error_kinds = selection.errors.iter().map(Classify::kind).collect();
    summary.errors = selection.errors.iter().map(ToString::to_string).collect();
    summary.services = selection.failed;

    let resource_ids = selection
        .services
        .iter()
        .map(Selected::resource_id)
        .collect();
    let mut targets = describe_targets(&clients.autoscaling, resource_ids, concurrency).await;

    let writes = WriteLimits::new();
    let reports: Vec<ServiceReport> =
        stream::iter(selection.services)
            .map(|service| {
                let target = targets.remove(&service.resource_id()).unwrap_or(Ok(None));
                let writes = &writes;
                async move {
                    scale_one(clients, writes, &action, options.dry_run, service, target).await
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    summary.services.extend(reports);
    summary.finish();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Targets, workloads};
    use crate::config::Env;
    use serde_json::json;

    fn accounts(roles: &str) -> (Account, Vec<Account>) {
        let sdk = crate::aws::offline_sdk_config("eu-west-1");
        let clients = Clients::new(&sdk);
        let targets = Targets::from_env(&Env::from_pairs([
            ("TARGET_ROLE_ARNS", roles),
            ("TARGET_EXTERNAL_ID", "external-id"),
        ]))
        .unwrap();
        let workloads = workloads(&sdk, &targets, "scheduled-scaling")
            .into_iter()
            .map(|w| Account {
                clients: clients.in_workload_account(&w.sdk),
                workload: Some(w),
            })
            .collect();
        let home = Account {
            clients,
            workload: None,
        };
        (home, workloads)
    }

    fn ids(selected: &[&Account]) -> Vec<String> {
        selected
            .iter()
            .map(|a| {
                a.workload
                    .as_ref()
                    .map_or("home".into(), |w| w.account().to_owned())
            })
            .collect()
    }

    #[test]
    fn the_payload_picks_among_the_target_accounts_only() {
        let two = "arn:aws:iam::222222222222:role/s,arn:aws:iam::333333333333:role/s";
        let payload = |accounts: Option<&[&str]>| {
            let mut p = json!({"action": "restore", "selector": {"tags": {"k": "v"}}});
            if let Some(a) = accounts {
                p["accounts"] = json!(a);
            }
            ScalingRequest::parse(p).unwrap()
        };
        // (TARGET_ROLE_ARNS, the payload's accounts, the accounts or the bad field)
        type Case<'a> = (
            &'a str,
            Option<&'a [&'a str]>,
            Result<Vec<&'a str>, &'a str>,
        );
        let cases: Vec<Case> = vec![
            ("", None, Ok(vec!["home"])),
            ("", Some(&["222222222222"]), Err("accounts")),
            (two, None, Ok(vec!["222222222222", "333333333333"])),
            (two, Some(&["333333333333"]), Ok(vec!["333333333333"])),
            (
                two,
                Some(&["333333333333", "444444444444"]),
                Err("accounts[1]"),
            ),
        ];
        for (roles, wanted, expected) in cases {
            let (home, workloads) = accounts(roles);
            let got = accounts_of(&payload(wanted), &home, &workloads);
            match (got, expected) {
                (Ok(selected), Ok(want)) => assert_eq!(ids(&selected), want, "{roles} {wanted:?}"),
                (Err(error), Err(path)) => {
                    assert_eq!(error.path, path, "{roles} {wanted:?}: {error}");
                    assert_eq!(error.kind(), ErrorKind::InvalidInput);
                }
                (got, want) => panic!(
                    "{roles} {wanted:?}: got {:?}, want {want:?}",
                    got.map(|s| ids(&s))
                ),
            }
        }
    }
}
