//! Leader election through kube-lease-manager against kube-fake-client's in-process API server.
//!
//! kube-fake-client 0.3 records server-side-apply field ownership but never drops it when a later
//! non-apply patch deletes the field. kube-lease-manager releases a Lease with a strategic-merge
//! patch of nulls, so on the fake the next contender's apply fails with 409 "conflict with
//! kube-lease-manager-<old holder>" forever (a real API server prunes ownership of deleted
//! fields). [`fake_client_keeps_ssa_ownership_after_strategic_null_patch`] pins that down, and
//! [`fake_api`] adds a patch interceptor that does the pruning, so the election tests below run
//! the real request sequence.

use hrconnector::controller::leader::{
    DEFAULT_LEASE_DURATION, DEFAULT_LEASE_NAME, DEFAULT_RENEW_GRACE, LeaderConfig, LeaderError,
    default_identity, run_as_leader,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube_fake_client::interceptor::{Funcs, PatchContext};
use kube_fake_client::{ClientBuilder, PatchType};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const NS: &str = "hrconnector-system";
const LEASE: &str = "hrconnector-controller-test";

/// Before a non-apply patch nulls `spec` fields, drop every manager's ownership of them, as the
/// API server does when fields disappear from the object.
fn prune_ownership_of_nulled_fields(ctx: PatchContext) -> kube_fake_client::Result<Option<Value>> {
    if ctx.patch_type == PatchType::ApplyPatch {
        return Ok(None);
    }
    let nulled: Vec<String> = ctx
        .patch
        .get("spec")
        .and_then(Value::as_object)
        .map(|spec| {
            spec.iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| format!("f:{k}"))
                .collect()
        })
        .unwrap_or_default();
    if nulled.is_empty() {
        return Ok(None);
    }
    let mut lease: Lease = ctx.client.get(ctx.namespace, ctx.name)?;
    let Some(entries) = lease.metadata.managed_fields.take() else {
        return Ok(None);
    };
    let kept = entries
        .into_iter()
        .filter_map(|mut entry| {
            if let Some(spec) = entry
                .fields_v1
                .as_mut()
                .and_then(|f| f.0.get_mut("f:spec"))
                .and_then(Value::as_object_mut)
            {
                for field in &nulled {
                    spec.remove(field);
                }
            }
            let fields = entry.fields_v1.as_mut().and_then(|f| f.0.as_object_mut());
            if let Some(fields) = fields {
                if fields
                    .get("f:spec")
                    .and_then(Value::as_object)
                    .is_some_and(|s| s.is_empty())
                {
                    fields.remove("f:spec");
                }
                if fields.is_empty() {
                    return None;
                }
            }
            Some(entry)
        })
        .collect();
    lease.metadata.managed_fields = Some(kept);
    ctx.client
        .update(ctx.namespace, &lease, &PostParams::default())?;
    Ok(None)
}

async fn fake_api() -> kube::Client {
    ClientBuilder::new()
        // The shim reads managedFields through the fake's typed get.
        .with_return_managed_fields()
        .with_interceptor_funcs(Funcs::new().patch(prune_ownership_of_nulled_fields))
        .build()
        .await
        .expect("fake client")
}

/// A fake API that a test can cut off: while `cut` is set, every get and patch (all the Lease
/// calls kube-lease-manager and the renew deadline make) fails, as for a network partition.
async fn partitionable_api(cut: Arc<AtomicBool>) -> kube::Client {
    let refuse = |cut: &AtomicBool| {
        if cut.load(Ordering::SeqCst) {
            Err(kube_fake_client::Error::InvalidRequest(
                "partitioned from the API server".into(),
            ))
        } else {
            Ok(None)
        }
    };
    let (on_get, on_patch) = (cut.clone(), cut);
    ClientBuilder::new()
        .with_return_managed_fields()
        .with_interceptor_funcs(
            Funcs::new()
                .get(move |_| refuse(&on_get))
                .patch(move |ctx| {
                    refuse(&on_patch).and_then(|_| prune_ownership_of_nulled_fields(ctx))
                }),
        )
        .build()
        .await
        .expect("fake client")
}

