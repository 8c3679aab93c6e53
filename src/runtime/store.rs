//! The runtime's persistent store: everything lives in memory for speed and is written through
//! to SQLite (WAL mode) so that jobs, executions and their history survive restarts.

use rusqlite::{params, Connection};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The kinds of object the runtime persists, one namespace each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Job,
    Execution,
    Task,
    Operation,
    Policy,
    Image,
    SchedulerJob,
    /// Runtime-side state of a scheduler job (attempts, retries); not part of the API object.
    SchedulerState,
    ServiceAccount,
    Workflow,
    WorkflowExecution,
    Bucket,
    Object,
    Trigger,
    Delivery,
    /// Enabled services (Service Usage), by `projects/P/services/S`.
    Service,
    /// Artifact Registry repositories.
    Repository,
    /// Secret Manager secrets (`projects/P/secrets/S`) and their versions
    /// (`projects/P/secrets/S/versions/N`, with the payload).
    Secret,
    SecretVersion,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Execution => "execution",
            Kind::Task => "task",
            Kind::Operation => "operation",
            Kind::Policy => "policy",
            Kind::Image => "image",
            Kind::SchedulerJob => "scheduler_job",
            Kind::SchedulerState => "scheduler_state",
            Kind::ServiceAccount => "service_account",
            Kind::Workflow => "workflow",
            Kind::WorkflowExecution => "workflow_execution",
            Kind::Bucket => "bucket",
            Kind::Object => "object",
            Kind::Trigger => "trigger",
            Kind::Delivery => "delivery",
            Kind::Service => "service",
            Kind::Repository => "repository",
            Kind::Secret => "secret",
            Kind::SecretVersion => "secret_version",
        }
    }
    fn all() -> [Kind; 19] {
        [
            Kind::Job,
            Kind::Execution,
            Kind::Task,
            Kind::Operation,
            Kind::Policy,
            Kind::Image,
            Kind::SchedulerJob,
            Kind::SchedulerState,
            Kind::ServiceAccount,
            Kind::Workflow,
            Kind::WorkflowExecution,
            Kind::Bucket,
            Kind::Object,
            Kind::Trigger,
            Kind::Delivery,
            Kind::Service,
            Kind::Repository,
            Kind::Secret,
            Kind::SecretVersion,
        ]
    }
}

pub struct Store {
    db: Connection,
    /// kind → name → JSON text (parsed lazily by the caller's type).
    mem: BTreeMap<Kind, BTreeMap<String, String>>,
}

