//! Finding ECS services cheaply on large accounts.
//!
//! Two ways to find the services a function acts on, chosen by
//! [`Source`] (`DISCOVERY`):
//! - **by tag** (the default): the Resource Groups Tagging API's
//!   `GetResources` for resource type `ecs:service` and the tag keys that opt
//!   a service in (100 a page), then `DescribeServices` for those alone,
//!   grouped by cluster, 10 a call. What a search costs grows with the
//!   services that opted in, not with the fleet.
//! - **by listing**: `ListClusters` and `ListServices` (100 a page), then
//!   `DescribeServices` of every service (10 a call, with their tags), for
//!   accounts where the Tagging API cannot be used.
//!
//! Independent reads run concurrently within a bound, paced by a
//! [`RateLimiter`] under ECS's documented throttling rates.
//!
//! IAM: `tag:GetResources` (by tag), `ecs:ListClusters` and
//! `ecs:ListServices` (by listing), `ecs:DescribeServices`.

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Service, ServiceField};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use futures::{StreamExt, stream};

use crate::aws::AwsError;
use crate::error::ErrorKind;
use crate::throttle::RateLimiter;

// ECS API limits.
const LIST_PAGE_SIZE: i32 = 100; // ListClusters and ListServices: maxResults at most 100.
const DESCRIBE_SERVICES_BATCH: usize = 10; // DescribeServices: at most 10 services a call.
// Resource Groups Tagging API, GetResources: ResourcesPerPage "a minimum of 1
// and a maximum value of 100" (API reference, GetResources).
const TAGGED_PAGE_SIZE: i32 = 100;
/// The resource type of an ECS service in the Tagging API (`service[:type]`,
/// as embedded in the service's ARN).
pub const ECS_SERVICE_RESOURCE_TYPE: &str = "ecs:service";

/// How services are found (`DISCOVERY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// `tags` (the default): the Tagging API's `GetResources` for the tag
    /// keys that opt a service in, then `DescribeServices` of those alone.
    #[default]
    Tags,
    /// `ecs`: every cluster's services listed and described.
    Listing,
}

impl Source {
    /// `DISCOVERY`: `tags` (default) or `ecs`; the error names the variable.
    pub fn from_env(env: &crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        match env.optional("DISCOVERY") {
            None | Some("tags") => Ok(Source::Tags),
            Some("ecs") => Ok(Source::Listing),
            Some(other) => Err(crate::config::ConfigError::invalid(
                "DISCOVERY",
                format!("{other:?} is neither \"tags\" nor \"ecs\""),
            )),
        }
    }
}

/// Where a search looks: ECS, and the Tagging API when searching by tag.
#[derive(Debug, Clone, Copy)]
pub struct Finder<'a> {
    /// ECS: `DescribeServices`, and `ListClusters`/`ListServices` by listing.
    pub ecs: &'a Client,
    /// The Tagging API: `GetResources` (built when a search first needs it).
    pub tagging: &'a crate::aws::OnFirstUse<aws_sdk_resourcegroupstagging::Client>,
    /// How to search.
    pub source: Source,
}

/// A tag a wanted service carries: the key, and when `values` is not empty
/// one of these values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedTag {
    /// The tag key.
    pub key: String,
    /// Any of these values; empty: any value.
    pub values: Vec<String>,
}

impl WantedTag {
    /// A service carrying `key`, whatever its value.
    pub fn key(key: impl Into<String>) -> Self {
        WantedTag {
            key: key.into(),
            values: Vec::new(),
        }
    }

    /// A service carrying `key` with the value `value`.
    pub fn value(key: impl Into<String>, value: impl Into<String>) -> Self {
        WantedTag {
            key: key.into(),
            values: vec![value.into()],
        }
    }
}

/// Which clusters to search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterScope {
    /// Every cluster in the account and Region.
    All,
    /// These clusters (names or ARNs).
    Named(Vec<String>),
}

