//! The HR data types (scenarios) the Purview HR connector takes, as data: each scenario is a
//! list of typed columns. The validator walks this table; the CLI help, the CRD field
//! descriptions and the README's tables are generated from it or tested against it.
//!
//! Facts from Microsoft's HR connector articles (DESIGN.md §5): column names are examples the
//! organisation maps in the portal; dates are ISO 8601 date-times; `Remarks` holds at most 200
//! characters and `Rating` at most 25.

use std::fmt;

/// One HR data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    Resignation,
    JobLevelChange,
    PerformanceReview,
    PerformanceImprovementPlan,
    EmployeeProfile,
}

/// One column any scenario can have, named as in the CLI's `--column` and the CRD's
/// `spec.columns` (camelCase); its default header is the PascalCase form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    EmailAddress,
    TerminationDate,
    LastWorkingDate,
    EffectiveDate,
    Remarks,
    Rating,
    OldLevel,
    NewLevel,
    EmployeeFirstName,
    EmployeeLastName,
    EmployeeAddressLine1,
    EmployeeAddressLine2,
    EmployeeCity,
    EmployeeState,
    EmployeeZipCode,
    EmployeeCountry,
    EmployeeDepartment,
    EmployeeType,
    EmployeeRole,
}

/// What a value of a column must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A bare email address (the person's UPN).
    Email,
    /// An ISO 8601 date-time in one of the three forms of [`super::datetime`].
    DateTime,
    /// Free text of at most `max_chars` characters (Unicode scalar values, not bytes), when the
    /// articles give a maximum.
    Text { max_chars: Option<usize> },
}

/// One column of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub field: Field,
    pub rule: Rule,
    /// A required column must be in the header and its value must not be empty; an optional
    /// one may be missing from the header or blank, and is checked when it has a value.
    pub required: bool,
}

const fn required(field: Field, rule: Rule) -> Column {
    Column {
        field,
        rule,
        required: true,
    }
}

const fn optional(field: Field, rule: Rule) -> Column {
    Column {
        field,
        rule,
        required: false,
    }
}

const TEXT: Rule = Rule::Text { max_chars: None };
const REMARKS: Rule = Rule::Text {
    max_chars: Some(200),
};
const RATING: Rule = Rule::Text {
    max_chars: Some(25),
};