impl Store {
    /// Opens (or creates) the store under `dir`, or an in-memory one with `None`.
    pub fn open(dir: Option<&Path>) -> anyhow::Result<Store> {
        let db = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                Connection::open(d.join("runtime.sqlite3"))?
            }
            None => Connection::open_in_memory()?,
        };
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS objects (
                kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (kind, name));",
        )?;
        if let Some(d) = dir {
            // The store holds env values and everything the APIs were told: the owner's only.
            use std::os::unix::fs::PermissionsExt;
            for f in [
                "runtime.sqlite3",
                "runtime.sqlite3-wal",
                "runtime.sqlite3-shm",
            ] {
                let _ = std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o600));
            }
        }
        let mut mem: BTreeMap<Kind, BTreeMap<String, String>> = BTreeMap::new();
        for k in Kind::all() {
            mem.insert(k, BTreeMap::new());
        }
        {
            let mut stmt = db.prepare("SELECT kind, name, body FROM objects")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (kind, name, body) = row?;
                if let Some(k) = Kind::all().into_iter().find(|k| k.tag() == kind) {
                    mem.entry(k).or_default().insert(name, body);
                }
            }
        }
        Ok(Store { db, mem })
    }

    pub fn get<T: DeserializeOwned>(&self, kind: Kind, name: &str) -> Option<T> {
        self.mem
            .get(&kind)?
            .get(name)
            .and_then(|s| serde_json::from_str(s).ok())
    }

    pub fn contains(&self, kind: Kind, name: &str) -> bool {
        self.mem.get(&kind).is_some_and(|m| m.contains_key(name))
    }

    pub fn put<T: Serialize>(&mut self, kind: Kind, name: &str, value: &T) -> anyhow::Result<()> {
        let body = serde_json::to_string(value)?;
        self.db.execute(
            "INSERT INTO objects(kind, name, body) VALUES (?1, ?2, ?3)
             ON CONFLICT(kind, name) DO UPDATE SET body = excluded.body",
            params![kind.tag(), name, body],
        )?;
        self.mem
            .entry(kind)
            .or_default()
            .insert(name.to_string(), body);
        Ok(())
    }

    pub fn delete(&mut self, kind: Kind, name: &str) -> anyhow::Result<()> {
        self.db.execute(
            "DELETE FROM objects WHERE kind = ?1 AND name = ?2",
            params![kind.tag(), name],
        )?;
        if let Some(m) = self.mem.get_mut(&kind) {
            m.remove(name);
        }
        Ok(())
    }

    /// Deletes every object of `kind` whose name starts with `prefix`.
    pub fn delete_prefix(&mut self, kind: Kind, prefix: &str) -> anyhow::Result<()> {
        let names: Vec<String> = self
            .names_with_prefix(kind, prefix)
            .map(str::to_string)
            .collect();
        let tx = self.db.transaction()?;
        for n in &names {
            tx.execute(
                "DELETE FROM objects WHERE kind = ?1 AND name = ?2",
                params![kind.tag(), n],
            )?;
        }
        tx.commit()?;
        if let Some(m) = self.mem.get_mut(&kind) {
            for n in names {
                m.remove(&n);
            }
        }
        Ok(())
    }

    /// Names of `kind` starting with `prefix`, in name order.
    pub fn names_with_prefix<'a>(
        &'a self,
        kind: Kind,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.mem
            .get(&kind)
            .into_iter()
            .flat_map(move |m| {
                m.range(prefix.to_string()..)
                    .take_while(move |(k, _)| k.starts_with(prefix))
            })
            .map(|(k, _)| k.as_str())
    }

    /// Objects of `kind` under `prefix` whose names come after `after` (exclusive), at most `limit`.
    pub fn page<T: DeserializeOwned>(
        &self,
        kind: Kind,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<T>, bool) {
        let Some(m) = self.mem.get(&kind) else {
            return (Vec::new(), false);
        };
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a.to_string()),
            None => std::ops::Bound::Included(prefix.to_string()),
        };
        let mut it = m
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, v)| serde_json::from_str(v).ok());
        let items: Vec<T> = it.by_ref().take(limit).collect();
        let more = it.next().is_some();
        (items, more)
    }

    pub fn all<T: DeserializeOwned>(&self, kind: Kind) -> Vec<T> {
        self.mem
            .get(&kind)
            .map(|m| {
                m.values()
                    .filter_map(|v| serde_json::from_str(v).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_pages_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(Some(dir.path())).unwrap();
            for i in 0..5 {
                s.put(Kind::Job, &format!("projects/p/locations/l/jobs/j{i}"), &i)
                    .unwrap();
            }
            s.put(Kind::Job, "projects/p/locations/other/jobs/x", &99)
                .unwrap();
            s.delete(Kind::Job, "projects/p/locations/l/jobs/j4")
                .unwrap();
        }
        let s = Store::open(Some(dir.path())).unwrap();
        let (first, more) = s.page::<i32>(Kind::Job, "projects/p/locations/l/jobs/", None, 2);
        assert_eq!(first, vec![0, 1]);
        assert!(more);
        let (rest, more) = s.page::<i32>(
            Kind::Job,
            "projects/p/locations/l/jobs/",
            Some("projects/p/locations/l/jobs/j1"),
            10,
        );
        assert_eq!(rest, vec![2, 3]);
        assert!(!more);
    }
}
