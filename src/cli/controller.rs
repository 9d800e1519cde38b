//! `hrconnector controller`: the operator.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kube::client::ConfigExt as _;
use tokio_util::sync::CancellationToken;

use super::common::FipsArgs;
use crate::controller::audience_policy::AudiencePolicy;
use crate::controller::endpoint_policy::EndpointPolicy;
use crate::controller::health::{self, Health};
use crate::controller::leader::LeaderConfig;
use crate::controller::metrics::Metrics;
use crate::controller::pvc_job::{PodIds, PvcJobSettings};
use crate::controller::{self, ControllerConfig, SystemClock};
use crate::upload::{RetryPolicy, TokioSleeper};

#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Watch HrConnectorJobs in these namespaces only (repeatable; comma-separated, also in the
    /// variable), each with its own watch so that a Role per namespace is enough. Default: all
    /// namespaces (cluster-wide: needs a ClusterRole).
    #[arg(
        long = "namespace",
        value_name = "NAMESPACE",
        env = "HRCONNECTOR_WATCH_NAMESPACE",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Uploads in flight at once, across all jobs.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_concurrent_uploads: u32,
    /// Upload slots one namespace may hold at once (default: half of --max-concurrent-uploads,
    /// at least 1); a job over its namespace's share waits without failing, and other
    /// namespaces' jobs go past it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_concurrent_uploads_per_namespace: Option<u32>,
    /// Pre-flight checks of azureBlob and s3 sources (credentials, HEAD, validation of a new
    /// version) running at once, in the background: reconcile never waits on them.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_concurrent_preflights: u32,
    /// How long a pre-flight check may wait for an object source's credentials (STS, Entra ID)
    /// and its HEAD together; past it the job is SourceUnreachable, naming who did not answer.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub preflight_timeout_seconds: u64,
    /// Reconciles at once (each may download and validate a ConfigMap or Secret source).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_concurrent_reconciles: u16,
    /// PVC runs at once: each is a batch Job the operator polls, apart from the upload bound.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent_upload_jobs: u32,
    /// How often a source held in a Secret is re-validated (Secrets are not watched).
    #[arg(long, default_value_t = 300)]
    pub secret_source_recheck_seconds: u64,
    /// How often the ETag of an azureBlob or s3 source is read (a HEAD, not a download); the
    /// object is validated again only when it changed.
    #[arg(long, default_value_t = 300)]
    pub object_source_recheck_seconds: u64,
    /// Timeout of one HTTP request to Entra ID or the ingestion service, in seconds.
    #[arg(long, default_value_t = 400)]
    pub request_timeout_seconds: u64,
    /// Attempts per request before a transient failure fails the run.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// PEM bundle of extra trusted CAs (an agency's TLS-inspection CA) for Entra ID and the
    /// ingestion service, in addition to the public roots and the system store. HTTPS_PROXY,
    /// HTTP_PROXY and NO_PROXY apply to those requests (and are passed on to PVC upload Jobs);
    /// the Kubernetes API client never uses a proxy.
    #[arg(long, env = "HRCONNECTOR_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Container image of the batch Jobs that upload PersistentVolumeClaim sources (normally
    /// the operator's own image). Without it, PVC-sourced jobs fail with a clear message.
    #[arg(long, env = "HRCONNECTOR_UPLOAD_JOB_IMAGE")]
    pub upload_job_image: Option<String>,
    /// Seconds a finished upload Job is kept before Kubernetes deletes it.
    #[arg(long, default_value_t = 3600)]
    pub upload_job_ttl_seconds: i32,
    /// OpenShift: upload Jobs name no runAsUser, runAsGroup or fsGroup, so the restricted-v2
    /// SCC assigns them from the namespace's range (the chart's `openshift: true`). They stay
    /// runAsNonRoot, without privilege escalation or capabilities, on the RuntimeDefault
    /// seccomp profile.
    #[arg(long, env = "HRCONNECTOR_OPENSHIFT")]
    pub openshift: bool,
    /// Elect a leader on a coordination.k8s.io Lease, so that only one replica uploads.
    #[arg(long)]
    pub leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = crate::controller::leader::DEFAULT_LEASE_NAME)]
    pub lease_name: String,
    /// Namespace of the leader-election Lease (default: the pod's namespace, else "default").
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_bind_address: std::net::SocketAddr,
    /// Also allow requests for jobs under this URL prefix (repeatable; comma-separated in the
    /// variable): an egress proxy, a private endpoint, a store emulator, a test emulator. The
    /// egress policy covers every request (tokens, uploads, object stores, STS) and every
    /// redirect hop; the published hosts of the clouds and stores are always allowed, over HTTPS
    /// on port 443; anything else fails with EndpointNotAllowed. Plain http:// only under an
    /// http:// prefix.
    #[arg(
        long = "allow-endpoint-prefix",
        value_name = "URL_PREFIX",
        env = "HRCONNECTOR_ALLOW_ENDPOINT_PREFIX",
        value_delimiter = ','
    )]
    pub allow_endpoint_prefixes: Vec<String>,
    /// Audiences service account tokens may be requested for (TokenRequest; repeatable;
    /// comma-separated in the variable). A job whose workloadIdentity needs another is refused
    /// (InvalidSpec) before any token is asked for. The list replaces the default.
    #[arg(
        long = "allow-token-audience",
        value_name = "AUDIENCE",
        env = "HRCONNECTOR_ALLOW_TOKEN_AUDIENCE",
        value_delimiter = ',',
        default_values_t = crate::controller::audience_policy::DEFAULT_AUDIENCES.map(String::from)
    )]
    pub allow_token_audiences: Vec<String>,
    /// Longest CSV field, in bytes, that a job may allow (spec.limits.maxFieldBytes), and the
    /// limit of jobs that set none.
    #[arg(long, value_name = "BYTES", default_value_t = crate::hrdata::DEFAULT_MAX_FIELD_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_field_bytes: u64,
    /// Most CSV columns a job may allow (spec.limits.maxColumns), and the limit of jobs that
    /// set none.
    #[arg(long, value_name = "N", default_value_t = crate::hrdata::DEFAULT_MAX_COLUMNS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_columns: u64,
    /// Name published on Events and Leases (default: $POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Also checks the Kubernetes API client's TLS, and passes HRCONNECTOR_REQUIRE_FIPS=1 on
    /// to the PVC upload Jobs.
    #[command(flatten)]
    pub fips: FipsArgs,
}

