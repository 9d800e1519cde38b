//! `spec.limits`: a job's bounds on the CSV, within the ceilings the operator was started with.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spec::HrConnectorJobSpec;
use super::validate::{SpecError, SpecProblem};
use crate::hrdata::Limits;

/// `spec.limits`. Each value defaults to the operator's ceiling (its --max-field-bytes and
/// --max-columns flags, chart values limits.maxFieldBytes and limits.maxColumns) and may not
/// exceed it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CsvLimits {
    /// Longest field allowed, in bytes, in the header or any record. At most the operator's
    /// --max-field-bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_field_bytes: Option<u64>,
    /// Most columns allowed in the header or any record. At most the operator's --max-columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_columns: Option<u64>,
}

/// A spec value as a limit (one too large for `usize` is over any ceiling anyway).
fn to_limit(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

impl HrConnectorJobSpec {
    /// The job's CSV limits: its own, never above `ceiling`, and the ceiling where it sets none.
    pub fn limits(&self, ceiling: Limits) -> Limits {
        let own = self.limits.clone().unwrap_or_default();
        let pick = |value: Option<u64>, ceiling: usize| {
            value.map_or(ceiling, |v| to_limit(v).min(ceiling))
        };
        Limits {
            max_field_bytes: pick(own.max_field_bytes, ceiling.max_field_bytes),
            max_columns: pick(own.max_columns, ceiling.max_columns),
        }
    }

    /// `spec.limits` against the operator's `ceiling`: a value of 0, or above the ceiling, is a
    /// problem naming the field and the ceiling.
    pub fn check_limits(&self, ceiling: Limits) -> Result<(), SpecError> {
        let Some(own) = &self.limits else {
            return Ok(());
        };
        let mut problems = Vec::new();
        for (field, value, ceiling, flag) in [
            (
                "spec.limits.maxFieldBytes",
                own.max_field_bytes,
                ceiling.max_field_bytes,
                "--max-field-bytes",
            ),
            (
                "spec.limits.maxColumns",
                own.max_columns,
                ceiling.max_columns,
                "--max-columns",
            ),
        ] {
            match value {
                Some(0) => problems.push(SpecProblem::LimitZero(field)),
                Some(v) if to_limit(v) > ceiling => problems.push(SpecProblem::LimitAboveCeiling {
                    field,
                    value: v,
                    ceiling,
                    flag,
                }),
                _ => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError { problems })
        }
    }
}
