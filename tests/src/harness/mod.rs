//! The harness: the local AWS ([`localaws`]) and its ECS environment
//! ([`provision`]), a Lambda Runtime API that runs the real function
//! binaries ([`runtime_api`]), several accounts and their roles
//! ([`accounts`]), a tiny application the services run
//! ([`app`]), change calendars and their clock ([`calendar`]), and the
//! timeline of what a story saw ([`timeline`]).

pub mod accounts;
pub mod app;
pub mod calendar;
pub mod localaws;
pub mod provision;
pub mod runtime_api;
pub mod timeline;
