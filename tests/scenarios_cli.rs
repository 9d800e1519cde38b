//! `hrconnector validate` for every HR data type (scenario), and for files that mix them, run as
//! a real process. Valid files are modelled on the examples of Microsoft's HR connector article
//! (tests/fixtures/csv); broken ones are written per test.

#[path = "common/validate.rs"]
mod validate_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use validate_support::{csv_fixture as fixture, errors, validate_path as validate};

fn validate_json(path: &Path, extra: &[&str]) -> (i32, Value) {
    validate_support::validate_path_json(path, extra)
}

/// A file in a fresh temporary directory (kept alive by the returned guard).
fn csv_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hr.csv");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

fn err(record: u64, line: u64, column: &str, message: &str) -> (u64, u64, Option<String>, String) {
    (record, line, Some(column.to_owned()), message.to_owned())
}

#[test]
fn every_scenario_validates_its_own_example() {
    for (file, scenario, name, extra) in [
        ("sample.csv", "resignation", "Resignation", &[][..]),
        (
            "job_level_change.csv",
            "job-level-change",
            "JobLevelChange",
            &[],
        ),
        (
            "performance_review.csv",
            "performance-review",
            "PerformanceReview",
            &[],
        ),
        (
            "performance_improvement_plan.csv",
            "performance-improvement-plan",
            "PerformanceImprovementPlan",
            &[
                "--column",
                "remarks=ImprovementRemarks",
                "--column",
                "rating=PerformanceRating",
            ],
        ),
        (
            "employee_profile.csv",
            "employee-profile",
            "EmployeeProfile",
            &[],
        ),
    ] {
        let mut args = vec!["--scenario", scenario];
        args.extend_from_slice(extra);
        let (code, report) = validate_json(&fixture(file), &args);
        assert_eq!(code, 0, "{file}: {report}");
        assert_eq!(report["errors"], json!([]), "{file}");
        assert_eq!(report["scenarios"], json!({ name: 2 }), "{file}");

        let (code, stdout, _) = validate(&fixture(file), &args);
        assert_eq!(code, 0);
        assert!(stdout.contains(&format!("  {name}: 2 records")), "{stdout}");
    }
}

#[test]
fn the_resignation_default_refuses_another_scenario_file() {
    // What every performance-review customer saw before scenarios existed.
    let (code, report) = validate_json(&fixture("performance_review.csv"), &[]);
    assert_eq!(code, 1);
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains("\"TerminationDate\", \"LastWorkingDate\""),
        "{error}"
    );
}

#[test]
fn every_rule_of_every_scenario_names_record_line_and_column() {
    let valid_pr = "a@contoso.com,2019-04-23T15:18:02Z,fine,2\n";
    let cases: &[(&str, &str, &str, &str, &str, &str)] = &[
        // scenario, header, bad record, column, message, offending value
        (
            "job-level-change",
            "EmailAddress,EffectiveDate,Remarks,OldLevel,NewLevel",
            "not-an-email,2019-04-23T15:18:02Z,,L1,L2",
            "EmailAddress",
            "not a valid email address",
            "not-an-email",
        ),
        (
            "job-level-change",
            "EmailAddress,EffectiveDate,Remarks,OldLevel,NewLevel",
            "a@contoso.com,2019-04-23,,L1,L2",
            "EffectiveDate",
            "not an ISO 8601 date-time: a date without a time (expected yyyy-mm-ddThh:mm:ss)",
            "2019-04-23",
        ),
        (
            "performance-review",
            "EmailAddress,EffectiveDate,Remarks,Rating",
            "a@contoso.com,,fine,2",
            "EffectiveDate",
            "is empty",
            "",
        ),
        (
            "performance-review",
            "EmailAddress,EffectiveDate,Remarks,Rating",
            "a@contoso.com,2019-04-23T15:18:02Z,fine,twenty-six characters long",
            "Rating",
            "has 26 characters, more than the 25 allowed",
            "twenty-six characters long",
        ),
        (
            "performance-improvement-plan",
            "EmailAddress,EffectiveDate,Remarks,Rating",
            "a@contoso.com,2019-04-23 15:18:02,fine,2",
            "EffectiveDate",
            "not an ISO 8601 date-time: date and time must be separated by \"T\"",
            "2019-04-23 15:18:02",
        ),
        (
            "employee-profile",
            "EmailAddress,EmployeeFirstName,EmployeeLastName,EmployeeAddressLine1,EmployeeZipCode",
            "a@contoso.com,Sara,,1 Contoso Way,98052",
            "EmployeeLastName",
            "is empty",
            "",
        ),
        (
            "employee-profile",
            "EmailAddress,EmployeeFirstName,EmployeeLastName,EmployeeAddressLine1,EmployeeZipCode",
            "sara@,Sara,Davis,1 Contoso Way,98052",
            "EmailAddress",
            "not a valid email address",
            "sara@",
        ),
    ];
    for (scenario, header, bad, column, message, value) in cases {
        // The bad record is the second, on line 3: after the header and a valid record.
        let first = match *scenario {
            "job-level-change" => "a@contoso.com,2019-04-23T15:18:02Z,,L1,L2\n",
            "employee-profile" => "a@contoso.com,Sara,Davis,1 Contoso Way,98052\n",
            _ => valid_pr,
        };
        let (_dir, path) = csv_file(&format!("{header}\n{first}{bad}\n"));
        let (code, report) = validate_json(&path, &["--scenario", scenario]);
        assert_eq!(code, 1, "{scenario} {bad}: {report}");
        assert_eq!(
            errors(&report),
            [err(2, 3, column, message)],
            "{scenario} {bad}"
        );
        assert_eq!(report["rejected"], 1);
        if !value.is_empty() {
            assert!(
                !report.to_string().contains(value),
                "value in JSON: {report}"
            );
            let (_, stdout, _) = validate(&path, &["--scenario", scenario]);
            assert!(
                stdout.contains(&format!(": {value:?}")),
                "text output shows the value: {stdout}"
            );
        }
    }
}