pub fn run(args: ControllerArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    if let Err(message) = runtime.block_on(check_fips(&args)) {
        eprintln!("error: {message}");
        return ExitCode::from(super::EXIT_USAGE);
    }
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

/// `--require-fips`: the uploads' TLS and the Kubernetes API client's.
async fn check_fips(args: &ControllerArgs) -> Result<(), String> {
    if !args.fips.require_fips {
        return Ok(());
    }
    // A build without the module is refused before the cluster is looked for.
    crate::fips::require(&[]).map_err(|e| e.to_string())?;
    let kube_config = kube::Config::infer().await.map_err(|e| {
        format!("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG): {e}")
    })?;
    let kube_tls = kube_config
        .rustls_client_config()
        .map_err(|e| format!("cannot set up TLS for the Kubernetes API: {e}"))?;
    args.fips.check(&[("the Kubernetes API", &kube_tls)])
}

async fn serve(args: ControllerArgs) -> anyhow::Result<()> {
    // A CA bundle that cannot be used stops the operator at start, not at the first run.
    crate::http_client::build(&crate::http_client::HttpClientConfig {
        ca_file: args.ca_file.clone(),
        ..Default::default()
    })?;
    let namespaces = crate::controller::namespaces::parse_list(&args.namespaces);
    crate::controller::namespaces::validate(&namespaces)?;
    let audience_policy = AudiencePolicy::new(&args.allow_token_audiences)?;
    let client = api_client().await?;
    // The ceilings of jobs' spec.limits, for in-process validation and upload Jobs alike.
    let limits = crate::hrdata::Limits {
        max_field_bytes: usize::try_from(args.max_field_bytes).unwrap_or(usize::MAX),
        max_columns: usize::try_from(args.max_columns).unwrap_or(usize::MAX),
    };
    let config = ControllerConfig {
        namespaces,
        max_concurrent_uploads: args.max_concurrent_uploads as usize,
        max_concurrent_reconciles: args.max_concurrent_reconciles,
        max_concurrent_upload_jobs: args.max_concurrent_upload_jobs as usize,
        secret_source_recheck: Duration::from_secs(args.secret_source_recheck_seconds.max(1)),
        object_source_recheck: Duration::from_secs(args.object_source_recheck_seconds.max(1)),
        request_timeout: Duration::from_secs(args.request_timeout_seconds.max(1)),
        ca_file: args.ca_file.clone(),
        retry: RetryPolicy {
            max_attempts: args.max_attempts,
            ..RetryPolicy::default()
        },
        pvc_job: upload_job_settings(&args, limits),
        identity: args
            .identity
            .unwrap_or_else(crate::controller::leader::default_identity),
        pvc_job_poll: Duration::from_secs(5),
        endpoint_policy: EndpointPolicy::new(&args.allow_endpoint_prefixes)?,
        audience_policy,
        limits,
        max_concurrent_uploads_per_namespace: args
            .max_concurrent_uploads_per_namespace
            .map(|n| n as usize),
        max_concurrent_preflights: args.max_concurrent_preflights as usize,
        preflight_timeout: Duration::from_secs(args.preflight_timeout_seconds),
    };
    let leader_election = args.leader_election.then(|| {
        let namespace = args
            .lease_namespace
            .clone()
            .or_else(in_cluster_namespace)
            .unwrap_or_else(|| "default".into());
        LeaderConfig {
            lease_name: args.lease_name.clone(),
            identity: config.identity.clone(),
            ..LeaderConfig::new(namespace)
        }
    });
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        super::signals::shutdown_signal().await;
        tracing::info!("shutting down: runs stop after their chunk in flight");
        signal.cancel();
    });

    let metrics = Arc::new(Metrics::new());
    let health = Health::new();
    let listener = tokio::net::TcpListener::bind(args.metrics_bind_address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.metrics_bind_address))?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(health::serve(
        listener,
        metrics.clone(),
        health.clone(),
        shutdown.clone(),
    ));
    tracing::info!(namespaces = ?config.namespaces, max_concurrent_uploads = config.max_concurrent_uploads, leader_election = leader_election.is_some(), "controller starting");

    // One controller per term of leadership: losing the Lease cancels its runs after their
    // chunk in flight, exactly like a shutdown, and the next leader resumes them.
    let run_controller = |stop: CancellationToken| {
        let (ctx, requeue) = controller::Context::new(
            client.clone(),
            config.clone(),
            Arc::new(SystemClock),
            Arc::new(TokioSleeper),
            stop,
            metrics.clone(),
        );
        // Ready once the job watch has listed everything (not before: a rollout would move on
        // to an operator that has not yet seen the jobs).
        let mut synced = ctx.synced.subscribe();
        let ready = health.clone();
        tokio::spawn(async move {
            if synced.wait_for(|s| *s).await.is_ok() {
                ready.set_ready(true);
            }
        });
        controller::run(ctx, requeue)
    };
    if leader_election.is_some() {
        // A standby is healthy and ready: readiness says "this process works", not "it leads".
        health.set_ready(true);
    }
    match leader_election {
        Some(leader) => {
            tracing::info!(lease = %leader.lease_name, namespace = %leader.lease_namespace, identity = %leader.identity, "campaigning for leadership");
            controller::leader::run_as_leader(
                client.clone(),
                leader,
                shutdown.clone(),
                run_controller,
            )
            .await?;
        }
        None => run_controller(shutdown.clone()).await,
    }
    health.set_ready(false);
    shutdown.cancel();
    let _ = server.await;
    tracing::info!("controller stopped");
    Ok(())
}

