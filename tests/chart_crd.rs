//! The Helm chart templates the same CRD as `crds/` (templates/crds.yaml reads its verbatim copy
//! `charts/hrconnector/files/`; the chart has no `crds/` directory, so Helm never installs the CRD
//! twice). scripts/check-deploy.sh checks this too, and renders the template.

#[test]
fn chart_crd_equals_top_level_crd() {
    let root = env!("CARGO_MANIFEST_DIR");
    let top = std::fs::read_to_string(format!("{root}/crds/hrconnector.io_hrconnectorjobs.yaml"))
        .expect("crds/hrconnector.io_hrconnectorjobs.yaml");
    let chart = std::fs::read_to_string(format!(
        "{root}/charts/hrconnector/files/hrconnector.io_hrconnectorjobs.yaml"
    ))
    .expect("charts/hrconnector/files/hrconnector.io_hrconnectorjobs.yaml");
    assert!(
        top == chart,
        "charts/hrconnector/files/ differs from crds/: cp crds/hrconnector.io_hrconnectorjobs.yaml charts/hrconnector/files/"
    );
}

#[test]
fn chart_has_no_crds_directory() {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        !std::path::Path::new(&format!("{root}/charts/hrconnector/crds")).exists(),
        "charts/hrconnector/crds/ would make Helm install the CRD besides templates/crds.yaml"
    );
}
