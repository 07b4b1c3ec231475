//! Least privilege: `template.yaml` grants each function exactly the IAM
//! actions its code declares, and the functions' calls stay within them.

use std::collections::{BTreeMap, BTreeSet};

use autopilot_tests::{LambdaProcess, LocalAws};
use serde_norway::{Mapping, Value};

fn template() -> Value {
    load("template.yaml")
}

fn load(file: &str) -> Value {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The template's resources, each `Fn::ForEach::<loop>` entry (the
/// AWS::LanguageExtensions transform) expanded as CloudFormation expands it:
/// its fragment once per item of its collection, `${identifier}` replaced by
/// the item in keys and strings.
fn resources(template: &Value) -> Mapping {
    let mut expanded = Mapping::new();
    for (name, resource) in template["Resources"].as_mapping().expect("Resources") {
        let is_loop = name
            .as_str()
            .is_some_and(|n| n.starts_with("Fn::ForEach::"));
        if !is_loop {
            expanded.insert(name.clone(), resource.clone());
            continue;
        }
        let Some([identifier, collection, fragment]) = resource.as_sequence().map(Vec::as_slice)
        else {
            panic!("{name:?} is not [identifier, collection, fragment]");
        };
        let placeholder = format!("${{{}}}", identifier.as_str().expect("identifier"));
        for item in collection.as_sequence().expect("a literal collection") {
            let item = item.as_str().expect("a string item");
            let fragment = substitute(fragment, &placeholder, item);
            expanded.extend(fragment.as_mapping().expect("fragment").clone());
        }
    }
    expanded
}

/// `value` with `placeholder` replaced by `item` in every key and string.
fn substitute(value: &Value, placeholder: &str, item: &str) -> Value {
    let sub = |v: &Value| substitute(v, placeholder, item);
    match value {
        Value::String(s) => Value::String(s.replace(placeholder, item)),
        Value::Sequence(list) => Value::Sequence(list.iter().map(sub).collect()),
        Value::Mapping(map) => Value::Mapping(map.iter().map(|(k, v)| (sub(k), sub(v))).collect()),
        Value::Tagged(tagged) => {
            let mut tagged = tagged.clone();
            tagged.value = sub(&tagged.value);
            Value::Tagged(tagged)
        }
        other => other.clone(),
    }
}

/// The logical id a `!GetAtt X.Arn` or `!Ref X` names.
fn referenced_resource(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => {
            let text = tagged.value.as_str()?;
            Some(text.split('.').next()?.to_owned())
        }
        Value::Mapping(map) => map
            .get("Fn::GetAtt")
            .and_then(|v| v.as_sequence())
            .and_then(|s| s.first())
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        _ => None,
    }
}

/// Binary name to the actions of its role's `aws-api-calls` policy. Functions
/// built from one binary must share one role.
fn granted_actions(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let resources = &resources(template);
    let mut roles: BTreeMap<String, String> = BTreeMap::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name:?} names no Binary"))
            .to_owned();
        let role = referenced_resource(&resource["Properties"]["Role"])
            .unwrap_or_else(|| panic!("{name:?} has no Role"));
        if let Some(previous) = roles.insert(binary.clone(), role.clone()) {
            assert_eq!(previous, role, "every {binary} function uses one role");
        }
    }
    roles
        .into_iter()
        .map(|(binary, role)| {
            let policies = resources[role.as_str()]["Properties"]["Policies"]
                .as_sequence()
                .expect("Policies");
            let policy = policies
                .iter()
                .find(|p| p["PolicyName"].as_str() == Some("aws-api-calls"))
                .unwrap_or_else(|| panic!("{role} has no aws-api-calls policy"));
            (binary, policy_actions(&role, policy))
        })
        .collect()
}

/// The actions of a policy's statements. A statement may be
/// `!If [condition, statement, !Ref AWS::NoValue]`: its actions count (the
/// most the role can ever be granted).
fn policy_actions(role: &str, policy: &Value) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for statement in policy["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("Statement")
    {
        let statement = match statement {
            Value::Tagged(tagged) if tagged.tag == "!If" => {
                let branches = tagged.value.as_sequence().expect("!If [c, a, b]");
                assert_eq!(
                    branches.len(),
                    3,
                    "{role}: !If [condition, statement, NoValue]"
                );
                let no_value = &branches[2];
                assert!(
                    matches!(no_value, Value::Tagged(t) if t.value.as_str() == Some("AWS::NoValue")),
                    "{role}: a conditional statement's else is AWS::NoValue"
                );
                &branches[1]
            }
            other => other,
        };
        assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{role}");
        match &statement["Action"] {
            Value::String(action) => {
                actions.insert(action.clone());
            }
            Value::Sequence(list) => {
                actions.extend(list.iter().map(|a| a.as_str().expect("action").to_owned()))
            }
            other => panic!("{role}: unexpected Action {other:?}"),
        }
    }
    actions
}

/// Every function, with the actions it declares.
fn declared() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("redeploy-on-push", redeploy_on_push::IAM_ACTIONS),
        ("codedeploy-hook", codedeploy_hook::IAM_ACTIONS),
        ("ecs-deployment-hook", ecs_deployment_hook::IAM_ACTIONS),
        ("scheduled-scaling", scheduled_scaling::IAM_ACTIONS),
    ]
}

