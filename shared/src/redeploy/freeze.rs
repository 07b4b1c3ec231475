//! Freeze windows: while a service's change calendar is `CLOSED`, a push
//! that would roll it out is deferred, never lost, never rolled out early,
//! never backwards.
//!
//! - A service is frozen by the calendars of the function (`FREEZE_CALENDARS`)
//!   and its own `autopilot:calendar` tag (names or document ARNs, separated
//!   by spaces: a tag value cannot hold a comma), read with
//!   `GetCalendarState` ([`crate::calendar`]). A calendar that cannot be
//!   read freezes: nothing rolls out that a freeze might forbid.
//! - The deferral is a tag on the service, one per container,
//!   `autopilot:deferred:<container>` = `<pushed at> <image>`, such as
//!   `2026-12-04T17:10:00Z 123456789012.dkr.ecr.eu-west-1.amazonaws.com/backend:v1.4.0@sha256:...`:
//!   visible where an operator looks (the console, `list-tags-for-resource`),
//!   kept by ECS across any number of cold starts, and gone with the
//!   service. Only a newer push replaces it (ECR's push time), so an older or
//!   duplicate push during a freeze changes nothing.
//! - [`release`] rolls every deferred image out through [`super::redeploy`],
//!   exactly as a push of it would (digest pinning, the intact task
//!   definition, idempotence, never backwards); a service still frozen stays
//!   deferred; the tag is removed once the service runs the image or a newer
//!   one. It runs on Change Calendar's "Calendar State Change" event to
//!   `OPEN`, and on a schedule as the backstop (AWS documents that the
//!   events may be missed or duplicated around edits).
//! - `autopilot:freeze-override` = a digest lets that one image through a
//!   freeze; the summary, the logs and the `FreezeOverrides` metric say so.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::Tag;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use super::gather::Tracked;
use super::plan::PushedImage;
use super::{Clients, Outcome, ServiceReport, Settings, Summary, act, redeploy};
use crate::aws::AwsError;
use crate::calendar::{self, CalendarName, CalendarState};
use crate::discovery::{DiscoveryLimits, WantedTag, cluster_name, find_services, service_tags};
use crate::error::{Classify, ErrorKind};
use crate::image::{Digest, ImageRef};

/// The service tag naming its change calendars.
pub const CALENDAR_TAG: &str = "autopilot:calendar";
/// The service tag letting one digest through a freeze.
pub const OVERRIDE_TAG: &str = "autopilot:freeze-override";
/// The prefix of the deferral tags, followed by the container name.
pub const DEFERRED_PREFIX: &str = "autopilot:deferred:";
/// ECS tag limits: keys of 128 characters, values of 256.
const TAG_KEY_MAX: usize = 128;
const TAG_VALUE_MAX: usize = 256;

/// A push held back by a freeze, as kept in a deferral tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Deferral {
    /// When ECR says the image was pushed.
    pub pushed_at: DateTime,
    /// `registry/repository:tag@digest`.
    pub image: ImageRef,
}

impl Deferral {
    /// The deferral of `pushed`, which must carry its tag and push time.
    pub fn of(pushed: &PushedImage) -> Result<Deferral, String> {
        let pushed_at = pushed
            .pushed_at
            .ok_or_else(|| format!("ECR gives no push time for {}", pushed.digest))?;
        let tag = pushed
            .tag
            .as_deref()
            .map_or(String::new(), |t| format!(":{t}"));
        let reference = format!(
            "{}/{}{tag}@{}",
            pushed.registry.host(),
            pushed.repository,
            pushed.digest
        );
        let image = ImageRef::parse(&reference).map_err(|e| e.to_string())?;
        Ok(Deferral { pushed_at, image })
    }

    /// `<pushed at> <image>`, checked against the tag-value limit.
    pub fn tag_value(&self) -> Result<String, String> {
        let at = self
            .pushed_at
            .fmt(Format::DateTime)
            .map_err(|e| e.to_string())?;
        let value = format!("{at} {}", self.image);
        if value.len() > TAG_VALUE_MAX {
            return Err(format!(
                "the deferral of {} is {} characters, more than an ECS tag value holds ({TAG_VALUE_MAX})",
                self.image,
                value.len()
            ));
        }
        Ok(value)
    }

