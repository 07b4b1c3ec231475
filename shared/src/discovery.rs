//! Finding ECS services cheaply on large accounts.
//!
//! Pages and batches at the API limits (`ListClusters` and `ListServices`
//! 100 a page, `DescribeServices` 10 services a call with their tags), runs
//! independent reads concurrently within a bound, and paces them with a
//! [`RateLimiter`] under ECS's documented throttling rates.
//!
//! IAM: `ecs:ListClusters`, `ecs:ListServices`, `ecs:DescribeServices`.

use std::collections::BTreeMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Service, ServiceField};
use futures::{StreamExt, stream};

use crate::aws::AwsError;
use crate::throttle::RateLimiter;

// ECS API limits.
const LIST_PAGE_SIZE: i32 = 100; // ListClusters and ListServices: maxResults at most 100.
const DESCRIBE_SERVICES_BATCH: usize = 10; // DescribeServices: at most 10 services a call.

/// Which clusters to search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterScope {
    /// Every cluster in the account and Region.
    All,
    /// These clusters (names or ARNs).
    Named(Vec<String>),
}

impl ClusterScope {
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

/// Searches clusters for services that satisfy `keep` (evaluated on the
/// described service, tags included).
pub async fn find_services(
    ecs: &Client,
    scope: &ClusterScope,
    limits: &DiscoveryLimits,
    keep: impl Fn(&Service) -> bool,
) -> Result<Discovered, AwsError> {
    let clusters = match scope {
        ClusterScope::Named(names) => names.clone(),
        ClusterScope::All => list_clusters(ecs, limits).await?,
    };
    let mut found = Discovered::default();

    // Services of each cluster, clusters read concurrently.
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
    fn scope_from_list() {
        assert_eq!(ClusterScope::from_list(vec![]), ClusterScope::All);
        assert_eq!(
            ClusterScope::from_list(vec!["a".into()]),
            ClusterScope::Named(vec!["a".into()])
        );
    }
}
