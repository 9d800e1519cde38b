//! Every permission the operator needs, in one table: `hrconnector rbac` prints it as a
//! ClusterRole (or a Role for one namespace), and the chart's rules are checked against it.
//!
//! The table is checked against the calls themselves: the e2e suite records every request the
//! operator makes and fails when one is not granted here, or when a grant here was never used
//! (`tests/e2e/rbac_audit.py`). A new call therefore needs a row here and an e2e scenario.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use kube::api::ObjectMeta;

/// One grant and the reason it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub api_group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub why: &'static str,
}

/// What the operator does with the Kubernetes API, and nothing more.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        api_group: "hrconnector.io",
        resource: "hrconnectorjobs",
        verbs: &["list", "watch"],
        why: "the controller watches the jobs it runs (single reads go through /status)",
    },
    Permission {
        api_group: "hrconnector.io",
        resource: "hrconnectorjobs/status",
        verbs: &["get", "patch"],
        why: "status carries verdicts, run outcomes and the upload checkpoint; a run re-reads it before it claims the job",
    },
    Permission {
        api_group: "",
        resource: "configmaps",
        verbs: &["get", "list", "watch"],
        why: "HR data in ConfigMaps is read, and re-validated when it changes",
    },
    Permission {
        api_group: "",
        resource: "secrets",
        verbs: &["get"],
        why: "credentials and Secret-held HR data are read by name only: never listed or watched",
    },
    Permission {
        api_group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        why: "run started, succeeded and failed, and validation errors, as Events",
    },
    Permission {
        api_group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "create", "patch"],
        why: "leader election (server-side apply), so two replicas never both upload",
    },
    Permission {
        api_group: "batch",
        resource: "jobs",
        verbs: &["create", "get"],
        why: "PersistentVolumeClaim sources are uploaded by a batch Job the operator owns",
    },
    Permission {
        api_group: "",
        resource: "pods",
        verbs: &["list"],
        why: "an upload Job's result is read from its pod's termination message",
    },
    Permission {
        api_group: "",
        resource: "serviceaccounts",
        verbs: &["get"],
        why: "workloadIdentity: the job's service account gives the app and tenant IDs (annotations)",
    },
    Permission {
        api_group: "",
        resource: "serviceaccounts/token",
        verbs: &["create"],
        why: "workloadIdentity: a service account token (TokenRequest) is the federated assertion",
    },
];

/// The table as RBAC rules, one rule per resource.
pub fn policy_rules() -> Vec<PolicyRule> {
    PERMISSIONS
        .iter()
        .map(|p| PolicyRule {
            api_groups: Some(vec![p.api_group.to_string()]),
            resources: Some(vec![p.resource.to_string()]),
            verbs: p.verbs.iter().map(|v| v.to_string()).collect(),
            ..PolicyRule::default()
        })
        .collect()
}

fn metadata(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/name".to_string(),
            "hrconnector".to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

pub fn cluster_role(name: &str) -> ClusterRole {
    ClusterRole {
        metadata: metadata(name, None),
        rules: Some(policy_rules()),
        ..ClusterRole::default()
    }
}

pub fn role(name: &str, namespace: &str) -> Role {
    Role {
        metadata: metadata(name, Some(namespace)),
        rules: Some(policy_rules()),
    }
}

/// A comment block that says why each grant exists, to print above the YAML.
pub fn justification() -> String {
    let mut text = String::from("# Permissions of the hrconnector operator (hrconnector rbac):\n");
    for p in PERMISSIONS {
        let group = if p.api_group.is_empty() {
            "core"
        } else {
            p.api_group
        };
        text.push_str(&format!(
            "#   {group}/{} [{}]: {}\n",
            p.resource,
            p.verbs.join(", "),
            p.why
        ));
    }
    text
}