#[test]
fn remarks_are_counted_in_characters_not_bytes() {
    let header = "EmailAddress,EffectiveDate,Remarks,Rating\n";
    // "é" is two bytes and "😀" four: 200 characters are 400 or 800 bytes.
    for (remarks, ok) in [
        ("é".repeat(200), true),
        ("😀".repeat(200), true),
        (format!("{}a", "é".repeat(200)), false),
        ("a".repeat(201), false),
    ] {
        let (_dir, path) = csv_file(&format!(
            "{header}a@contoso.com,2019-04-23T15:18:02Z,{remarks},2\n"
        ));
        let (code, report) = validate_json(&path, &["--scenario", "performance-review"]);
        if ok {
            assert_eq!(code, 0, "{} bytes: {report}", remarks.len());
        } else {
            assert_eq!(
                errors(&report),
                [err(
                    1,
                    2,
                    "Remarks",
                    "has 201 characters, more than the 200 allowed"
                )]
            );
        }
    }
}

#[test]
fn the_article_pip_headers_map_to_remarks_and_rating() {
    let text = "EmailAddress,EffectiveDate,ImprovementRemarks,PerformanceRating\n\
                a@contoso.com,2019-04-23T15:18:02Z,Needs improvement,a rating of twenty-six chr\n";
    let (_dir, path) = csv_file(text);
    let pip = ["--scenario", "performance-improvement-plan"];
    // Unmapped, the two columns are only passed along: optional columns need not be there.
    let (code, report) = validate_json(&path, &pip);
    assert_eq!(code, 0, "{report}");
    let mut mapped = pip.to_vec();
    mapped.extend([
        "--column",
        "remarks=improvementremarks",
        "--column",
        "rating=PerformanceRating",
    ]);
    let (code, report) = validate_json(&path, &mapped);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        [err(
            1,
            2,
            "PerformanceRating",
            "has 26 characters, more than the 25 allowed"
        )]
    );
}

const MULTI: [&str; 4] = ["--scenario", "multiple", "--scenario-column", "HRScenarios"];

#[test]
fn a_multi_scenario_file_checks_each_row_by_its_own_scenario() {
    let (code, report) = validate_json(&fixture("multiple.csv"), &MULTI);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["records"], 4);
    assert_eq!(
        report["scenarios"],
        json!({"Resignation": 1, "JobLevelChange": 1, "PerformanceReview": 1,
               "PerformanceImprovementPlan": 1})
    );
    let (_, stdout, _) = validate(&fixture("multiple.csv"), &MULTI);
    for line in [
        "  Resignation: 1 record",
        "  JobLevelChange: 1 record",
        "  PerformanceReview: 1 record",
        "  PerformanceImprovementPlan: 1 record",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line}: {stdout}");
    }
}