fn config(identity: &str) -> LeaderConfig {
    LeaderConfig {
        lease_name: LEASE.into(),
        lease_namespace: NS.into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(2),
        renew_grace: Duration::from_secs(1),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Started(String),
    Stopped(String),
}

/// Records who works when, and whether two ever worked at once.
#[derive(Clone)]
struct Probe {
    events: mpsc::UnboundedSender<Event>,
    active: Arc<AtomicUsize>,
    overlap: Arc<AtomicBool>,
}

struct Contender {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), LeaderError>>,
}

fn contend(client: &kube::Client, identity: &str, probe: &Probe) -> Contender {
    let shutdown = CancellationToken::new();
    let id = identity.to_owned();
    let probe = probe.clone();
    let work = move |lost: CancellationToken| {
        let (id, probe) = (id.clone(), probe.clone());
        async move {
            if probe.active.fetch_add(1, Ordering::SeqCst) > 0 {
                probe.overlap.store(true, Ordering::SeqCst);
            }
            let _ = probe.events.send(Event::Started(id.clone()));
            lost.cancelled().await;
            probe.active.fetch_sub(1, Ordering::SeqCst);
            let _ = probe.events.send(Event::Stopped(id));
        }
    };
    let task = tokio::spawn(run_as_leader(
        client.clone(),
        config(identity),
        shutdown.clone(),
        work,
    ));
    Contender { shutdown, task }
}

fn probe() -> (Probe, mpsc::UnboundedReceiver<Event>) {
    let (events, rx) = mpsc::unbounded_channel();
    let probe = Probe {
        events,
        active: Arc::new(AtomicUsize::new(0)),
        overlap: Arc::new(AtomicBool::new(false)),
    };
    (probe, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Event>, within: Duration) -> Event {
    timeout(within, rx.recv())
        .await
        .expect("no election event in time")
        .expect("event channel open")
}

async fn holder(client: &kube::Client) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    api.get(LEASE)
        .await
        .expect("lease exists")
        .spec
        .and_then(|s| s.holder_identity)
}

async fn finish(c: Contender) -> Result<(), LeaderError> {
    c.shutdown.cancel();
    timeout(Duration::from_secs(5), c.task)
        .await
        .expect("run_as_leader returns soon after shutdown")
        .expect("task not panicked")
}

/// kube-lease-manager's request sequence on one Lease, without the election loop around it: A
/// locks with server-side apply, releases with a strategic-merge patch of nulls, then B locks.
/// On an unpatched fake the last step conflicts; if this starts failing, the fake learned to
/// prune ownership and the shim above can go.
#[tokio::test]
async fn fake_client_keeps_ssa_ownership_after_strategic_null_patch() {
    let client = ClientBuilder::new().build().await.expect("fake client");
    let api: Api<Lease> = Api::namespaced(client, NS);
    let mut lease = Lease::default();
    lease.metadata.name = Some("probe".into());
    api.create(&PostParams::default(), &lease)
        .await
        .expect("create");

    let lock = |who: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "spec": {"holderIdentity": who, "leaseDurationSeconds": 2}})
    };
    let by = |who: &str| PatchParams {
        field_manager: Some(format!("kube-lease-manager-{who}")),
        ..Default::default()
    };
    api.patch("probe", &by("a"), &Patch::Apply(lock("a")))
        .await
        .expect("a locks");
    let release = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                         "spec": {"holderIdentity": null, "leaseDurationSeconds": null}});
    api.patch("probe", &by("a"), &Patch::Strategic(release))
        .await
        .expect("a releases");
    let spec = api
        .get("probe")
        .await
        .expect("get")
        .spec
        .unwrap_or_default();
    assert_eq!(spec.holder_identity, None);

    match api.patch("probe", &by("b"), &Patch::Apply(lock("b"))).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409);
            assert!(
                status.message.contains("kube-lease-manager-a"),
                "{}",
                status.message
            );
        }
        other => panic!("the fake now accepts the takeover; drop the shim: {other:?}"),
    }
}

