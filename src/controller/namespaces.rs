//! The namespaces the operator watches: all of them (one cluster-wide watch, a ClusterRole), or
//! a list, each watched on its own so that a Role per namespace is enough (a cluster-wide list
//! or watch would need a ClusterRole, and with it every namespace's Secrets and tokens).
//!
//! One reflector store and one `Controller` serve every namespace of the list: the watches are
//! merged into one stream of watcher events. A store replaces its whole content at each
//! `InitDone`, so one namespace's relist must not reach it as such (it would drop every other
//! namespace's objects): [`Merge`] turns a namespace's relist into `Apply`s of what it listed
//! and `Delete`s of what it no longer holds, and announces one store-wide list (`Init`, every
//! object, `InitDone`) once every namespace has been listed, which is what marks the store ready.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use futures_util::stream::{self, BoxStream, StreamExt};
use kube::api::Api;
use kube::core::NamespaceResourceScope;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// `--namespace` values as a list: comma-separated items split, blanks dropped, repeats removed
/// (order kept). Empty means all namespaces.
pub fn parse_list<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .iter()
        .flat_map(|v| v.as_ref().split(','))
        .map(str::trim)
        .filter(|ns| !ns.is_empty())
        .filter(|ns| seen.insert(ns.to_string()))
        .map(str::to_string)
        .collect()
}

/// A namespace name that is not one (RFC 1123 label), named in the start-up error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "--namespace {0:?} is not a namespace name (lowercase letters, digits and '-', at most 63)"
)]
pub struct InvalidNamespace(pub String);

/// Checks every name of the list, so that a typo stops the operator at start.
pub fn validate(namespaces: &[String]) -> Result<(), InvalidNamespace> {
    for ns in namespaces {
        let bytes = ns.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-');
        if !ok {
            return Err(InvalidNamespace(ns.clone()));
        }
    }
    Ok(())
}

/// The watch of `K` over `namespaces` (all when empty), with the default backoff per watch.
pub fn watch<K>(
    client: Client,
    namespaces: &[String],
    config: watcher::Config,
) -> BoxStream<'static, watcher::Result<Event<K>>>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug + Send + Sync,
    K: 'static,
    K::DynamicType: Default,
{
    match namespaces {
        [] => watcher(Api::<K>::all(client), config)
            .default_backoff()
            .boxed(),
        [one] => watcher(Api::<K>::namespaced(client, one), config)
            .default_backoff()
            .boxed(),
        many => {
            let watches = many.iter().enumerate().map(|(i, ns)| {
                watcher(Api::<K>::namespaced(client.clone(), ns), config.clone())
                    .default_backoff()
                    .map(move |event| (i, event))
                    .boxed()
            });
            let mut merge = Merge::new(many.len());
            stream::select_all(watches)
                .flat_map(move |(i, event)| stream::iter(merge.event(i, event)))
                .boxed()
        }
    }
}

/// Folds the events of several namespaces' watches into events one store can take.
pub struct Merge<K> {
    /// Per namespace: its objects as last seen, by name.
    known: Vec<HashMap<String, K>>,
    /// Per namespace: the names listed so far while it relists.
    relisting: Vec<Option<HashSet<String>>>,
    /// Per namespace: listed at least once.
    listed: Vec<bool>,
    /// The store-wide list was announced (the store is ready).
    announced: bool,
}

impl<K: Resource + Clone> Merge<K> {
    pub fn new(namespaces: usize) -> Self {
        Merge {
            known: vec![HashMap::new(); namespaces],
            relisting: vec![None; namespaces],
            listed: vec![false; namespaces],
            announced: false,
        }
    }

