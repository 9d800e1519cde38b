//! The Helm chart ships the same CRD as `crds/` (Helm installs it from the chart's `crds/`).
//! scripts/check-deploy.sh checks this too, with the rest of the deployment files.

#[test]
fn chart_crd_equals_top_level_crd() {
    let root = env!("CARGO_MANIFEST_DIR");
    let top = std::fs::read_to_string(format!("{root}/crds/hrconnector.io_hrconnectorjobs.yaml"))
        .expect("crds/hrconnector.io_hrconnectorjobs.yaml");
    let chart = std::fs::read_to_string(format!(
        "{root}/charts/hrconnector/crds/hrconnector.io_hrconnectorjobs.yaml"
    ))
    .expect("charts/hrconnector/crds/hrconnector.io_hrconnectorjobs.yaml");
    assert!(
        top == chart,
        "charts/hrconnector/crds/ differs from crds/: cp crds/hrconnector.io_hrconnectorjobs.yaml charts/hrconnector/crds/"
    );
}