    /// Reads a deferral tag's value.
    pub fn parse(value: &str) -> Result<Deferral, String> {
        let (at, image) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("{value:?} is not \"<pushed at> <image>\""))?;
        let pushed_at = DateTime::from_str(at, Format::DateTime)
            .map_err(|_| format!("{at:?} is not an RFC 3339 time"))?;
        let image = ImageRef::parse(image).map_err(|e| e.to_string())?;
        if image.digest().is_none() || image.ecr_registry().is_none() {
            return Err(format!("{image} is not an ECR image pinned by digest"));
        }
        Ok(Deferral { pushed_at, image })
    }

    /// The push this deferral holds back, as [`super::redeploy`] takes it
    /// (the push time is read from ECR again).
    pub fn pushed(&self) -> Option<PushedImage> {
        Some(PushedImage {
            registry: self.image.ecr_registry()?,
            repository: self.image.repository().to_owned(),
            tag: self.image.tag().map(str::to_owned),
            digest: self.image.digest()?.clone(),
            pushed_at: None,
        })
    }

    /// The held digest.
    pub fn digest(&self) -> Option<&Digest> {
        self.image.digest()
    }
}

/// The deferral tag key of `container`.
pub fn deferred_key(container: &str) -> Result<String, String> {
    let key = format!("{DEFERRED_PREFIX}{container}");
    if key.len() > TAG_KEY_MAX {
        return Err(format!(
            "container name {container:?} is too long for a deferral tag key ({TAG_KEY_MAX} characters with {DEFERRED_PREFIX:?})"
        ));
    }
    Ok(key)
}

/// The calendars that freeze a service: the function's, then those of its
/// `autopilot:calendar` tag, without repeats.
pub fn calendars_of(
    tags: &BTreeMap<String, String>,
    function: &[CalendarName],
) -> Result<Vec<CalendarName>, String> {
    let mut calendars = function.to_vec();
    if let Some(value) = tags.get(CALENDAR_TAG) {
        let own = CalendarName::parse_list(value).map_err(|e| format!("{CALENDAR_TAG}: {e}"))?;
        for calendar in own {
            if !calendars.contains(&calendar) {
                calendars.push(calendar);
            }
        }
    }
    Ok(calendars)
}

/// What a freeze does to a push bound for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// No calendar is closed: roll out.
    Open,
    /// Closed, but `autopilot:freeze-override` names this digest: roll out,
    /// and say which freeze was overridden.
    Override(String),
    /// Closed: defer, saying why.
    Defer(String),
}

/// The freeze's verdict for `digest` on a service with `calendars` and
/// `tags`, given the calendars' states: pure.
pub fn gate(
    digest: &Digest,
    tags: &BTreeMap<String, String>,
    calendars: &[CalendarName],
    states: &BTreeMap<CalendarName, CalendarState>,
) -> Gate {
    let states: Vec<CalendarState> = calendars
        .iter()
        .filter_map(|c| states.get(c).cloned())
        .collect();
    let Some(closed) = calendar::closed(&states) else {
        return Gate::Open;
    };
    let overridden = tags
        .get(OVERRIDE_TAG)
        .is_some_and(|d| d.trim() == digest.as_str());
    if overridden {
        Gate::Override(closed)
    } else {
        Gate::Defer(closed)
    }
}

/// What becomes of a service's existing deferral when `new` is deferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    /// None yet, or an older one: write `new`.
    Write,
    /// The same image is already deferred (a duplicate event).
    Same,
    /// A newer push is already deferred: `new` never overtakes it.
    Newer(String),
}

/// Whether `new` replaces `existing` (ECR's push times decide): pure.
pub fn replace(new: &Deferral, existing: Option<&Deferral>) -> Replace {
    match existing {
        None => Replace::Write,
        Some(existing) if existing.digest() == new.digest() => Replace::Same,
        Some(existing) if existing.pushed_at > new.pushed_at => {
            Replace::Newer(existing.image.to_string())
        }
        Some(_) => Replace::Write,
    }
}

