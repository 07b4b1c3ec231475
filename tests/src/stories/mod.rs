//! The demo's stories: one function each, run as the real binary against the
//! local AWS, printing what it did on a [`crate::harness::timeline::Timeline`].

pub mod calendars;
pub mod codedeploy;
pub mod ecs_native;
pub mod scaling;
