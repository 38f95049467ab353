//! The index of managed containers: pure data and the rules for changing it, with no I/O, so the
//! ordering rules are tested without Docker. [`super::Instances`] holds it behind a lock.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::SystemTime;

use super::instance::Instance;

/// An instance's route: traefik sends the requests its cookie (or path) selects to `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub name: String,
    pub host: String,
    pub port: u16,
}
use crate::domain::{ContainerInfo, Health, RunState};

#[derive(Default)]
pub struct Index {
    pub by_name: HashMap<String, Instance>,
    name_of_id: HashMap<String, String>,
    /// Containers known to be gone (ids are never reused): a description of one read before it
    /// went, applied after, must not bring it back, nor push out a new container of its name.
    gone: VecDeque<String>,
    gone_set: HashSet<String>,
    /// Whether the whole list has been read from the engine at least once.
    pub synced: bool,
    /// How many descriptions have been applied: a list only speaks for what was learnt before
    /// it was asked for.
    applied: u64,
}

/// How many removed ids the index remembers (a late description arrives within seconds).
const GONE_KEPT: usize = 4096;

impl Index {
    pub fn get(&self, name: &str) -> Option<&Instance> {
        self.by_name.get(name)
    }

    /// Forgets a container that is gone for good (removed, or not this spawner's).
    pub fn remove_id(&mut self, id: &str) -> Option<Instance> {
        if self.gone_set.insert(id.to_string()) {
            self.gone.push_back(id.to_string());
            if self.gone.len() > GONE_KEPT {
                let oldest = self.gone.pop_front().expect("not empty");
                self.gone_set.remove(&oldest);
            }
        }
        self.take_id(id)
    }

    fn take_id(&mut self, id: &str) -> Option<Instance> {
        let name = self.name_of_id.remove(id)?;
        self.by_name.remove(&name)
    }