#[tokio::test]
async fn one_leader_at_a_time_and_handover_on_shutdown() {
    let client = fake_api().await;
    let (probe, mut rx) = probe();
    let mut a = Some(contend(&client, "a", &probe));
    let mut b = Some(contend(&client, "b", &probe));

    let Event::Started(first) = next(&mut rx, Duration::from_secs(10)).await else {
        panic!("expected a start first");
    };
    assert_eq!(holder(&client).await.as_deref(), Some(first.as_str()));
    // Several lease periods: the standby must neither start nor steal a renewed lease.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        rx.try_recv().is_err(),
        "the standby started while the leader renewed"
    );
    assert_eq!(holder(&client).await.as_deref(), Some(first.as_str()));

    let (leader, standby, second) = if first == "a" {
        (a.take(), b.take(), "b")
    } else {
        (b.take(), a.take(), "a")
    };
    let (leader, standby) = (leader.expect("leader"), standby.expect("standby"));
    finish(leader).await.expect("leader shuts down cleanly");
    assert_eq!(
        next(&mut rx, Duration::from_secs(1)).await,
        Event::Stopped(first.clone())
    );
    // Released, or already taken by the standby: never the old leader.
    assert_ne!(holder(&client).await.as_deref(), Some(first.as_str()));

    assert_eq!(
        next(&mut rx, Duration::from_secs(10)).await,
        Event::Started(second.into())
    );
    assert_eq!(holder(&client).await.as_deref(), Some(second));

    finish(standby)
        .await
        .expect("second leader shuts down cleanly");
    assert_eq!(
        next(&mut rx, Duration::from_secs(1)).await,
        Event::Stopped(second.into())
    );
    assert_eq!(holder(&client).await, None, "lease released on shutdown");
    assert!(
        !probe.overlap.load(Ordering::SeqCst),
        "two leaders worked at once"
    );
}

#[tokio::test]
async fn lost_leadership_cancels_work_then_campaigns_again() {
    let client = fake_api().await;
    let (probe, mut rx) = probe();
    let a = contend(&client, "a", &probe);
    assert_eq!(
        next(&mut rx, Duration::from_secs(10)).await,
        Event::Started("a".into())
    );

    // Someone else takes the lease over behind our back (e.g. after a long GC pause of ours).
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let steal = json!({"spec": {
        "holderIdentity": "intruder",
        "renewTime": MicroTime(k8s_openapi::jiff::Timestamp::now()),
        "leaseDurationSeconds": 2,
    }});
    api.patch(LEASE, &PatchParams::default(), &Patch::Merge(steal))
        .await
        .expect("steal");

    assert_eq!(
        next(&mut rx, Duration::from_secs(5)).await,
        Event::Stopped("a".into()),
        "work not cancelled after the loss"
    );
    assert!(
        !a.task.is_finished(),
        "a loss without shutdown must not end the election"
    );
    // The intruder never renews, so `a` takes the expired lease back and works again.
    assert_eq!(
        next(&mut rx, Duration::from_secs(10)).await,
        Event::Started("a".into())
    );
    assert_eq!(holder(&client).await.as_deref(), Some("a"));

    finish(a).await.expect("clean shutdown");
    assert_eq!(
        next(&mut rx, Duration::from_secs(1)).await,
        Event::Stopped("a".into())
    );
}

