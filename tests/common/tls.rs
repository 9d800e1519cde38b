//! A test PKI made here and now (rcgen, aws-lc-rs): a CA the client trusts only through
//! `--ca-file` / `SSL_CERT_FILE`, server certificates for the emulator (good, expired, wrong
//! name), and a service-account token issuer whose key the emulator trusts for federated
//! credentials.

use std::path::{Path, PathBuf};

use hrconnector::emulator::{
    self, AppRegistration, EmulatorConfig, EmulatorHandle, FederatedCredential, TlsIdentity,
    TrustedIssuer,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};

use super::{APP, CERT_APP, JOB, SECRET, TENANT, fixture, write_csv};

/// App with a federated credential for `system:serviceaccount:{FED_NAMESPACE}:{FED_ACCOUNT}`.
pub const FED_APP: &str = "c5e7f9a1-3d4f-4a6b-8c2d-e4f6a8b0c2d4";
pub const FED_NAMESPACE: &str = "hr";
pub const FED_ACCOUNT: &str = "hr-uploader";
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
pub const ISSUER_URL: &str = "https://oidc.test-cluster.invalid";

/// Which server certificate the emulator presents.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ServerCert {
    /// For 127.0.0.1 and localhost, signed by the test CA, valid now.
    Good,
    /// Same, but it expired in 2021.
    Expired,
    /// Valid, but for another host name.
    WrongName,
}

/// The key (and so the signature algorithm) of a server certificate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServerKey {
    EcdsaP256,
    Rsa2048,
}

impl ServerKey {
    fn generate(self) -> KeyPair {
        match self {
            ServerKey::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            ServerKey::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
        }
        .expect("server key")
    }
}

pub struct TestPki {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    pub ca_pem: String,
}

impl TestPki {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "hrconnector test agency inspection CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_pem = ca_params.self_signed(&ca_key).expect("CA cert").pem();
        TestPki {
            ca_params,
            ca_key,
            ca_pem,
        }
    }

    pub fn server(&self, kind: ServerCert) -> TlsIdentity {
        self.server_with_key(kind, ServerKey::EcdsaP256)
    }

    pub fn server_with_key(&self, kind: ServerCert, key: ServerKey) -> TlsIdentity {
        let names = match kind {
            ServerCert::WrongName => vec!["login.example.invalid".to_string()],
            _ => vec!["127.0.0.1".to_string(), "localhost".to_string()],
        };
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "emulator");
        if kind == ServerCert::Expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = key.generate();
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).expect("server cert");
        TlsIdentity {
            cert_chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the CA bundle into `dir` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("agency-ca.pem");
        std::fs::write(&path, &self.ca_pem).expect("write CA");
        path
    }
}

/// A cluster's service-account token issuer (ES256), as the API server is one.
pub struct TokenIssuer {
    key: jsonwebtoken::EncodingKey,
    pub public_key_pem: String,
}

impl TokenIssuer {
    pub fn new() -> Self {
        let pair = KeyPair::generate().expect("issuer key");
        TokenIssuer {
            key: jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes())
                .expect("issuer encoding key"),
            public_key_pem: pair.public_key_pem(),
        }
    }

    /// A projected service account token for NAMESPACE:NAME, valid for `lifetime` seconds
    /// (negative: already expired).
    pub fn token(&self, namespace: &str, name: &str, audience: &str, lifetime: i64) -> String {
        let now = jiff::Timestamp::now().as_second();
        let claims = serde_json::json!({
            "iss": ISSUER_URL,
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name}},
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &self.key,
        )
        .expect("sign token")
    }
}

/// The emulator's config: the secret app, the certificate app, and the federated app trusting
/// `issuer` for one service account.
pub fn config_with_federation(issuer: &TokenIssuer) -> EmulatorConfig {
    let cert = std::fs::read_to_string(fixture("certs/test-app.crt")).expect("test certificate");
    EmulatorConfig {
        apps: vec![
            AppRegistration {
                tenant_id: TENANT.into(),
                app_id: APP.into(),
                secret: Some(SECRET.into()),
                ..AppRegistration::default()
            },
            AppRegistration {
                tenant_id: TENANT.into(),
                app_id: CERT_APP.into(),
                certificate_pem: Some(cert),
                ..AppRegistration::default()
            },
            AppRegistration {
                tenant_id: TENANT.into(),
                app_id: FED_APP.into(),
                federated_credentials: vec![FederatedCredential {
                    issuer: ISSUER_URL.into(),
                    subject: format!("system:serviceaccount:{FED_NAMESPACE}:{FED_ACCOUNT}"),
                    audience: AUDIENCE.into(),
                }],
                ..AppRegistration::default()
            },
        ],
        jobs: vec![JOB.into()],
        issuers: vec![TrustedIssuer {
            issuer: ISSUER_URL.into(),
            public_key_pem: issuer.public_key_pem.clone(),
        }],
        ..EmulatorConfig::default()
    }
}

/// The emulator over HTTPS with `kind`'s certificate, knowing the three apps.
pub async fn start_https_emulator(
    pki: &TestPki,
    kind: ServerCert,
    issuer: &TokenIssuer,
) -> EmulatorHandle {
    start_https_emulator_with(&pki.server(kind), issuer).await
}

/// The emulator over HTTPS presenting `identity`, knowing the three apps.
pub async fn start_https_emulator_with(
    identity: &TlsIdentity,
    issuer: &TokenIssuer,
) -> EmulatorHandle {
    emulator::start_tls(
        config_with_federation(issuer),
        ([127, 0, 0, 1], 0).into(),
        identity,
    )
    .await
    .expect("emulator starts")
}

/// A temporary directory with a five-record CSV, a test CA and a token issuer.
pub struct TlsSetup {
    pub dir: tempfile::TempDir,
    pub pki: TestPki,
    pub issuer: TokenIssuer,
    pub csv: String,
    pub records: Vec<Vec<String>>,
}

impl TlsSetup {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (csv, records) = write_csv(dir.path(), "hr.csv", 5);
        TlsSetup {
            pki: TestPki::new(),
            issuer: TokenIssuer::new(),
            csv: csv.to_string_lossy().into_owned(),
            records,
            dir,
        }
    }
}