/// Holds back the services of `deploy` that a closed calendar freezes:
/// their reports (deferred, or failed when a calendar cannot be read) are
/// returned and they leave `deploy`; services let through by an override
/// stay, and their names are returned with the freeze they overrode.
///
/// IAM: `ssm:GetCalendarState`; `ecs:TagResource` (not on a dry run).
pub(super) async fn hold(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    deploy: &mut BTreeMap<String, Vec<Tracked>>,
) -> Held {
    let mut held = Held::default();
    let mut calendars: BTreeMap<(String, String), Vec<CalendarName>> = BTreeMap::new();
    for service in deploy.values().flatten() {
        match calendars_of(&service.tags, &settings.freeze_calendars) {
            Ok(list) if list.is_empty() => {}
            Ok(list) => {
                calendars.insert(key(service), list);
            }
            Err(reason) => {
                held.failed.insert(key(service), reason);
            }
        }
    }
    if calendars.is_empty() && held.failed.is_empty() {
        return held;
    }
    let distinct: Vec<CalendarName> = calendars
        .values()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let states = calendar::states(clients.ssm.get(), &distinct).await;
    for services in deploy.values_mut() {
        let mut keep = Vec::new();
        for service in services.drain(..) {
            if let Some(reason) = held.failed.remove(&key(&service)) {
                held.reports.push(act::refused(
                    &service,
                    format!("{reason} (nothing rolls out while its freeze cannot be told)"),
                    ErrorKind::InvalidInput,
                ));
                continue;
            }
            let Some(list) = calendars.get(&key(&service)) else {
                keep.push(service);
                continue;
            };
            let states = match &states {
                Ok(states) => states,
                Err(error) => {
                    let mut report = act::failed(&service, error);
                    report.reason = format!(
                        "{} (nothing rolls out while its freeze cannot be told)",
                        report.reason
                    );
                    held.reports.push(report);
                    continue;
                }
            };
            match gate(&pushed.digest, &service.tags, list, states) {
                Gate::Open => keep.push(service),
                Gate::Override(closed) => {
                    tracing::warn!(
                        cluster = %service.cluster,
                        service = %service.name,
                        digest = %pushed.digest,
                        freeze = %closed,
                        "freeze overridden by {OVERRIDE_TAG}"
                    );
                    held.overridden.insert(key(&service), closed);
                    keep.push(service);
                }
                Gate::Defer(closed) => {
                    held.reports
                        .push(defer(clients, settings, pushed, &service, closed).await);
                }
            }
        }
        *services = keep;
    }
    deploy.retain(|_, services| !services.is_empty());
    held
}

/// What [`hold`] did.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// Reports of the services held back.
    pub reports: Vec<ServiceReport>,
    /// `(cluster, service)` let through by an override, with the freeze.
    pub overridden: BTreeMap<(String, String), String>,
    failed: BTreeMap<(String, String), String>,
}

fn key(service: &Tracked) -> (String, String) {
    (service.cluster.clone(), service.name.clone())
}