/// The in-cluster or KUBECONFIG client, with a User-Agent naming us: API server audit logs (and the
/// e2e suite's RBAC check) tell the operator's requests from kubectl's by it.
async fn api_client() -> anyhow::Result<kube::Client> {
    let mut config = kube::Config::infer().await.map_err(|e| {
        anyhow::anyhow!("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG): {e}")
    })?;
    // kube takes HTTPS_PROXY for the API server when it reads a kubeconfig, ignoring NO_PROXY;
    // those variables are meant for Entra ID and the ingestion service only.
    config.proxy_url = None;
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(USER_AGENT),
    ));
    kube::Client::try_from(config)
        .map_err(|e| anyhow::anyhow!("cannot build the Kubernetes API client: {e}"))
}

/// `hrconnector/VERSION`, the User-Agent of every Kubernetes API request the operator makes.
pub const USER_AGENT: &str = concat!("hrconnector/", env!("CARGO_PKG_VERSION"));

/// What every upload Job gets from the operator's flags; none without `--upload-job-image`.
fn upload_job_settings(
    args: &ControllerArgs,
    limits: crate::hrdata::Limits,
) -> Option<PvcJobSettings> {
    let image = args.upload_job_image.clone()?;
    Some(PvcJobSettings {
        ttl_seconds_after_finished: args.upload_job_ttl_seconds,
        proxy_env: upload_job_env(args.fips.require_fips),
        limits,
        pod_ids: if args.openshift {
            PodIds::PlatformAssigned
        } else {
            PodIds::Fixed
        },
        ..PvcJobSettings::new(image)
    })
}

/// The proxy variables of this process, and HRCONNECTOR_REQUIRE_FIPS when the operator
/// requires FIPS, passed on to the upload Jobs.
fn upload_job_env(require_fips: bool) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"]
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name)
                .or_else(|_| std::env::var(name.to_ascii_lowercase()))
                .ok()?;
            (!value.is_empty()).then(|| (name.to_string(), value))
        })
        .collect();
    if require_fips {
        env.push(("HRCONNECTOR_REQUIRE_FIPS".into(), "1".into()));
    }
    env
}

/// The namespace a pod runs in, from its service account mount.
fn in_cluster_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_jobs_are_told_to_require_fips_when_the_operator_does() {
        let required = upload_job_env(true);
        assert!(required.contains(&("HRCONNECTOR_REQUIRE_FIPS".into(), "1".into())));
        let not = upload_job_env(false);
        assert!(!not.iter().any(|(k, _)| k == "HRCONNECTOR_REQUIRE_FIPS"));
    }

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: ControllerArgs,
    }

    fn settings(flags: &[&str]) -> Option<PvcJobSettings> {
        use clap::Parser;
        let argv = [
            "controller",
            "--upload-job-image",
            "registry.example/hr:0.2.0",
        ];
        let command = Command::try_parse_from(argv.iter().chain(flags)).expect("flags parse");
        upload_job_settings(&command.args, Default::default())
    }

    #[test]
    fn openshift_lets_the_platform_assign_the_upload_pods_ids() {
        let fixed = settings(&[]).expect("settings");
        assert_eq!(fixed.pod_ids, PodIds::Fixed);
        let openshift = settings(&["--openshift"]).expect("settings");
        assert_eq!(openshift.pod_ids, PodIds::PlatformAssigned);
    }
}