impl ClusterScope {
    /// Whether the cluster named `cluster` is in scope (`Named` entries may
    /// be names or ARNs).
    pub fn includes(&self, cluster: &str) -> bool {
        match self {
            ClusterScope::All => true,
            ClusterScope::Named(names) => names.iter().any(|n| cluster_name(n) == cluster),
        }
    }

    /// `All` for an empty list, else the named clusters.
    pub fn from_list(clusters: Vec<String>) -> Self {
        if clusters.is_empty() {
            ClusterScope::All
        } else {
            ClusterScope::Named(clusters)
        }
    }
}

/// ECS read requests a second after the burst: the documented sustained rate of service reads.
pub const DEFAULT_READ_RATE: f64 = 20.0;
/// The burst of ECS reads one invocation may send: half the documented burst
/// of 100, leaving the rest to other callers in the account.
pub const DEFAULT_READ_BURST: u32 = 50;

/// How hard a function may push the AWS APIs, from its environment:
/// `MAX_CONCURRENCY` (1 to 32, default 8), `ECS_READ_RATE` (1 to 100,
/// default [`DEFAULT_READ_RATE`]) and `ECS_READ_BURST` (1 to 100, default
/// [`DEFAULT_READ_BURST`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// AWS reads in flight at once.
    pub concurrency: usize,
    /// ECS reads a second after the burst.
    pub read_rate: f64,
    /// ECS reads sent before pacing starts.
    pub read_burst: u32,
}

impl Pacing {
    /// Reads and checks the three variables; errors name the variable.
    pub fn from_env(env: &crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        use crate::config::ConfigError;
        let concurrency = env.parse::<usize>("MAX_CONCURRENCY")?.unwrap_or(8);
        if !(1..=32).contains(&concurrency) {
            return Err(ConfigError::invalid(
                "MAX_CONCURRENCY",
                "must be between 1 and 32",
            ));
        }
        let read_rate = env
            .parse::<f64>("ECS_READ_RATE")?
            .unwrap_or(DEFAULT_READ_RATE);
        if !(1.0..=100.0).contains(&read_rate) {
            return Err(ConfigError::invalid(
                "ECS_READ_RATE",
                "must be between 1 and 100",
            ));
        }
        let read_burst = env
            .parse::<u32>("ECS_READ_BURST")?
            .unwrap_or(DEFAULT_READ_BURST);
        if !(1..=100).contains(&read_burst) {
            return Err(ConfigError::invalid(
                "ECS_READ_BURST",
                "must be between 1 and 100",
            ));
        }
        Ok(Pacing {
            concurrency,
            read_rate,
            read_burst,
        })
    }
}

/// How hard discovery may push the ECS API.
#[derive(Debug)]
pub struct DiscoveryLimits {
    /// Reads in flight at once.
    pub concurrency: usize,
    /// Paces every read.
    pub rate: RateLimiter,
}

impl DiscoveryLimits {
    /// `concurrency` reads at once, at most 20 a second after a burst of 50:
    /// ECS allows service reads 100 burst / 20 per second and cluster reads
    /// 50 / 20 per account and Region, and we leave headroom for other callers.
    pub fn new(concurrency: usize) -> Self {
        Self::with_rate(concurrency, DEFAULT_READ_RATE, DEFAULT_READ_BURST)
    }

    /// `concurrency` reads at once, at most `rate` a second after a burst of `burst`.
    pub fn with_rate(concurrency: usize, rate: f64, burst: u32) -> Self {
        DiscoveryLimits {
            concurrency: concurrency.max(1),
            rate: RateLimiter::new(rate, burst),
        }
    }
}

/// What a search found, with the clusters it could not read.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Matching services, with their tags.
    pub services: Vec<Service>,
    /// Clusters or batches that failed; the rest of the search went on.
    pub errors: Vec<AwsError>,
    /// Services named explicitly that ECS reported missing, as `cluster/service`.
    pub missing: Vec<String>,
}

