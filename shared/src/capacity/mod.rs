//! Capacity on a schedule: business-hours ranges, scale to zero at night,
//! restore in the morning.
//!
//! The domain of the `scheduled-scaling` function, in the house's steps:
//!
//! - **parse**: [`ScalingRequest::parse`] turns the schedule's payload (the
//!   `Input` EventBridge Scheduler delivers verbatim) into a typed request,
//!   or an [`EventError`](crate::events::EventError) naming the bad field;
//! - **gather**: [`apply_schedule`] selects the services (explicit
//!   `cluster/service` names or a tag selector, through
//!   [`crate::discovery`]), and reads their Application Auto Scaling scalable
//!   targets in batches of 50;
//! - **decide**: [`gated`] is the calendar gate (a payload's `calendar`
//!   and `whenClosed`: while a change calendar is `CLOSED`, the action is
//!   skipped or replaced), and [`capacity_change`] is a pure function of the
//!   action and what was observed ([`Observed`]), giving the [`Step`]s to take;
//! - **act**: [`apply_schedule`] takes those steps for each service,
//!   concurrently within a bound, skipping every write on dry run, and
//!   reports each service in a [`Summary`].
//!
//! The capacity `scale-to-zero` remembers lives on the service itself, in the
//! tag [`REMEMBERED_CAPACITY_TAG`], in the compact encoding of
//! [`Remembered`] (ECS tag values allow no braces, quotes or commas).
//!
//! One module per step, every public item re-exported here: `payload`
//! (parse), `remembered` (a scalable target's capacity and the tag's
//! encoding), `gate` and `decide` (pure, no AWS), `summary` (what the function returns,
//! and its error) and `apply` (gather and act: the only module that calls
//! AWS). Dependencies flow one way: `apply` uses all the others, `summary`
//! uses `decide`, and `decide` uses `payload` and `remembered`.
//!
//! IAM, in all: `tag:GetResources`, `ecs:ListClusters`, `ecs:ListServices`,
//! `ecs:DescribeServices`, `ecs:UpdateService`, `ecs:TagResource`,
//! `ecs:UntagResource`, `application-autoscaling:DescribeScalableTargets`,
//! `application-autoscaling:RegisterScalableTarget`, and
//! `ssm:GetCalendarState` for a payload with a `calendar`.

mod apply;
mod decide;
mod gate;
mod payload;
mod remembered;
mod summary;

pub use apply::{Account, Clients, RunOptions, accounts_of, apply_in_accounts, apply_schedule};
pub use decide::{Capacity, Decision, Memory, Observed, Step, capacity_change};
pub use gate::{CalendarNote, Gated, gated};
pub use payload::{
    Action, CalendarGate, ScalingRequest, Selection, Selector, ServiceName, WhenClosed,
};
pub use remembered::{
    REMEMBERED_CAPACITY_TAG, Remembered, RememberedError, Suspended, TargetCapacity,
};
pub use summary::{Outcome, ScheduleFailed, ServiceReport, Summary};