#[test]
fn multi_scenario_errors_name_record_column_and_allowed_values() {
    let text = "HRScenario,EmailAddress,EffectiveDate,Rating\n\
                Performance review,a@contoso.com,2019-04-23T15:18:02Z,2\n\
                Promotion,b@contoso.com,2019-04-23T15:18:02Z,\n\
                ,c@contoso.com,2019-04-23T15:18:02Z,\n\
                Job level change,d@contoso.com,,\n\
                Resignation,e@contoso.com,,\n";
    let (_dir, path) = csv_file(text);
    let (code, report) = validate_json(&path, &["--scenario", "multiple"]);
    assert_eq!(code, 1);
    let allowed = "\"Resignation\", \"Job level change\", \"Performance review\", \
                   \"Performance improvement plan\", \"Employee profile\"";
    assert_eq!(
        errors(&report),
        [
            err(
                2,
                3,
                "HRScenario",
                &format!("is not a known scenario; allowed: {allowed}")
            ),
            err(
                3,
                4,
                "HRScenario",
                &format!("is empty; the scenario must be one of {allowed}")
            ),
            // A row of one scenario missing its own required value.
            err(4, 5, "EffectiveDate", "is empty"),
            // A row whose scenario needs columns the header does not have.
            err(
                5,
                6,
                "TerminationDate",
                "is required for a Resignation record, but the header has no such column"
            ),
            err(
                5,
                6,
                "LastWorkingDate",
                "is required for a Resignation record, but the header has no such column"
            ),
        ]
    );
    assert!(!report.to_string().contains("Promotion"));
    assert_eq!(report["scenarios"], json!({"PerformanceReview": 1}));

    // Mapped texts replace the defaults.
    let (code, report) = validate_json(
        &path,
        &[
            "--scenario",
            "multiple",
            "--scenario-value",
            "job-level-change=Promotion",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(errors(&report)[0].0, 3, "{report}");
}

#[test]
fn skip_and_the_error_cap_work_for_every_scenario() {
    let mut text = String::from("EmailAddress,EffectiveDate\n");
    for i in 0..150 {
        text.push_str(&format!("p{i}@contoso.com,yesterday\n"));
    }
    text.push_str("ok@contoso.com,2019-04-23T15:18:02Z\n");
    let (_dir, path) = csv_file(&text);
    let args = ["--scenario", "job-level-change", "--invalid-rows", "skip"];
    let (code, report) = validate_json(&path, &args);
    assert_eq!(code, 0, "skip: readable is success");
    assert_eq!(
        (&report["records"], &report["rejected"]),
        (&json!(151), &json!(150))
    );
    assert_eq!(report["errors"].as_array().expect("errors").len(), 100);
    assert_eq!(report["scenarios"], json!({"JobLevelChange": 1}));
}

#[test]
fn usage_errors_list_the_valid_fields() {
    let path = fixture("performance_review.csv");
    for (args, wanted) in [
        (
            &[
                "--scenario",
                "performance-review",
                "--column",
                "terminationDate=Left",
            ][..],
            "--column terminationDate: not a column of --scenario performance-review; its fields \
             are emailAddress, effectiveDate, remarks, rating",
        ),
        (
            &[
                "--scenario",
                "performance-review",
                "--column",
                "grade=Grade",
            ],
            "unknown field \"grade\"; the fields of --scenario performance-review are \
             emailAddress, effectiveDate, remarks, rating",
        ),
        (
            &[
                "--scenario",
                "performance-review",
                "--termination-date-column",
                "Left",
            ],
            "--column terminationDate: not a column of --scenario performance-review",
        ),
        (
            &["--column", "rating"],
            "expected FIELD=HEADER; FIELD is one of emailAddress, terminationDate, lastWorkingDate",
        ),
        (
            &["--scenario-column", "Kind"],
            "--scenario-column needs --scenario multiple",
        ),
        (
            &[
                "--scenario",
                "multiple",
                "--scenario-value",
                "promotion=Promotion",
            ],
            "unknown scenario \"promotion\"; the scenarios are resignation, job-level-change",
        ),
        (
            &[
                "--scenario",
                "multiple",
                "--scenario-value",
                "performance-review=Job level change",
            ],
            "JobLevelChange and PerformanceReview have the same scenario text",
        ),
    ] {
        let (code, stdout, stderr) = validate(&path, args);
        assert_eq!(code, 2, "{args:?}: {stdout} {stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    }
}

#[test]
fn the_column_help_lists_every_scenarios_fields() {
    let out = Command::new(env!("CARGO_BIN_EXE_hrconnector"))
        .args(["validate", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for scenario in hrconnector::hrdata::Scenario::ALL {
        assert!(help.contains(scenario.cli_name()), "{help}");
        for column in scenario.columns() {
            assert!(help.contains(&column.field.name()), "{help}");
        }
    }
    assert!(help.contains("text, at most 200 characters"), "{help}");
}