/// The cluster's name from its ARN (`arn:aws:ecs:region:account:cluster/NAME`) or name.
pub fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit_once('/').map_or(cluster, |(_, name)| name)
}

/// The service's tags as a map.
pub fn service_tags(service: &Service) -> BTreeMap<String, String> {
    service
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// `cluster/service`, the way users name a service.
pub fn service_label(service: &Service) -> String {
    format!(
        "{}/{}",
        cluster_name(service.cluster_arn().unwrap_or_default()),
        service.service_name().unwrap_or_default()
    )
}

/// Searches for services that satisfy `keep` (evaluated on the described
/// service, tags included).
///
/// By tag ([`Source::Tags`], with at least one `wanted` tag) only the
/// services carrying every `wanted` tag are described; by listing, or with
/// no `wanted` tag, every service in `scope` is. Either way `keep` decides:
/// the Tagging API is eventually consistent, so its answer is a shortlist
/// that the described service (and its current tags) confirms.
pub async fn find_services(
    finder: Finder<'_>,
    scope: &ClusterScope,
    wanted: &[WantedTag],
    limits: &DiscoveryLimits,
    keep: impl Fn(&Service) -> bool,
) -> Result<Discovered, AwsError> {
    let (batches, mut found) = match finder.source {
        Source::Tags if !wanted.is_empty() => {
            tagged_batches(finder.tagging.get(), scope, wanted, limits).await?
        }
        _ => listed_batches(finder.ecs, scope, limits).await?,
    };
    let ecs = finder.ecs;
    let described: Vec<_> = stream::iter(batches)
        .map(|(cluster, arns)| async move { describe_batch(ecs, &cluster, arns, limits).await })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await;
    for batch in described {
        match batch {
            Ok((services, missing)) => {
                found
                    .services
                    .extend(services.into_iter().filter(|s| keep(s)));
                found.missing.extend(missing);
            }
            Err(error) => found.errors.push(error),
        }
    }
    found.services.sort_by_key(service_label);
    Ok(found)
}

/// `DescribeServices` batches: `(cluster, up to 10 services)`.
type Batches = Vec<(String, Vec<String>)>;

/// Every service of the clusters in `scope`, listed cluster by cluster
/// (concurrently), in batches to describe.
async fn listed_batches(
    ecs: &Client,
    scope: &ClusterScope,
    limits: &DiscoveryLimits,
) -> Result<(Batches, Discovered), AwsError> {
    let clusters = match scope {
        ClusterScope::Named(names) => names.clone(),
        ClusterScope::All => list_clusters(ecs, limits).await?,
    };
    let mut found = Discovered::default();
    let listed: Vec<(String, Result<Vec<String>, AwsError>)> = stream::iter(clusters)
        .map(|cluster| async move {
            let arns = list_service_arns(ecs, &cluster, limits).await;
            (cluster, arns)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await;
    let mut batches = Vec::new();
    for (cluster, arns) in listed {
        match arns {
            Ok(arns) => batches.extend(
                arns.chunks(DESCRIBE_SERVICES_BATCH)
                    .map(|chunk| (cluster.clone(), chunk.to_vec())),
            ),
            Err(error) => found.errors.push(error),
        }
    }
    Ok((batches, found))
}

/// The services the Tagging API says carry every `wanted` tag, in the
/// clusters of `scope`, grouped by cluster into batches to describe.
///
/// IAM: `tag:GetResources`.
async fn tagged_batches(
    tagging: &aws_sdk_resourcegroupstagging::Client,
    scope: &ClusterScope,
    wanted: &[WantedTag],
    limits: &DiscoveryLimits,
) -> Result<(Batches, Discovered), AwsError> {
    let filters: Vec<TagFilter> = wanted
        .iter()
        .map(|tag| {
            TagFilter::builder()
                .key(&tag.key)
                .set_values((!tag.values.is_empty()).then(|| tag.values.clone()))
                .build()
        })
        .collect();
    let mut pages = tagging
        .get_resources()
        .resource_type_filters(ECS_SERVICE_RESOURCE_TYPE)
        .set_tag_filters(Some(filters))
        .resources_per_page(TAGGED_PAGE_SIZE)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    loop {
        limits.rate.acquire().await;
        match pages.next().await {
            None => break,
            Some(page) => {
                let page = page.map_err(|e| {
                    AwsError::new("find tagged", "ECS services (tag:GetResources)", &e)
                })?;
                arns.extend(
                    page.resource_tag_mapping_list()
                        .iter()
                        .filter_map(|m| m.resource_arn().map(str::to_owned)),
                );
            }
        }
    }
    let mut found = Discovered::default();
    let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arn in arns {
        match service_arn_parts(&arn) {
            Some((cluster, _)) if scope.includes(cluster) => {
                by_cluster.entry(cluster.to_owned()).or_default().push(arn)
            }
            Some(_) => {}
            None => found.errors.push(AwsError::other(
                "find the cluster of",
                format!("service {arn}"),
                ErrorKind::Unexpected,
                "the ARN names no cluster (the old ARN format); opt in to the long ARN format, \
                 or set DISCOVERY=ecs",
            )),
        }
    }
    let batches = by_cluster
        .into_iter()
        .flat_map(|(cluster, arns)| {
            arns.chunks(DESCRIBE_SERVICES_BATCH)
                .map(|chunk| (cluster.clone(), chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok((batches, found))
}

/// `(cluster, service)` from a service ARN in the long format,
/// `arn:PARTITION:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE`; `None` for the
/// old format (`service/SERVICE`) or anything else.
pub fn service_arn_parts(arn: &str) -> Option<(&str, &str)> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("service"), Some(cluster), Some(service), None)
            if !cluster.is_empty() && !service.is_empty() =>
        {
            Some((cluster, service))
        }
        _ => None,
    }
}

/// Describes services named `cluster/service`, grouped by cluster and
/// batched by 10, concurrently.
pub async fn describe_named(
    ecs: &Client,
    names: &[(String, String)],
    limits: &DiscoveryLimits,
) -> Discovered {
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (cluster, service) in names {
        by_cluster.entry(cluster).or_default().push(service.clone());
    }
    let batches: Vec<(String, Vec<String>)> = by_cluster
        .into_iter()
        .flat_map(|(cluster, services)| {
            services
                .chunks(DESCRIBE_SERVICES_BATCH)
                .map(|chunk| (cluster.to_owned(), chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    let described: Vec<_> =
        stream::iter(batches)
            .map(|(cluster, services)| async move {
                describe_batch(ecs, &cluster, services, limits).await
            })
            .buffer_unordered(limits.concurrency)
            .collect()
            .await;
    let mut found = Discovered::default();
    for batch in described {
        match batch {
            Ok((services, missing)) => {
                found.services.extend(services);
                found.missing.extend(missing);
            }
            Err(error) => found.errors.push(error),
        }
    }
    found.services.sort_by_key(service_label);
    found
}

/// Every cluster ARN in the account and Region.
pub async fn list_clusters(
    ecs: &Client,
    limits: &DiscoveryLimits,
) -> Result<Vec<String>, AwsError> {
    let mut pages = ecs
        .list_clusters()
        .max_results(LIST_PAGE_SIZE)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    loop {
        limits.rate.acquire().await;
        match pages.next().await {
            None => break,
            Some(page) => {
                let page = page.map_err(|e| AwsError::new("list", "clusters", &e))?;
                arns.extend(page.cluster_arns().iter().cloned());
            }
        }
    }
    Ok(arns)
}

/// Every service ARN in a cluster.
pub async fn list_service_arns(
    ecs: &Client,
    cluster: &str,
    limits: &DiscoveryLimits,
) -> Result<Vec<String>, AwsError> {
    let mut pages = ecs
        .list_services()
        .cluster(cluster)
        .max_results(LIST_PAGE_SIZE)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    loop {
        limits.rate.acquire().await;
        match pages.next().await {
            None => break,
            Some(page) => {
                let page = page.map_err(|e| {
                    AwsError::new(
                        "list services in",
                        format!("cluster {}", cluster_name(cluster)),
                        &e,
                    )
                })?;
                arns.extend(page.service_arns().iter().cloned());
            }
        }
    }
    Ok(arns)
}

async fn describe_batch(
    ecs: &Client,
    cluster: &str,
    services: Vec<String>,
    limits: &DiscoveryLimits,
) -> Result<(Vec<Service>, Vec<String>), AwsError> {
    limits.rate.acquire().await;
    let answer = ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "describe services in",
                format!("cluster {}", cluster_name(cluster)),
                &e,
            )
        })?;
    let missing = answer
        .failures()
        .iter()
        .map(|f| {
            let arn = f.arn().unwrap_or_default();
            format!(
                "{}/{}",
                cluster_name(cluster),
                arn.rsplit('/').next().unwrap_or(arn)
            )
        })
        .collect();
    Ok((answer.services().to_vec(), missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::Tag;

    #[test]
    fn cluster_names_from_arns_and_names() {
        assert_eq!(
            cluster_name("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"),
            "prod"
        );
        assert_eq!(cluster_name("prod"), "prod");
    }

    #[test]
    fn tags_and_labels() {
        let service = Service::builder()
            .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/prod")
            .service_name("api")
            .tags(
                Tag::builder()
                    .key("autopilot:redeploy")
                    .value("tag:latest")
                    .build(),
            )
            .tags(Tag::builder().key("empty").build())
            .build();
        assert_eq!(service_label(&service), "prod/api");
        let tags = service_tags(&service);
        assert_eq!(tags["autopilot:redeploy"], "tag:latest");
        assert_eq!(tags["empty"], "");
    }

    #[test]
    fn service_arns_name_their_cluster() {
        let cases = [
            (
                "arn:aws:ecs:eu-west-1:123456789012:service/prod/api",
                Some(("prod", "api")),
            ),
            (
                "arn:aws-cn:ecs:cn-north-1:123456789012:service/c/s",
                Some(("c", "s")),
            ),
            // The old format names no cluster.
            ("arn:aws:ecs:eu-west-1:123456789012:service/api", None),
            ("arn:aws:ecs:eu-west-1:123456789012:service//api", None),
            ("arn:aws:ecs:eu-west-1:123456789012:task/prod/abc", None),
            ("arn:aws:ecs:eu-west-1:123456789012:service/a/b/c", None),
            ("not an arn", None),
        ];
        for (arn, want) in cases {
            assert_eq!(service_arn_parts(arn), want, "{arn}");
        }
    }

    #[test]
    fn scope_includes_names_and_arns() {
        let scope = ClusterScope::Named(vec![
            "prod".into(),
            "arn:aws:ecs:eu-west-1:123456789012:cluster/staging".into(),
        ]);
        assert!(scope.includes("prod"));
        assert!(scope.includes("staging"));
        assert!(!scope.includes("dev"));
        assert!(ClusterScope::All.includes("dev"));
    }

    #[test]
    fn discovery_source_from_env() {
        use crate::config::Env;
        let source =
            |v: Option<&str>| Source::from_env(&Env::from_pairs(v.map(|v| ("DISCOVERY", v))));
        assert_eq!(source(None).unwrap(), Source::Tags);
        assert_eq!(source(Some("tags")).unwrap(), Source::Tags);
        assert_eq!(source(Some("ecs")).unwrap(), Source::Listing);
        let error = source(Some("tagging")).unwrap_err();
        assert!(error.to_string().contains("DISCOVERY"), "{error}");
    }

    #[test]
    fn scope_from_list() {
        assert_eq!(ClusterScope::from_list(vec![]), ClusterScope::All);
        assert_eq!(
            ClusterScope::from_list(vec!["a".into()]),
            ClusterScope::Named(vec!["a".into()])
        );
    }
}
