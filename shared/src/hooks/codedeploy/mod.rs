//! The CodeDeploy ECS blue/green controller's hook model: its lifecycle
//! hooks ([`Hook`]), what each checks by default ([`defaults`]), and the
//! deployment under test as CodeDeploy describes it, with the hook status
//! report ([`deployment`]).

pub mod defaults;
pub mod deployment;

use std::fmt;

/// A CodeDeploy ECS lifecycle hook a function can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// Before the replacement task set is created.
    BeforeInstall,
    /// After the replacement task set is created (and registered with the
    /// replacement target group).
    AfterInstall,
    /// After the test listener routes to the replacement task set.
    AfterAllowTestTraffic,
    /// Before production traffic moves to the replacement task set.
    BeforeAllowTraffic,
    /// After production traffic moved to the replacement task set.
    AfterAllowTraffic,
}

impl Hook {
    /// Every hook, in the order CodeDeploy runs them.
    pub const ALL: [Hook; 5] = [
        Hook::BeforeInstall,
        Hook::AfterInstall,
        Hook::AfterAllowTestTraffic,
        Hook::BeforeAllowTraffic,
        Hook::AfterAllowTraffic,
    ];

    /// Every hook's name, in the order CodeDeploy runs them (what an AppSpec's
    /// `Hooks` section may name).
    pub const NAMES: [&'static str; 5] = [
        Hook::BeforeInstall.as_str(),
        Hook::AfterInstall.as_str(),
        Hook::AfterAllowTestTraffic.as_str(),
        Hook::BeforeAllowTraffic.as_str(),
        Hook::AfterAllowTraffic.as_str(),
    ];

    /// The name AppSpec files and CodeDeploy use, such as `AfterInstall`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Hook::BeforeInstall => "BeforeInstall",
            Hook::AfterInstall => "AfterInstall",
            Hook::AfterAllowTestTraffic => "AfterAllowTestTraffic",
            Hook::BeforeAllowTraffic => "BeforeAllowTraffic",
            Hook::AfterAllowTraffic => "AfterAllowTraffic",
        }
    }

    /// The hook with this exact name, if any.
    pub fn parse(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|hook| hook.as_str() == name)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_round_trip_their_names_in_order() {
        for (hook, name) in Hook::ALL.iter().zip(Hook::NAMES) {
            assert_eq!(hook.as_str(), name);
            assert_eq!(Hook::parse(name), Some(*hook));
        }
        assert_eq!(
            Hook::NAMES,
            [
                "BeforeInstall",
                "AfterInstall",
                "AfterAllowTestTraffic",
                "BeforeAllowTraffic",
                "AfterAllowTraffic",
            ]
        );
        assert_eq!(Hook::parse("afterinstall"), None);
        assert_eq!(Hook::parse("Install"), None);
    }
}