/// Records the deferral of `pushed` on `service` (unless an equal or newer
/// one is there).
///
/// IAM: `ecs:TagResource` (not on a dry run).
async fn defer(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    service: &Tracked,
    closed: String,
) -> ServiceReport {
    let refuse = |reason: String| act::refused(service, reason, ErrorKind::InvalidInput);
    let deferral = match Deferral::of(pushed) {
        Ok(deferral) => deferral,
        Err(reason) => return refuse(reason),
    };
    let value = match deferral.tag_value() {
        Ok(value) => value,
        Err(reason) => return refuse(reason),
    };
    let mut tags = Vec::new();
    let mut newer = None;
    for update in &service.updates {
        let key = match deferred_key(&update.container) {
            Ok(key) => key,
            Err(reason) => return refuse(reason),
        };
        let existing = service.tags.get(&key).and_then(|v| Deferral::parse(v).ok());
        match replace(&deferral, existing.as_ref()) {
            Replace::Write => tags.push(Tag::builder().key(key).value(&value).build()),
            Replace::Same => {}
            Replace::Newer(image) => newer = Some(image),
        }
    }
    // A report of `service` held by the freeze `closed`, which it names.
    let held = |outcome, what: String| {
        let mut report = act::report(service, outcome, format!("{closed}; {what}"));
        report.freeze = Some(closed.clone());
        report
    };
    if let Some(image) = newer {
        return held(
            Outcome::Skipped,
            format!(
                "{image}, pushed after {}, is already deferred and rolls out instead",
                pushed.digest
            ),
        );
    }
    if tags.is_empty() {
        return held(
            Outcome::Deferred,
            format!("{} is already deferred", deferral.image),
        );
    }
    if settings.dry_run {
        return held(Outcome::Planned, format!("would defer {}", deferral.image));
    }
    let resource = format!("service {}/{}", service.cluster, service.name);
    let written = clients
        .ecs
        .tag_resource()
        .resource_arn(&service.arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| AwsError::new("record the deferral on", &resource, &e));
    match written {
        Ok(_) => {
            tracing::info!(
                cluster = %service.cluster,
                service = %service.name,
                image = %deferral.image,
                freeze = %closed,
                "push deferred"
            );
            held(
                Outcome::Deferred,
                format!("{} rolls out when it opens", deferral.image),
            )
        }
        Err(error) => act::failed(service, &error),
    }
}

/// What a release did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// What started it: a calendar opening, or the sweep.
    pub trigger: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One redeploy per deferred image, as a push of it would give.
    pub rollouts: Vec<Summary>,
    /// The deferral tags removed, `cluster/service: key`.
    pub cleared: Vec<String>,
    /// Services, tags or reads that failed.
    pub errors: Vec<String>,
    /// How the caller should react to the failures, if any.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
}

/// One deferral tag on one service.
struct Holder {
    cluster: String,
    service: String,
    arn: String,
    key: String,
}

/// Rolls every deferred image out, as a push of it would, and clears the
/// deferrals of the services now running it (or a newer image).
///
/// IAM: those of [`super::redeploy`], `ssm:GetCalendarState`,
/// `ecs:UntagResource`.
pub async fn release(
    clients: &Clients,
    settings: &Settings,
    trigger: String,
) -> Result<Release, AwsError> {
    let limits = DiscoveryLimits::with_rate(
        settings.concurrency,
        settings.read_rate,
        settings.read_burst,
    );
    // A deferral's key holds the container's name, and the Tagging API
    // filters on whole keys: search the tracking services, keep the deferred.
    let discovered = find_services(
        clients.finder(settings.discovery),
        &settings.scope,
        &[WantedTag::key(super::policy::REDEPLOY_TAG)],
        &limits,
        |s| {
            s.tags()
                .iter()
                .any(|t| t.key().is_some_and(|k| k.starts_with(DEFERRED_PREFIX)))
        },
    )
    .await?;
    let mut release = Release {
        trigger,
        dry_run: settings.dry_run,
        rollouts: Vec::new(),
        cleared: Vec::new(),
        errors: discovered.errors.iter().map(ToString::to_string).collect(),
        error_kind: None,
    };
    let mut kinds: Vec<ErrorKind> = discovered.errors.iter().map(Classify::kind).collect();

    // Gather: the deferred images, each with the tags that hold it.
    let mut images: BTreeMap<String, (Deferral, Vec<Holder>)> = BTreeMap::new();
    for service in &discovered.services {
        let (Some(arn), Some(cluster), Some(name)) = (
            service.service_arn(),
            service.cluster_arn(),
            service.service_name(),
        ) else {
            continue;
        };
        for (key, value) in service_tags(service) {
            if !key.starts_with(DEFERRED_PREFIX) {
                continue;
            }
            let cluster = cluster_name(cluster).to_owned();
            match Deferral::parse(&value) {
                Ok(deferral) => {
                    let holder = Holder {
                        cluster,
                        service: name.to_owned(),
                        arn: arn.to_owned(),
                        key,
                    };
                    images
                        .entry(deferral.image.to_string())
                        .or_insert_with(|| (deferral, Vec::new()))
                        .1
                        .push(holder);
                }
                Err(reason) => {
                    release
                        .errors
                        .push(format!("{cluster}/{name}: {key}: {reason}"));
                    kinds.push(ErrorKind::InvalidInput);
                }
            }
        }
    }

    // Decide and act: each image as its push, oldest first.
    let mut ordered: Vec<(Deferral, Vec<Holder>)> = images.into_values().collect();
    ordered.sort_by_key(|(deferral, _)| deferral.pushed_at);
    for (deferral, holders) in ordered {
        let Some(pushed) = deferral.pushed() else {
            continue;
        };
        tracing::info!(image = %deferral.image, services = holders.len(), "releasing deferred push");
        let clients = clients.with_ecr_in(&pushed.registry.region);
        let summary = match redeploy(&clients, settings, pushed).await {
            Ok(summary) => summary,
            Err(error) => {
                release.errors.push(error.to_string());
                kinds.push(error.kind());
                continue;
            }
        };
        for holder in holders {
            if !settings.dry_run && cleared(&summary, &holder) {
                match untag(&clients, &holder).await {
                    Ok(()) => release.cleared.push(format!(
                        "{}/{}: {}",
                        holder.cluster, holder.service, holder.key
                    )),
                    Err(error) => {
                        release.errors.push(error.to_string());
                        kinds.push(error.kind());
                    }
                }
            }
        }
        kinds.extend(summary.error_kind);
        release.rollouts.push(summary);
    }
    release.error_kind = ErrorKind::of_batch(kinds);
    Ok(release)
}

