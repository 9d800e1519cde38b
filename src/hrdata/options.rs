//! How a file is validated: its scenario (or scenarios), the header of each column, and the
//! policy for invalid records.

use std::collections::BTreeMap;

use super::schema::{Field, Scenario, fields_of};

/// What to do with records that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidRows {
    /// Any invalid record makes the whole file invalid; nothing is sent.
    #[default]
    Reject,
    /// Invalid records are left out and counted; the rest is sent.
    Skip,
}

/// The data type of a file: one scenario, or several told apart by a scenario column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioChoice {
    One(Scenario),
    /// Each record names its scenario in [`ValidationOptions::scenario_column`].
    Multiple,
}

impl Default for ScenarioChoice {
    fn default() -> Self {
        ScenarioChoice::One(Scenario::Resignation)
    }
}

impl ScenarioChoice {
    /// The scenarios a file of this choice can hold.
    pub fn scenarios(self) -> Vec<Scenario> {
        match self {
            ScenarioChoice::One(s) => vec![s],
            ScenarioChoice::Multiple => Scenario::ALL.to_vec(),
        }
    }

    /// `Resignation`, …, or `Multiple`: the CRD's name for the choice.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioChoice::One(s) => s.name(),
            ScenarioChoice::Multiple => "Multiple",
        }
    }
}

/// Names given to keys that have a default name: column headers, scenario texts.
pub trait Named: Copy + Ord {
    /// The name unless the organisation mapped another.
    fn default_name(self) -> &'static str;
}

impl Named for Field {
    fn default_name(self) -> &'static str {
        self.default_header()
    }
}

impl Named for Scenario {
    fn default_name(self) -> &'static str {
        self.default_value()
    }
}

/// A name per key as mapped in the portal; a key not set here has its default name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names<K> {
    names: BTreeMap<K, String>,
}

impl<K> Default for Names<K> {
    fn default() -> Self {
        Names {
            names: BTreeMap::new(),
        }
    }
}

impl<K: Named> Names<K> {
    /// The name of `key`: mapped, or its default.
    pub fn get(&self, key: K) -> &str {
        self.names
            .get(&key)
            .map_or(key.default_name(), String::as_str)
    }

    /// Maps `key` to `name`.
    pub fn set(&mut self, key: K, name: impl Into<String>) {
        self.names.insert(key, name.into());
    }

    /// The same names with `key` mapped to `name`.
    pub fn with(mut self, key: K, name: impl Into<String>) -> Self {
        self.set(key, name);
        self
    }

    /// The keys mapped explicitly.
    pub fn mapped(&self) -> impl Iterator<Item = K> + '_ {
        self.names.keys().copied()
    }
}

/// Header names of the columns ([`Field::default_header`] unless mapped).
pub type ColumnNames = Names<Field>;

/// The texts of a multi-scenario file's scenario column ([`Scenario::default_value`] unless
/// mapped).
pub type ScenarioValues = Names<Scenario>;

/// The header a multi-scenario file's scenario column has unless told otherwise.
pub const DEFAULT_SCENARIO_COLUMN: &str = "HRScenario";

/// How a file is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    pub scenario: ScenarioChoice,
    pub columns: ColumnNames,
    /// Header of the column naming each record's scenario (with [`ScenarioChoice::Multiple`]).
    pub scenario_column: String,
    pub scenario_values: ScenarioValues,
    pub invalid_rows: InvalidRows,
    /// How many record errors a report keeps; the total is always counted.
    pub max_errors: usize,
    /// How many warnings a report keeps; the total is always counted.
    pub max_warnings: usize,
    /// Bounds on a field and on columns, checked while parsing.
    pub limits: Limits,
}

/// The default of [`Limits::max_field_bytes`]: 1 MiB.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 1024 * 1024;
/// The default of [`Limits::max_columns`].
pub const DEFAULT_MAX_COLUMNS: usize = 1000;