const RESIGNATION: &[Column] = &[
    required(Field::EmailAddress, Rule::Email),
    required(Field::TerminationDate, Rule::DateTime),
    required(Field::LastWorkingDate, Rule::DateTime),
];
const JOB_LEVEL_CHANGE: &[Column] = &[
    required(Field::EmailAddress, Rule::Email),
    required(Field::EffectiveDate, Rule::DateTime),
    optional(Field::Remarks, REMARKS),
    optional(Field::OldLevel, TEXT),
    optional(Field::NewLevel, TEXT),
];
const PERFORMANCE: &[Column] = &[
    required(Field::EmailAddress, Rule::Email),
    required(Field::EffectiveDate, Rule::DateTime),
    optional(Field::Remarks, REMARKS),
    optional(Field::Rating, RATING),
];
const EMPLOYEE_PROFILE: &[Column] = &[
    required(Field::EmailAddress, Rule::Email),
    required(Field::EmployeeFirstName, TEXT),
    required(Field::EmployeeLastName, TEXT),
    required(Field::EmployeeAddressLine1, TEXT),
    optional(Field::EmployeeAddressLine2, TEXT),
    optional(Field::EmployeeCity, TEXT),
    optional(Field::EmployeeState, TEXT),
    required(Field::EmployeeZipCode, TEXT),
    optional(Field::EmployeeCountry, TEXT),
    optional(Field::EmployeeDepartment, TEXT),
    optional(Field::EmployeeType, TEXT),
    optional(Field::EmployeeRole, TEXT),
];

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Resignation,
        Scenario::JobLevelChange,
        Scenario::PerformanceReview,
        Scenario::PerformanceImprovementPlan,
        Scenario::EmployeeProfile,
    ];

    /// The name in the CRD (`spec.scenario`), in JSON output and in status.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Resignation => "Resignation",
            Scenario::JobLevelChange => "JobLevelChange",
            Scenario::PerformanceReview => "PerformanceReview",
            Scenario::PerformanceImprovementPlan => "PerformanceImprovementPlan",
            Scenario::EmployeeProfile => "EmployeeProfile",
        }
    }

    /// The name on the command line (`--scenario`, `--scenario-value`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Scenario::Resignation => "resignation",
            Scenario::JobLevelChange => "job-level-change",
            Scenario::PerformanceReview => "performance-review",
            Scenario::PerformanceImprovementPlan => "performance-improvement-plan",
            Scenario::EmployeeProfile => "employee-profile",
        }
    }

    /// The text a multi-scenario file's scenario column holds for this scenario unless the
    /// organisation mapped another (the article's examples).
    pub fn default_value(self) -> &'static str {
        match self {
            Scenario::Resignation => "Resignation",
            Scenario::JobLevelChange => "Job level change",
            Scenario::PerformanceReview => "Performance review",
            Scenario::PerformanceImprovementPlan => "Performance improvement plan",
            Scenario::EmployeeProfile => "Employee profile",
        }
    }

    /// The scenario's columns, in the articles' order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Scenario::Resignation => RESIGNATION,
            Scenario::JobLevelChange => JOB_LEVEL_CHANGE,
            Scenario::PerformanceReview | Scenario::PerformanceImprovementPlan => PERFORMANCE,
            Scenario::EmployeeProfile => EMPLOYEE_PROFILE,
        }
    }

    /// Whether `field` is one of this scenario's columns.
    pub fn has(self, field: Field) -> bool {
        self.columns().iter().any(|c| c.field == field)
    }

    /// A scenario by its CLI or CRD name (case-insensitive).
    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| {
            s.cli_name().eq_ignore_ascii_case(name) || s.name().eq_ignore_ascii_case(name)
        })
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Scenario {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Field {
    pub const ALL: [Field; 19] = [
        Field::EmailAddress,
        Field::TerminationDate,
        Field::LastWorkingDate,
        Field::EffectiveDate,
        Field::Remarks,
        Field::Rating,
        Field::OldLevel,
        Field::NewLevel,
        Field::EmployeeFirstName,
        Field::EmployeeLastName,
        Field::EmployeeAddressLine1,
        Field::EmployeeAddressLine2,
        Field::EmployeeCity,
        Field::EmployeeState,
        Field::EmployeeZipCode,
        Field::EmployeeCountry,
        Field::EmployeeDepartment,
        Field::EmployeeType,
        Field::EmployeeRole,
    ];

    /// The header the column has unless the organisation mapped another: the PascalCase name.
    pub fn default_header(self) -> &'static str {
        match self {
            Field::EmailAddress => "EmailAddress",
            Field::TerminationDate => "TerminationDate",
            Field::LastWorkingDate => "LastWorkingDate",
            Field::EffectiveDate => "EffectiveDate",
            Field::Remarks => "Remarks",
            Field::Rating => "Rating",
            Field::OldLevel => "OldLevel",
            Field::NewLevel => "NewLevel",
            Field::EmployeeFirstName => "EmployeeFirstName",
            Field::EmployeeLastName => "EmployeeLastName",
            Field::EmployeeAddressLine1 => "EmployeeAddressLine1",
            Field::EmployeeAddressLine2 => "EmployeeAddressLine2",
            Field::EmployeeCity => "EmployeeCity",
            Field::EmployeeState => "EmployeeState",
            Field::EmployeeZipCode => "EmployeeZipCode",
            Field::EmployeeCountry => "EmployeeCountry",
            Field::EmployeeDepartment => "EmployeeDepartment",
            Field::EmployeeType => "EmployeeType",
            Field::EmployeeRole => "EmployeeRole",
        }
    }

    /// The name in `--column FIELD=HEADER` and in the CRD's `spec.columns` (camelCase).
    pub fn name(self) -> String {
        let header = self.default_header();
        let mut chars = header.chars();
        chars
            .next()
            .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
            .unwrap_or_default()
    }

    /// What the column holds, for help texts and documentation.
    pub fn description(self) -> &'static str {
        match self {
            Field::EmailAddress => {
                "the person's user principal name (UPN), usually their email address"
            }
            Field::TerminationDate => {
                "when the person resigned or was terminated (the commercial article's ResignationDate)"
            }
            Field::LastWorkingDate => "the person's last working day",
            Field::EffectiveDate => "when the level change, review or plan took effect",
            Field::Remarks => "free text about the event",
            Field::Rating => "the rating given in the review or plan",
            Field::OldLevel => "the job level before the change",
            Field::NewLevel => "the job level after the change",
            Field::EmployeeFirstName => "the person's first name",
            Field::EmployeeLastName => "the person's last name",
            Field::EmployeeAddressLine1 => "the first line of the person's postal address",
            Field::EmployeeAddressLine2 => "the second line of the person's postal address",
            Field::EmployeeCity => "the city of the person's address",
            Field::EmployeeState => "the state of the person's address",
            Field::EmployeeZipCode => "the postal code of the person's address",
            Field::EmployeeCountry => "the country of the person's address",
            Field::EmployeeDepartment => "the person's department",
            Field::EmployeeType => "the person's employment type",
            Field::EmployeeRole => "the person's role",
        }
    }

    /// A field by its camelCase name (case-insensitive, so `EmailAddress` works too).
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.default_header().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Rule {
    /// The rule in words, for help texts and documentation.
    pub fn describe(self) -> String {
        match self {
            Rule::Email => "email address (UPN)".to_owned(),
            Rule::DateTime => "ISO 8601 date-time".to_owned(),
            Rule::Text { max_chars: None } => "text".to_owned(),
            Rule::Text {
                max_chars: Some(max),
            } => format!("text, at most {max} characters"),
        }
    }
}