/// kube-lease-manager alone never reports a loss it cannot see: cut off from the API server, a
/// leader kept working while a standby could take the expired Lease. The renew deadline stops
/// work by `renewTime + duration - grace / 2` (1.5 s here), and work starts again only once a
/// renewal lands.
#[tokio::test]
async fn a_leader_cut_off_from_the_api_stops_work_by_the_renew_deadline() {
    let cut = Arc::new(AtomicBool::new(false));
    let client = partitionable_api(cut.clone()).await;
    let (probe, mut rx) = probe();
    let a = contend(&client, "a", &probe);
    assert_eq!(
        next(&mut rx, Duration::from_secs(10)).await,
        Event::Started("a".into())
    );
    // A renewal or two first: a healthy leader is not stopped by its own deadline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(rx.try_recv().is_err(), "work stopped while renewals landed");

    cut.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    assert_eq!(
        next(&mut rx, Duration::from_secs(4)).await,
        Event::Stopped("a".into()),
        "work kept running with no renewal landing"
    );
    // Renewed at most ~1 s before the cut, the deadline is at most ~0.5 s after it; within one
    // lease duration of the cut in any case (without the deadline, work never stopped).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "work stopped only {:?} after the cut",
        started.elapsed()
    );
    assert!(!a.task.is_finished(), "a lapse must not end the election");

    cut.store(false, Ordering::SeqCst);
    assert_eq!(
        next(&mut rx, Duration::from_secs(10)).await,
        Event::Started("a".into()),
        "work did not start again once renewals landed"
    );
    assert_eq!(holder(&client).await.as_deref(), Some("a"));
    finish(a).await.expect("clean shutdown");
    assert_eq!(
        next(&mut rx, Duration::from_secs(1)).await,
        Event::Stopped("a".into())
    );
    assert!(
        !probe.overlap.load(Ordering::SeqCst),
        "two terms worked at once"
    );
}

#[tokio::test]
async fn standby_shuts_down_without_working_or_touching_the_lease() {
    let client = fake_api().await;
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let mut lease = Lease::default();
    lease.metadata.name = Some(LEASE.into());
    lease.spec = Some(k8s_openapi::api::coordination::v1::LeaseSpec {
        holder_identity: Some("other-replica".into()),
        renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        lease_duration_seconds: Some(3600),
        ..Default::default()
    });
    api.create(&PostParams::default(), &lease)
        .await
        .expect("create");

    let (probe, mut rx) = probe();
    let a = contend(&client, "a", &probe);
    tokio::time::sleep(Duration::from_millis(500)).await;
    finish(a).await.expect("standby shuts down cleanly");
    assert!(rx.try_recv().is_err(), "a standby ran work");
    assert_eq!(holder(&client).await.as_deref(), Some("other-replica"));
}

#[tokio::test]
async fn work_returning_on_its_own_ends_the_election_and_releases() {
    let client = fake_api().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let result = timeout(
        Duration::from_secs(10),
        run_as_leader(
            client.clone(),
            config("a"),
            CancellationToken::new(),
            move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                async {}
            },
        ),
    )
    .await
    .expect("returns");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(holder(&client).await, None);
}

#[tokio::test]
async fn invalid_config_is_an_error_not_a_panic() {
    let client = fake_api().await;
    let cases = [
        (Duration::from_secs(2), Duration::from_secs(2)),
        (Duration::from_secs(2), Duration::ZERO),
        (Duration::from_millis(1500), Duration::from_secs(1)),
    ];
    for (lease_duration, renew_grace) in cases {
        let cfg = LeaderConfig {
            lease_duration,
            renew_grace,
            ..config("a")
        };
        let result = run_as_leader(client.clone(), cfg, CancellationToken::new(), |_| async {
            panic!("must not run");
        })
        .await;
        assert!(
            matches!(result, Err(LeaderError::InvalidConfig(_))),
            "{lease_duration:?}/{renew_grace:?}: {result:?}"
        );
    }
    let empty = LeaderConfig {
        identity: String::new(),
        ..config("a")
    };
    assert!(matches!(
        empty.lease_seconds(),
        Err(LeaderError::InvalidConfig(_))
    ));
}

#[test]
fn defaults() {
    let cfg = LeaderConfig::new("hr");
    assert_eq!(cfg.lease_name, DEFAULT_LEASE_NAME);
    assert_eq!(cfg.lease_name, "hrconnector-controller");
    assert_eq!(cfg.lease_namespace, "hr");
    assert_eq!(cfg.lease_duration, DEFAULT_LEASE_DURATION);
    assert_eq!(cfg.lease_duration, Duration::from_secs(15));
    assert_eq!(cfg.renew_grace, DEFAULT_RENEW_GRACE);
    assert_eq!(cfg.lease_seconds().expect("valid"), (15, 5));
    assert!(!cfg.identity.is_empty());
    let id = default_identity();
    assert!(!id.is_empty());
    if std::env::var_os("POD_NAME").is_none() {
        assert_ne!(id, default_identity(), "random suffix");
    }
}
