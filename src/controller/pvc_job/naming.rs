//! Names and label values derived from the `HrConnectorJob` and the run ID: deterministic (the
//! same inputs always give the same name) and within Kubernetes' 63-character label limit.

use sha2::{Digest, Sha256};

use crate::crd::HrConnectorJob;

/// Kubernetes' limit for label values, which the Job controller also applies to Job names (it
/// copies the name into the pods' `batch.kubernetes.io/job-name` label).
const MAX_LABEL: usize = 63;
/// Hex digits of hash that make a shortened name unique.
const HASH_LEN: usize = 10;

/// The Job name of one run of `hrjob`: `<name>-<hash>`, a DNS-1123 label of at most 63
/// characters. The hash covers the object's UID, name and the run ID, so two runs (or a deleted
/// and re-created object of the same name) never share a Job, while a restarted controller
/// computes the same name for the same run.
pub fn job_name(hrjob: &HrConnectorJob, run_id: &str) -> String {
    let name = hrjob.metadata.name.as_deref().unwrap_or_default();
    let uid = hrjob.metadata.uid.as_deref().unwrap_or_default();
    let hash = short_hash(&[uid, name, run_id]);
    let mut prefix = dns_label_chars(name);
    prefix.truncate(MAX_LABEL - HASH_LEN - 1);
    let prefix = prefix.trim_end_matches('-');
    if prefix.is_empty() {
        format!("hrconnector-{hash}")
    } else {
        format!("{prefix}-{hash}")
    }
}

/// `value` as a label value: unchanged when it already is a valid one, otherwise shortened and
/// cleaned, with a hash of the original so distinct values stay distinct.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        return value.to_string();
    }
    let mut clean: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean.truncate(MAX_LABEL - HASH_LEN - 1);
    let clean = clean.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let hash = short_hash(&[value]);
    if clean.is_empty() {
        hash
    } else {
        format!("{clean}-{hash}")
    }
}

fn is_label_value(v: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    v.len() <= MAX_LABEL
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && edge_ok(v.chars().next())
        && edge_ok(v.chars().last())
}

/// Lower-case letters, digits and '-', starting with an alphanumeric.
fn dns_label_chars(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    mapped.trim_start_matches('-').to_string()
}

/// The first [`HASH_LEN`] hex digits of the SHA-256 of the parts (NUL-separated, so that
/// ("ab", "c") and ("a", "bc") differ).
fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let mut hex = hex::encode(h.finalize());
    hex.truncate(HASH_LEN);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_label_values_are_kept_and_others_cleaned() {
        assert_eq!(label_value("nightly-2026.11.01"), "nightly-2026.11.01");
        assert_eq!(label_value(""), "");
        let cleaned = label_value("2026-11-01T09:00:00Z");
        assert!(is_label_value(&cleaned), "{cleaned}");
        assert!(cleaned.starts_with("2026-11-01T09-00-00Z-"), "{cleaned}");
        let long = label_value(&"x".repeat(300));
        assert!(is_label_value(&long) && long.len() <= 63, "{long}");
        assert_ne!(label_value(&"x".repeat(300)), label_value(&"x".repeat(301)));
        assert!(is_label_value(&label_value("::::")));
    }

    #[test]
    fn dns_label_chars_lowercases_and_replaces() {
        assert_eq!(dns_label_chars("-My.Job_1"), "my-job-1");
    }
}