    /// The events to pass on for event `event` of namespace number `i`.
    pub fn event(
        &mut self,
        i: usize,
        event: watcher::Result<Event<K>>,
    ) -> Vec<watcher::Result<Event<K>>> {
        let event = match event {
            Ok(event) => event,
            Err(e) => return vec![Err(e)],
        };
        match event {
            Event::Init => {
                self.relisting[i] = Some(HashSet::new());
                Vec::new()
            }
            Event::InitApply(obj) | Event::Apply(obj) => {
                let name = obj.name_any();
                if let Some(listed) = self.relisting[i].as_mut() {
                    listed.insert(name.clone());
                }
                self.known[i].insert(name, obj.clone());
                vec![Ok(Event::Apply(obj))]
            }
            Event::Delete(obj) => {
                self.known[i].remove(&obj.name_any());
                vec![Ok(Event::Delete(obj))]
            }
            Event::InitDone => {
                let listed = self.relisting[i].take().unwrap_or_default();
                // What the relist no longer holds was deleted while the watch was down.
                let gone: Vec<String> = self.known[i]
                    .keys()
                    .filter(|name| !listed.contains(*name))
                    .cloned()
                    .collect();
                let mut out: Vec<_> = gone
                    .into_iter()
                    .filter_map(|name| self.known[i].remove(&name))
                    .map(|obj| Ok(Event::Delete(obj)))
                    .collect();
                self.listed[i] = true;
                if !self.announced && self.listed.iter().all(|l| *l) {
                    self.announced = true;
                    out.push(Ok(Event::Init));
                    out.extend(
                        self.known
                            .iter()
                            .flat_map(HashMap::values)
                            .map(|obj| Ok(Event::InitApply(obj.clone()))),
                    );
                    out.push(Ok(Event::InitDone));
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;

    use super::*;

    fn cm(ns: &str, name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    /// Feeds events through a `Merge` into a real reflector store; returns the store's names.
    struct Fixture {
        merge: Merge<ConfigMap>,
        writer: reflector::store::Writer<ConfigMap>,
        store: reflector::Store<ConfigMap>,
    }

    impl Fixture {
        fn new(namespaces: usize) -> Self {
            let (store, writer) = reflector::store();
            Fixture {
                merge: Merge::new(namespaces),
                writer,
                store,
            }
        }
        fn send(&mut self, i: usize, event: Event<ConfigMap>) -> Vec<String> {
            let mut kinds = Vec::new();
            for out in self.merge.event(i, Ok(event)) {
                let out = out.expect("no error was fed");
                kinds.push(match &out {
                    Event::Apply(_) => "Apply",
                    Event::Delete(_) => "Delete",
                    Event::Init => "Init",
                    Event::InitApply(_) => "InitApply",
                    Event::InitDone => "InitDone",
                });
                self.writer.apply_watcher_event(&out);
            }
            kinds.into_iter().map(str::to_string).collect()
        }
        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = self
                .store
                .state()
                .iter()
                .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
                .collect();
            names.sort();
            names
        }
    }

    #[test]
    fn the_list_is_split_on_commas_without_blanks_or_repeats() {
        assert_eq!(parse_list(&["a,b", " c ", "a", ""]), ["a", "b", "c"]);
        assert!(parse_list::<&str>(&[]).is_empty());
        assert!(parse_list(&[" , "]).is_empty());
    }

    #[test]
    fn a_name_that_is_no_namespace_stops_the_operator() {
        assert!(validate(&["hr".into(), "team-2".into()]).is_ok());
        for bad in ["HR", "-hr", "hr-", "h_r", "a/b", &"x".repeat(64)] {
            assert_eq!(
                validate(&[bad.to_string()]),
                Err(InvalidNamespace(bad.to_string()))
            );
        }
    }

    #[test]
    fn the_store_is_ready_only_when_every_namespace_was_listed() {
        let mut f = Fixture::new(2);
        f.send(0, Event::Init);
        f.send(0, Event::InitApply(cm("a", "one")));
        assert_eq!(f.send(0, Event::InitDone), Vec::<String>::new());
        assert!(f.store.wait_until_ready().now_or_never().is_none());
        f.send(1, Event::Init);
        f.send(1, Event::InitApply(cm("b", "two")));
        let kinds = f.send(1, Event::InitDone);
        assert_eq!(kinds, ["Init", "InitApply", "InitApply", "InitDone"]);
        assert!(f.store.wait_until_ready().now_or_never().is_some());
        assert_eq!(f.names(), ["a/one", "b/two"]);
    }

    #[test]
    fn one_namespace_relisting_keeps_the_others_objects_and_drops_its_deleted_ones() {
        let mut f = Fixture::new(2);
        for (i, ns) in [(0, "a"), (1, "b")] {
            f.send(i, Event::Init);
            f.send(i, Event::InitApply(cm(ns, "one")));
            f.send(i, Event::InitApply(cm(ns, "two")));
            f.send(i, Event::InitDone);
        }
        assert_eq!(f.names(), ["a/one", "a/two", "b/one", "b/two"]);
        // Namespace a's watch restarts; "two" was deleted meanwhile, "three" created.
        f.send(0, Event::Init);
        f.send(0, Event::InitApply(cm("a", "one")));
        f.send(0, Event::InitApply(cm("a", "three")));
        let kinds = f.send(0, Event::InitDone);
        assert_eq!(kinds, ["Delete"], "no second store-wide list");
        assert_eq!(f.names(), ["a/one", "a/three", "b/one", "b/two"]);
        f.send(1, Event::Delete(cm("b", "one")));
        f.send(1, Event::Apply(cm("b", "four")));
        assert_eq!(f.names(), ["a/one", "a/three", "b/four", "b/two"]);
    }
}
