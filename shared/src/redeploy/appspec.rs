//! The AppSpec of a CodeDeploy ECS deployment.

use serde_json::{Map, Value, json};

use crate::hooks::codedeploy::Hook;

/// The ECS lifecycle hooks a Lambda function can be attached to, in the order
/// CodeDeploy runs them: the names of the CodeDeploy hook model's [`Hook`]s.
pub const ECS_HOOKS: [&str; 5] = Hook::NAMES;

/// What an ECS AppSpec says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// The replacement task definition.
    pub task_definition_arn: String,
    /// The container the load balancer routes to.
    pub container_name: String,
    /// Its port.
    pub container_port: i32,
    /// `(hook, function name or ARN)`, in [`ECS_HOOKS`] order.
    pub hooks: Vec<(String, String)>,
}

impl AppSpec {
    /// The AppSpec as JSON (CodeDeploy accepts JSON or YAML).
    pub fn to_json(&self) -> String {
        let mut document = Map::new();
        document.insert("version".into(), json!(0.0));
        document.insert(
            "Resources".into(),
            json!([{
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": self.task_definition_arn,
                        "LoadBalancerInfo": {
                            "ContainerName": self.container_name,
                            "ContainerPort": self.container_port,
                        },
                    },
                },
            }]),
        );
        if !self.hooks.is_empty() {
            let hooks: Vec<Value> = ECS_HOOKS
                .iter()
                .filter_map(|hook| {
                    self.hooks
                        .iter()
                        .find(|(name, _)| name == hook)
                        .map(|(name, function)| json!({ name: function }))
                })
                .collect();
            document.insert("Hooks".into(), Value::Array(hooks));
        }
        Value::Object(document).to_string()
    }
}

/// Whether an AppSpec (JSON or YAML, as any tool may have written it) names
/// this task definition. ARNs are unique strings, so a textual match is exact.
pub fn names_task_definition(appspec: &str, task_definition_arn: &str) -> bool {
    appspec.match_indices(task_definition_arn).any(|(at, _)| {
        !appspec[at + task_definition_arn.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:8";

    #[test]
    fn json_has_the_resource_and_ordered_hooks() {
        let spec = AppSpec {
            task_definition_arn: ARN.into(),
            container_name: "backend".into(),
            container_port: 3000,
            hooks: vec![
                (
                    "AfterAllowTraffic".into(),
                    "CodeDeployHook_x-AfterAllowTraffic".into(),
                ),
                (
                    "BeforeInstall".into(),
                    "CodeDeployHook_x-BeforeInstall".into(),
                ),
            ],
        };
        let value: Value = serde_json::from_str(&spec.to_json()).unwrap();
        assert_eq!(
            value,
            json!({
                "version": 0.0,
                "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                    "TaskDefinition": ARN,
                    "LoadBalancerInfo": {"ContainerName": "backend", "ContainerPort": 3000}}}}],
                "Hooks": [
                    {"BeforeInstall": "CodeDeployHook_x-BeforeInstall"},
                    {"AfterAllowTraffic": "CodeDeployHook_x-AfterAllowTraffic"},
                ],
            })
        );
        let no_hooks = AppSpec {
            hooks: vec![],
            ..spec
        };
        assert!(!no_hooks.to_json().contains("Hooks"));
    }

    #[test]
    fn recognises_the_task_definition_exactly() {
        let yaml = format!(
            "version: 0.0\nResources:\n  - TargetService:\n      Properties:\n        TaskDefinition: \"{ARN}\"\n"
        );
        assert!(names_task_definition(&yaml, ARN));
        let revision_80 = yaml.replace(":8\"", ":80\"");
        assert!(!names_task_definition(&revision_80, ARN));
        assert!(!names_task_definition("{}", ARN));
    }
}