    /// Marks a running container dead as of `at`, the moment its `die` event happened, without
    /// waiting for an inspect: until then the hot path would still answer 200 for it. A `die`
    /// older than the run the index holds (a restart already seen) changes nothing.
    /// The name of the container `id`, if the index has it.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.name_of_id.get(id).map(String::as_str)
    }

    pub fn mark_died(&mut self, id: &str, at: SystemTime, exit_code: Option<i64>) -> bool {
        let Some(name) = self.name_of_id.get(id) else {
            return false;
        };
        match self.by_name.get_mut(name) {
            Some(i)
                if i.info.state == RunState::Running
                    && i.info.started_at.is_some_and(|run| at >= run) =>
            {
                i.info.state = RunState::Exited;
                i.info.finished_at = Some(at);
                i.info.exit_code = exit_code;
                true
            }
            _ => false,
        }
    }

    /// Applies a fresh description unless the index already holds a newer view of that container.
    pub fn upsert(&mut self, info: ContainerInfo) -> bool {
        if self.gone_set.contains(&info.id) {
            return false;
        }
        if let Some(old) = self.name_of_id.get(&info.id).map(|n| &self.by_name[n]) {
            if info.last_transition() < old.info.last_transition() {
                return false;
            }
        }
        let kept = self.take_id(&info.id);
        // A different container under the same name (removed and re-created): its events follow.
        if let Some(other) = self.by_name.remove(&info.name) {
            self.name_of_id.remove(&other.info.id);
        }
        let mut instance = Instance::new(info);
        self.applied += 1;
        instance.learnt = self.applied;
        if let Some(old) = kept {
            instance.activity = old.activity;
            instance.probed_ready = old.probed_ready;
            instance.health_stale = old.health_stale
                && old.info.started_at == instance.info.started_at
                && instance.info.health != Health::Healthy;
        }
        self.name_of_id
            .insert(instance.info.id.clone(), instance.info.name.clone());
        self.by_name.insert(instance.info.name.clone(), instance);
        true
    }

    /// How many descriptions have been applied: read before a list is asked for, and given to
    /// [`Self::replace_all`].
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Replaces the content with a fresh list, asked for when `applied` descriptions had been
    /// applied, keeping what spawner itself learnt (activity, probes) of the containers still
    /// there. A container learnt after the list was asked for (created meanwhile) is kept though
    /// the list lacks it: its events follow the list.
    pub fn replace_all(&mut self, infos: Vec<ContainerInfo>, applied: u64) {
        let live: HashSet<&str> = infos.iter().map(|i| i.id.as_str()).collect();
        let gone: Vec<String> = self
            .by_name
            .values()
            .filter(|i| i.learnt <= applied && !live.contains(i.info.id.as_str()))
            .map(|i| i.info.id.clone())
            .collect();
        for id in gone {
            self.remove_id(&id);
        }
        for info in infos {
            self.upsert(info);
        }
        self.synced = true;
    }

    /// Marks a paused instance running again the moment its unpause succeeded (the same run:
    /// its readiness still holds), before the engine's event arrives.
    pub fn mark_unpaused(&mut self, name: &str) -> bool {
        match self.by_name.get_mut(name) {
            Some(i) if i.info.state == RunState::Paused => {
                i.info.state = RunState::Running;
                i.health_stale = true;
                true
            }
            _ => false,
        }
    }

    /// Records that the run starting at `run` passed its readiness probe.
    pub fn mark_probed(&mut self, name: &str, run: Option<SystemTime>) {
        if let Some(instance) = self.by_name.get_mut(name) {
            instance.probed_ready = run;
        }
    }

    /// Where traefik sends each instance's requests, sorted by name.
    pub fn routes(&self) -> Vec<Route> {
        let mut routes: Vec<_> = self
            .by_name
            .values()
            .map(|i| Route {
                name: i.info.name.clone(),
                host: i.route_host(),
                port: i.port,
            })
            .collect();
        routes.sort();
        routes
    }

    /// The fixed IPv4 addresses its instances hold on `network`, stopped ones included.
    pub fn fixed_addresses(&self, network: &str) -> BTreeSet<Ipv4Addr> {
        self.by_name
            .values()
            .filter_map(|i| match i.info.fixed_ips.get(network) {
                Some(IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            })
            .collect()
    }

    pub fn find_by_id_prefix(&self, prefix: &str) -> Option<&Instance> {
        self.by_name
            .values()
            .find(|i| prefix.len() >= 12 && i.info.id.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::super::instance::tests::info;
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_die_event_stops_the_run_it_belongs_to_and_no_later_one() {
        let mut index = Index::default();
        let mut running = info(&[], &[], false);
        running.state = RunState::Running;
        running.started_at = Some(at(100));
        index.upsert(running);
        // A die from before this run (the previous one) is ignored.
        assert!(!index.mark_died("abc", at(99), Some(1)));
        assert_eq!(index.by_name["minion-1"].info.state, RunState::Running);
        assert!(index.mark_died("abc", at(101), Some(3)));
        assert_eq!(index.by_name["minion-1"].info.state, RunState::Exited);
        assert_eq!(index.by_name["minion-1"].info.exit_code, Some(3));
    }

    #[test]
    fn an_older_view_never_overwrites_a_newer_one() {
        let mut index = Index::default();
        let mut running = info(&[], &[], false);
        running.state = RunState::Running;
        running.started_at = Some(at(100));
        let mut stale = info(&[], &[], false);
        stale.finished_at = Some(at(50));
        assert!(index.upsert(running));
        assert!(!index.upsert(stale));
        assert_eq!(index.by_name["minion-1"].info.state, RunState::Running);
    }

    #[test]
    fn a_fresh_list_drops_the_gone_and_keeps_what_spawner_learnt_of_the_rest() {
        let mut index = Index::default();
        let mut kept = info(&[], &[], false);
        kept.started_at = Some(at(10));
        let mut gone = info(&[], &[], false);
        gone.id = "def".into();
        gone.name = "minion-2".into();
        index.upsert(kept.clone());
        index.upsert(gone);
        index.by_name["minion-1"].touch(at(20));
        let applied = index.applied();
        index.replace_all(vec![kept], applied);
        assert!(index.synced);
        let routes = index.routes();
        assert_eq!(routes.len(), 1);
        assert_eq!((routes[0].name.as_str(), routes[0].port), ("minion-1", 80));
        assert_eq!(
            index.by_name["minion-1"].activity.seen().time(),
            Some(at(20))
        );
    }

    #[test]
    fn a_late_description_of_a_removed_container_neither_returns_nor_pushes_out_its_successor() {
        let mut index = Index::default();
        let old = info(&[], &[], false);
        index.upsert(old.clone());
        index.remove_id("abc");
        let mut successor = info(&[], &[], false);
        successor.id = "def".into();
        assert!(index.upsert(successor));
        // The description read just before the removal arrives now.
        assert!(!index.upsert(old));
        assert_eq!(index.by_name["minion-1"].info.id, "def");
    }

    #[test]
    fn a_list_asked_for_before_a_create_does_not_drop_the_new_container() {
        let mut index = Index::default();
        let before = info(&[], &[], false);
        index.upsert(before);
        let applied = index.applied();
        // Created (and described by its create) while the list was under way.
        let mut created = info(&[], &[], false);
        created.id = "def".into();
        created.name = "minion-2".into();
        index.upsert(created.clone());
        index.replace_all(vec![], applied);
        assert!(
            index.get("minion-1").is_none(),
            "absent from the list: gone"
        );
        assert_eq!(
            index.get("minion-2").map(|i| i.info.id.as_str()),
            Some("def")
        );
        // Its events still apply.
        created.state = RunState::Running;
        created.started_at = Some(at(100));
        assert!(index.upsert(created));
    }
}