/// Bounds on what one record may hold. The parser stops at the first field or column over
/// them, before buffering more: a file of one 100 MiB field, or of a 40 MB line of commas, is
/// rejected in constant memory instead of being read whole into one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one field (unquoted), in the header or any record.
    pub max_field_bytes: usize,
    /// Fields of the header or of any record.
    pub max_columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            max_columns: DEFAULT_MAX_COLUMNS,
        }
    }
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            scenario: ScenarioChoice::default(),
            columns: ColumnNames::default(),
            scenario_column: DEFAULT_SCENARIO_COLUMN.to_owned(),
            scenario_values: ScenarioValues::default(),
            invalid_rows: InvalidRows::default(),
            max_errors: 100,
            max_warnings: 100,
            limits: Limits::default(),
        }
    }
}

/// Options that contradict themselves or the scenario; worded for the CLI and the CRD alike
/// (the caller says where the option came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("{field} is not a column of scenario {scenario}; its columns are {}", .valid.join(", "))]
    FieldNotInScenario {
        field: Field,
        scenario: &'static str,
        valid: Vec<String>,
    },
    #[error("the header of {0} must not be empty")]
    EmptyHeader(Field),
    #[error("the scenario column's header must not be empty")]
    EmptyScenarioColumn,
    #[error("the scenario text of {0} must not be empty")]
    EmptyScenarioValue(Scenario),
    #[error("{0} and {1} have the same scenario text {2:?}; each scenario needs its own")]
    SameScenarioValue(Scenario, Scenario, String),
}

impl ValidationOptions {
    /// The options for one scenario, everything else as default.
    pub fn for_scenario(scenario: Scenario) -> Self {
        ValidationOptions {
            scenario: ScenarioChoice::One(scenario),
            ..ValidationOptions::default()
        }
    }

    /// The fields the chosen scenario (or scenarios) can have, in table order.
    pub fn fields(&self) -> Vec<Field> {
        fields_of(&self.scenario.scenarios())
    }

    /// Every problem with the options: a column mapped that the scenario does not have, an
    /// empty header, two scenarios with the same text.
    pub fn check(&self) -> Result<(), Vec<OptionsError>> {
        let fields = self.fields();
        let mut problems = Vec::new();
        for field in self.columns.mapped() {
            if !fields.contains(&field) {
                problems.push(OptionsError::FieldNotInScenario {
                    field,
                    scenario: self.scenario.name(),
                    valid: fields.iter().map(|f| f.name()).collect(),
                });
            } else if self.columns.get(field).is_empty() {
                problems.push(OptionsError::EmptyHeader(field));
            }
        }
        if self.scenario == ScenarioChoice::Multiple {
            if self.scenario_column.is_empty() {
                problems.push(OptionsError::EmptyScenarioColumn);
            }
            for (i, a) in Scenario::ALL.into_iter().enumerate() {
                let text = self.scenario_values.get(a);
                if text.is_empty() {
                    problems.push(OptionsError::EmptyScenarioValue(a));
                }
                if let Some(b) = Scenario::ALL[i + 1..]
                    .iter()
                    .find(|b| self.scenario_values.get(**b).eq_ignore_ascii_case(text))
                {
                    problems.push(OptionsError::SameScenarioValue(a, *b, text.to_owned()));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_another_scenario_is_refused_with_the_valid_ones() {
        let mut opts = ValidationOptions::for_scenario(Scenario::PerformanceReview);
        opts.columns.set(Field::TerminationDate, "Left");
        let problems = opts.check().unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "terminationDate is not a column of scenario PerformanceReview; its columns are \
             emailAddress, effectiveDate, remarks, rating"
        );
        opts.columns = ColumnNames::default().with(Field::Rating, "PerformanceRating");
        assert_eq!(opts.check(), Ok(()));
    }

    #[test]
    fn multiple_checks_the_scenario_texts() {
        let mut opts = ValidationOptions {
            scenario: ScenarioChoice::Multiple,
            ..ValidationOptions::default()
        };
        assert_eq!(opts.check(), Ok(()));
        opts.scenario_values
            .set(Scenario::PerformanceReview, "job LEVEL change");
        let problems = opts.check().unwrap_err();
        assert!(matches!(
            problems[..],
            [OptionsError::SameScenarioValue(
                Scenario::JobLevelChange,
                Scenario::PerformanceReview,
                _
            )]
        ));
    }
}