/// Whether the rollout of a deferred image is done with `holder`: the
/// service runs it now, or runs something newer, or no longer tracks it.
/// A service still frozen, failed, or read incompletely keeps its deferral.
fn cleared(summary: &Summary, holder: &Holder) -> bool {
    let report = summary
        .services
        .iter()
        .find(|r| r.cluster == holder.cluster && r.service == holder.service);
    match report {
        Some(report) => matches!(report.outcome, Outcome::Deployed | Outcome::Skipped),
        None => summary.errors.is_empty(),
    }
}

/// Removes one deferral tag.
///
/// IAM: `ecs:UntagResource`.
async fn untag(clients: &Clients, holder: &Holder) -> Result<(), AwsError> {
    let resource = format!("service {}/{}", holder.cluster, holder.service);
    clients
        .ecs
        .untag_resource()
        .resource_arn(&holder.arn)
        .tag_keys(&holder.key)
        .send()
        .await
        .map_err(|e| AwsError::new("clear the deferral on", &resource, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::State;
    use crate::image::EcrRegistry;

    const DIGEST_A: &str =
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const DIGEST_B: &str =
        "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn pushed(digest: &str, tag: &str, at: i64) -> PushedImage {
        PushedImage {
            registry: EcrRegistry {
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
            },
            repository: "team/backend".into(),
            tag: Some(tag.into()),
            digest: Digest::parse(digest).unwrap(),
            pushed_at: Some(DateTime::from_secs(at)),
        }
    }

    #[test]
    fn a_deferral_round_trips_through_its_tag_value() {
        let deferral = Deferral::of(&pushed(DIGEST_A, "v1.4.0", 1_796_405_400)).unwrap();
        let value = deferral.tag_value().unwrap();
        assert_eq!(
            value,
            format!(
                "2026-12-04T17:30:00Z 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/backend:v1.4.0@{DIGEST_A}"
            )
        );
        let read = Deferral::parse(&value).unwrap();
        assert_eq!(read, deferral);
        let again = read.pushed().unwrap();
        assert_eq!(again.tag.as_deref(), Some("v1.4.0"));
        assert_eq!(again.repository, "team/backend");
        assert_eq!(
            again.pushed_at, None,
            "the push time is read from ECR again"
        );

        for bad in [
            "",
            "2026-12-04T17:30:00Z",
            "yesterday 123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:v1@sha256:aa",
            "2026-12-04T17:30:00Z docker.io/library/nginx:1",
            "2026-12-04T17:30:00Z 123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:v1",
        ] {
            assert!(Deferral::parse(bad).is_err(), "{bad:?}");
        }
        let long = PushedImage {
            repository: "r".repeat(200),
            ..pushed(DIGEST_A, "v1", 0)
        };
        let error = Deferral::of(&long).unwrap().tag_value().unwrap_err();
        assert!(error.contains("256"), "{error}");
        assert!(deferred_key(&"c".repeat(120)).is_err());
        assert_eq!(deferred_key("app").unwrap(), "autopilot:deferred:app");
    }

    #[test]
    fn only_a_newer_push_replaces_a_deferral() {
        let older = Deferral::of(&pushed(DIGEST_A, "v1", 100)).unwrap();
        let newer = Deferral::of(&pushed(DIGEST_B, "v2", 200)).unwrap();
        let cases = [
            (&older, None, Replace::Write),
            (&newer, Some(&older), Replace::Write),
            (&older, Some(&older), Replace::Same),
            (
                &older,
                Some(&newer),
                Replace::Newer(newer.image.to_string()),
            ),
        ];
        for (new, existing, expected) in cases {
            assert_eq!(
                replace(new, existing),
                expected,
                "{new:?} over {existing:?}"
            );
        }
    }

    #[test]
    fn the_gate_defers_while_a_calendar_is_closed_unless_overridden() {
        let freeze = CalendarName::parse("release-freeze").unwrap();
        let sale = CalendarName::parse("sale").unwrap();
        let states = |freeze_state, sale_state| {
            BTreeMap::from([
                (
                    freeze.clone(),
                    CalendarState {
                        calendar: freeze.clone(),
                        state: freeze_state,
                        next_transition: Some("2026-12-07T07:00:00Z".into()),
                    },
                ),
                (
                    sale.clone(),
                    CalendarState {
                        calendar: sale.clone(),
                        state: sale_state,
                        next_transition: None,
                    },
                ),
            ])
        };
        let digest = Digest::parse(DIGEST_A).unwrap();
        let tags = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        let both = [freeze.clone(), sale.clone()];
        let closed = "calendar release-freeze is CLOSED until 2026-12-07T07:00:00Z".to_owned();
        let cases = [
            (
                tags(&[]),
                &both[..],
                states(State::Open, State::Open),
                Gate::Open,
            ),
            (
                tags(&[]),
                &both[..],
                states(State::Closed, State::Open),
                Gate::Defer(closed.clone()),
            ),
            (
                tags(&[]),
                &both[1..],
                states(State::Closed, State::Open),
                Gate::Open,
            ),
            (
                tags(&[(OVERRIDE_TAG, DIGEST_A)]),
                &both[..],
                states(State::Closed, State::Open),
                Gate::Override(closed.clone()),
            ),
            (
                tags(&[(OVERRIDE_TAG, DIGEST_B)]),
                &both[..],
                states(State::Closed, State::Open),
                Gate::Defer(closed.clone()),
            ),
        ];
        for (tags, calendars, states, expected) in cases {
            assert_eq!(
                gate(&digest, &tags, calendars, &states),
                expected,
                "{tags:?}"
            );
        }
    }

    #[test]
    fn a_service_is_frozen_by_the_function_and_its_own_calendars() {
        let function = vec![CalendarName::parse("release-freeze").unwrap()];
        let tags = |value: &str| BTreeMap::from([(CALENDAR_TAG.to_owned(), value.to_owned())]);
        let names = |list: Vec<CalendarName>| {
            list.iter()
                .map(|c| c.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(calendars_of(&BTreeMap::new(), &function).unwrap()),
            ["release-freeze"]
        );
        assert_eq!(
            names(calendars_of(&tags("holidays release-freeze"), &function).unwrap()),
            ["release-freeze", "holidays"]
        );
        assert!(names(calendars_of(&BTreeMap::new(), &[]).unwrap()).is_empty());
        let error = calendars_of(&tags("ok-name x"), &function).unwrap_err();
        assert!(error.starts_with(CALENDAR_TAG), "{error}");
    }
}
