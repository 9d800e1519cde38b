//! Local token and ingestion endpoints that behave like the real services (DESIGN.md §1), strict
//! enough to refuse what they would refuse, with fault injection for retry and resume tests.
//!
//! Use it in-process with [`start`] (tests, the demo) or as `hrconnector emulator`. Besides the
//! two real endpoints it serves `GET /api/log?jobid=J` (the portal's "Download log") and the
//! emulator-only control routes under `/_emulator/` (see [`control`]).
//!
//! - token: `POST /{tenant}/oauth2/token?api-version=1.0` — see `token.rs` for the checks and
//!   their AADSTS codes, `assertion.rs` for certificate client assertions. A client assertion's
//!   `aud` must be the token URL the client posted to, with or without its query string.
//! - upload: `POST /api/signals?jobid=J` — see `ingest.rs`.
//!
//! Secrets, client assertions and access tokens are never logged.

mod aad;
mod assertion;
mod config;
pub mod control;
mod faults;
mod federated;
mod ingest;
mod record;
mod server;
mod state;
mod token;

pub use assertion::JWT_BEARER;
pub use config::{
    AppRegistration, ConfigError, EmulatorConfig, FederatedCredential, TrustedIssuer, x5t_of_der,
};
pub use faults::{Fault, FaultAction, FaultTarget};
pub use server::{
    EmulatorHandle, MAX_BODY_BYTES, RouterHandle, TlsIdentity, serve_tls, start, start_tls,
};
pub use state::{LogEntry, RequestKind, RequestRecord};

/// Tenant of the demo app `hrconnector emulator` registers when given no app flags.
pub const DEMO_TENANT_ID: &str = "00000000-0000-4000-8000-00000000de00";
/// App (client) id of the demo app.
pub const DEMO_APP_ID: &str = "00000000-0000-4000-8000-00000000de01";
/// Secret of the demo app. Fake on purpose: it only ever opens the local emulator.
pub const DEMO_APP_SECRET: &str = "demo-secret-not-for-production";
/// Connector job id the demo uses.
pub const DEMO_JOB_ID: &str = "00000000-0000-4000-8000-00000000de02";

impl EmulatorConfig {
    /// The configuration `hrconnector emulator` runs with when given no app flags: the demo app
    /// with its secret, and the demo job.
    pub fn demo() -> Self {
        Self {
            apps: vec![AppRegistration {
                tenant_id: DEMO_TENANT_ID.to_string(),
                app_id: DEMO_APP_ID.to_string(),
                secret: Some(DEMO_APP_SECRET.to_string()),
                certificate_pem: None,
                federated_credentials: Vec::new(),
            }],
            jobs: vec![DEMO_JOB_ID.to_string()],
            ..Self::default()
        }
    }
}