#[test]
fn the_template_grants_each_function_exactly_what_its_code_declares() {
    let granted = granted_actions(&template());
    for (binary, declared) in declared() {
        let declared: BTreeSet<String> = declared.iter().map(|a| (*a).to_owned()).collect();
        let granted = granted
            .get(binary)
            .unwrap_or_else(|| panic!("no function for {binary} in template.yaml"));
        let missing: Vec<_> = declared.difference(granted).collect();
        let extra: Vec<_> = granted.difference(&declared).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{binary}: template.yaml misses {missing:?} and grants extra {extra:?}"
        );
        assert!(
            granted.iter().all(|a| !a.contains('*')),
            "{binary}: no wildcard actions"
        );
    }
}

/// Each role of the workload-account template grants exactly what its
/// function declares it calls there, and trusts exactly that function's
/// role in the tools account, with the external id; nothing else is in it.
#[test]
fn the_workload_template_grants_exactly_the_workload_actions() {
    let template = load("workload-account.yaml");
    let resources = template["Resources"].as_mapping().expect("Resources");
    let expected: [(&str, &[&str], &str); 2] = [
        (
            "WorkloadRole",
            redeploy_on_push::WORKLOAD_IAM_ACTIONS,
            "ToolsFunctionRoleArn",
        ),
        (
            "ScalingRole",
            scheduled_scaling::WORKLOAD_IAM_ACTIONS,
            "ToolsScalingRoleArn",
        ),
    ];
    assert_eq!(resources.len(), expected.len(), "nothing but the roles");
    for (name, declared, trusted) in expected {
        let role = &resources[name];
        assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"), "{name}");
        let policies = role["Properties"]["Policies"]
            .as_sequence()
            .expect("Policies");
        assert_eq!(policies.len(), 1, "{name}: only aws-api-calls");
        let granted = policy_actions(name, &policies[0]);
        let declared: BTreeSet<String> = declared.iter().map(|a| (*a).to_owned()).collect();
        let missing: Vec<_> = declared.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&declared).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "workload-account.yaml {name} misses {missing:?} and grants extra {extra:?}"
        );
        assert!(
            granted.iter().all(|a| !a.contains('*')),
            "no wildcard actions"
        );

        let trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            .as_sequence()
            .expect("trust statements");
        assert_eq!(trust.len(), 1, "{name}: one trust statement");
        let statement = &trust[0];
        assert_eq!(statement["Effect"].as_str(), Some("Allow"));
        assert_eq!(statement["Action"].as_str(), Some("sts:AssumeRole"));
        let principal = statement["Principal"].as_mapping().expect("Principal");
        assert_eq!(principal.len(), 1, "{name}: only an AWS principal");
        assert_eq!(
            referenced_resource(&statement["Principal"]["AWS"]).as_deref(),
            Some(trusted),
            "{name}: the tools function's role alone"
        );
        assert_eq!(
            referenced_resource(&statement["Condition"]["StringEquals"]["sts:ExternalId"])
                .as_deref(),
            Some("ExternalId"),
            "{name}: the external id is required"
        );
    }
    assert_eq!(
        template["Parameters"]["ExternalId"]["NoEcho"].as_bool(),
        Some(true)
    );
}

/// The tools template's functions may assume exactly the workload roles
/// they are given, and none without them.
#[test]
fn the_tools_template_assumes_only_the_target_roles() {
    let template = template();
    let resources = resources(&template);
    for (role, condition, parameter) in [
        ("RedeployOnPushRole", "HasTargetRoleArns", "TargetRoleArns"),
        (
            "ScheduledScalingRole",
            "HasScalingTargetRoleArns",
            "ScalingTargetRoleArns",
        ),
    ] {
        let policies = resources[role]["Properties"]["Policies"]
            .as_sequence()
            .expect("Policies");
        let statements = policies[0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("Statement");
        let assume: Vec<&Value> = statements
            .iter()
            .filter_map(|s| match s {
                Value::Tagged(t) if t.tag == "!If" => {
                    let branches = t.value.as_sequence()?;
                    (branches[0].as_str() == Some(condition)).then_some(&branches[1])
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            assume.len(),
            1,
            "{role}: one statement, only with {parameter}"
        );
        assert_eq!(assume[0]["Action"][0].as_str(), Some("sts:AssumeRole"));
        let resource = format!("{:?}", assume[0]["Resource"]);
        assert!(resource.contains(parameter), "{role}: {resource}");
        assert!(
            !statements.iter().any(|s| {
                s["Action"]
                    .as_sequence()
                    .is_some_and(|a| a.iter().any(|a| a.as_str() == Some("sts:AssumeRole")))
            }),
            "{role}: sts:AssumeRole is granted nowhere else"
        );
    }
    assert_eq!(
        template["Parameters"]["TargetExternalId"]["NoEcho"].as_bool(),
        Some(true)
    );
}

/// Asserts that every AWS call `process` made is among `declared`.
pub async fn assert_calls_declared(local: &LocalAws, process: &LambdaProcess, declared: &[&str]) {
    let calls = local.calls_of(process).await;
    assert!(!calls.is_empty(), "the process made no AWS call");
    let undeclared: Vec<_> = calls
        .keys()
        .filter(|call| !declared.contains(&call.as_str()))
        .collect();
    assert!(
        undeclared.is_empty(),
        "calls not in IAM_ACTIONS: {undeclared:?} (all calls: {calls:?})"
    );
}