/// The fields of the scenarios `scenarios`, each once, in table order.
pub fn fields_of(scenarios: &[Scenario]) -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| scenarios.iter().any(|s| s.has(*f)))
        .collect()
}

/// The long help of `--column`: every scenario's fields with their default headers and rules.
pub fn column_flag_help() -> String {
    let mut out = String::from(
        "Header of a column in the file: FIELD=HEADER, repeatable; header names are matched \
         case-insensitively. FIELD is one of the scenario's fields below; its default header is \
         the PascalCase name.\n",
    );
    for scenario in Scenario::ALL {
        out.push_str(&format!(
            "\n{} (--scenario {}):\n",
            scenario.name(),
            scenario.cli_name()
        ));
        for c in scenario.columns() {
            out.push_str(&format!(
                "  {:<22} {}, {}\n",
                c.field.name(),
                if c.required { "required" } else { "optional" },
                c.rule.describe()
            ));
        }
    }
    out
}

/// The README's tables, one per scenario (tests/schema_docs.rs checks the README holds them).
pub fn markdown_tables() -> String {
    let mut out = String::new();
    for scenario in Scenario::ALL {
        out.push_str(&format!(
            "**{}** (`--scenario {}`, `spec.scenario: {}`; in a multi-scenario file `{}`)\n\n",
            scenario.default_value(),
            scenario.cli_name(),
            scenario.name(),
            scenario.default_value()
        ));
        out.push_str("| column (default header) | required | rule | CLI `--column` / CRD `spec.columns` field |\n");
        out.push_str("|---|---|---|---|\n");
        for c in scenario.columns() {
            out.push_str(&format!(
                "| `{}` | {} | {} | `{}` |\n",
                c.field.default_header(),
                if c.required { "yes" } else { "no" },
                c.rule.describe(),
                c.field.name()
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.cli_name()), Some(s));
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        for f in Field::ALL {
            assert_eq!(Field::parse(&f.name()), Some(f));
            assert!(f.name().starts_with(|c: char| c.is_ascii_lowercase()));
        }
        assert_eq!(Field::TerminationDate.name(), "terminationDate");
        assert_eq!(Field::parse("nope"), None);
    }

    #[test]
    fn every_field_belongs_to_a_scenario_and_every_scenario_has_an_email() {
        assert_eq!(fields_of(&Scenario::ALL), Field::ALL);
        for s in Scenario::ALL {
            assert_eq!(s.columns()[0], required(Field::EmailAddress, Rule::Email));
        }
    }
}
