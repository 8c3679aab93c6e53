//! State: a JSON file with lineage and serial, written atomically (temp + fsync + rename, mode
//! 0600, previous version kept as `.backup`), plus an append-only journal beside it where apply
//! makes each completed action durable before reporting it. The journal is folded into the
//! state at the end of apply, or on the next load after an interrupted one.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A resource's Terraform-shaped values, kept as compact JSON text until read: a state of
/// 10,000 jobs stays a few megabytes in memory instead of a tree of small allocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Values(Box<serde_json::value::RawValue>);

impl Values {
    pub fn new(v: &Value) -> Values {
        let text = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
        Values(serde_json::value::RawValue::from_string(text).unwrap_or_else(|_| Self::null()))
    }
    fn null() -> Box<serde_json::value::RawValue> {
        serde_json::value::RawValue::from_string("null".into()).expect("null is JSON")
    }
    /// The values' JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
    }
    /// All values as a JSON tree.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
    /// One top-level value, read without building the rest.
    pub fn get(&self, key: &str) -> Option<Value> {
        use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
        struct Pick<'k>(&'k str);
        impl<'de> Visitor<'de> for Pick<'_> {
            type Value = Option<Value>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Option<Value>, A::Error> {
                let mut found = None;
                while let Some(k) = m.next_key::<String>()? {
                    if k == self.0 {
                        found = Some(m.next_value::<Value>()?);
                    } else {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(found)
            }
            fn visit_unit<E>(self) -> Result<Option<Value>, E> {
                Ok(None)
            }
        }
        let mut de = serde_json::Deserializer::from_str(self.0.get());
        de.deserialize_any(Pick(key)).ok().flatten()
    }
    /// Several top-level values in one pass over the text (in `keys`' order).
    pub fn pick(&self, keys: &[&str]) -> Vec<Option<Value>> {
        use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
        struct Pick<'k>(&'k [&'k str]);
        impl<'de> Visitor<'de> for Pick<'_> {
            type Value = Vec<Option<Value>>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut found = vec![None; self.0.len()];
                while let Some(k) = m.next_key::<String>()? {
                    match self.0.iter().position(|x| *x == k) {
                        Some(i) => found[i] = Some(m.next_value::<Value>()?),
                        None => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(found)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(vec![None; self.0.len()])
            }
        }
        let mut de = serde_json::Deserializer::from_str(self.0.get());
        de.deserialize_any(Pick(keys))
            .unwrap_or_else(|_| vec![None; keys.len()])
    }
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

impl Default for Values {
    fn default() -> Self {
        Values(Self::null())
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get() || self.to_value() == other.to_value()
    }
}

impl From<&Value> for Values {
    fn from(v: &Value) -> Self {
        Values::new(v)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateEntry {
    #[serde(rename = "type")]
    pub ty: String,
    pub id: String,
    pub values: Values,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub extra: Value,
    /// Paths of values that were sensitive when applied: plans keep hiding them (Terraform's
    /// `sensitive_attributes`), even after the configuration stops marking them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub lineage: String,
    pub serial: u64,
    #[serde(default)]
    pub runform_version: String,
    #[serde(default)]
    pub resources: BTreeMap<String, StateEntry>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// Each output's type (Terraform's type JSON), so it reads back as the value it was.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_types: BTreeMap<String, Value>,
    /// Outputs declared `sensitive = true` (never printed unless asked for by name).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub sensitive_outputs: std::collections::BTreeSet<String>,
}

/// The state format this runform reads and writes.
pub const STATE_VERSION: u32 = 1;

impl State {
    pub fn new() -> State {
        State {
            version: STATE_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            runform_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        }
    }
}

impl State {
    /// Refuses a state in a format this runform does not know (a newer runform's, or not
    /// runform's), rather than reading it wrongly and writing it back.
    pub fn check_version(&self) -> Result<(), String> {
        if self.version == STATE_VERSION {
            return Ok(());
        }
        Err(format!(
            "format version {} is not one this runform reads (it reads version {STATE_VERSION}{})",
            self.version,
            if self.version > STATE_VERSION {
                "; a newer runform wrote it: upgrade runform"
            } else {
                ""
            }
        ))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalRecord {
    lineage: String,
    addr: String,
    entry: Option<StateEntry>,
}

/// The state of one target and workspace: a local file, or (with `backend "gcs"`) an object
/// in a Cloud Storage bucket. Either way the journal of an apply in progress is a local file
/// (`path` + `.journal`).
pub struct StateFile {
    pub path: PathBuf,
    pub remote: Option<Remote>,
}

/// A state kept in Cloud Storage with Terraform's gcs backend layout: the state at
/// `PREFIX/WORKSPACE.tfstate`, the lock at `PREFIX/WORKSPACE.tflock`, taken by creating it
/// with `ifGenerationMatch=0` and released by deleting the generation that was created.
#[derive(Clone)]
pub struct Remote {
    pub client: crate::cloud::Client,
    pub bucket: String,
    pub object: String,
    pub lock_object: String,
}

impl Remote {
    pub fn url(&self) -> String {
        format!("gs://{}/{}", self.bucket, self.object)
    }
}

impl StateFile {
    pub fn new(path: PathBuf) -> Self {
        StateFile { path, remote: None }
    }

    pub fn gcs(journal_base: PathBuf, remote: Remote) -> Self {
        StateFile {
            path: journal_base,
            remote: Some(remote),
        }
    }

    /// Where the state lives, for messages.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(r) => r.url(),
            None => self.path.display().to_string(),
        }
    }

    /// Deletes the state (a workspace being deleted).
    pub fn delete(&self) -> anyhow::Result<()> {
        match &self.remote {
            Some(r) => {
                crate::cloud::block_on(r.client.delete_object_if(&r.bucket, &r.object, None))
                    .map_err(|e| anyhow::anyhow!(e))?
                    .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
                    .map_err(|e| anyhow::anyhow!("cannot delete {}: {e}", r.url()))
            }
            None => {
                for p in [self.path.clone(), with_suffix(&self.path, ".backup")] {
                    match std::fs::remove_file(&p) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => {}
                    }
                }
                if let Some(d) = self.path.parent() {
                    let _ = std::fs::remove_dir(d);
                }
                Ok(())
            }
        }
    }

    /// Whether a state has been written yet.
    pub fn exists(&self) -> bool {
        match &self.remote {
            Some(r) => crate::cloud::block_on(r.client.object_metadata(&r.bucket, &r.object))
                .ok()
                .and_then(|x| x.ok())
                .flatten()
                .is_some(),
            None => self.path.exists(),
        }
    }

    fn read_bytes(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match &self.remote {
            Some(r) => {
                let got = crate::cloud::block_on(r.client.download_object(&r.bucket, &r.object))
                    .map_err(|e| anyhow::anyhow!(e))?;
                got.map_err(|e| anyhow::anyhow!("cannot read the state at {}: {e}", r.url()))
            }
            None => match std::fs::read(&self.path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(anyhow::anyhow!(
                    "cannot read state file {}: {e}",
                    self.path.display()
                )),
            },
        }
    }

    fn journal_path(&self) -> PathBuf {
        with_suffix(&self.path, ".journal")
    }

    fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    /// Reads the state with the journal of an apply in progress (or one that was interrupted)
    /// applied in memory. Neither file is changed: only the lock holder folds a journal (when
    /// it writes the state, or opens its own journal), so a reader never takes records away
    /// from a running apply.
    pub fn load(&self) -> anyhow::Result<State> {
        let mut state: State = match self.read_bytes()? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("state {} is corrupt: {e}", self.describe()))?,
            None => State::new(),
        };
        state
            .check_version()
            .map_err(|e| anyhow::anyhow!("state {}: {e}", self.describe()))?;
        let replayed = self.replay_journal(&mut state)?;
        if replayed > 0 {
            state.serial += 1;
        }
        Ok(state)
    }

    fn replay_journal(&self, state: &mut State) -> anyhow::Result<usize> {
        let text = match std::fs::read_to_string(self.journal_path()) {
            Ok(t) => t,
            Err(_) => return Ok(0),
        };
        let mut n = 0;
        for line in text.lines() {
            // A torn last line (killed mid-write) is ignored: its action was never reported.
            let Ok(rec) = serde_json::from_str::<JournalRecord>(line) else {
                continue;
            };
            if rec.lineage != state.lineage {
                if state.resources.is_empty() && state.serial == 0 {
                    state.lineage = rec.lineage.clone();
                } else {
                    continue;
                }
            }
            match rec.entry {
                Some(e) => state.resources.insert(rec.addr, e),
                None => state.resources.remove(&rec.addr),
            };
            n += 1;
        }
        Ok(n)
    }

    /// Writes the state (which, read by [`StateFile::load`], holds the journal's records) and
    /// then removes the journal. Only the lock holder writes.
    pub fn write(&self, state: &State) -> anyhow::Result<()> {
        self.write_state(state)?;
        let _ = std::fs::remove_file(self.journal_path());
        Ok(())
    }

    /// Writes the state atomically (temp file, fsync, rename), keeping a backup.
    fn write_state(&self, state: &State) -> anyhow::Result<()> {
        if let Some(r) = &self.remote {
            let mut bytes = serde_json::to_vec_pretty(state)?;
            bytes.push(b'\n');
            crate::cloud::block_on(r.client.upload_object(
                &r.bucket,
                &r.object,
                "application/json",
                bytes,
            ))
            .map_err(|e| anyhow::anyhow!(e))?
            .map_err(|e| anyhow::anyhow!("cannot write the state to {}: {e}", r.url()))?;
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = serde_json::to_vec_pretty(state)?;
        text.push(b'\n');
        if self.path.exists() {
            let _ = std::fs::copy(&self.path, with_suffix(&self.path, ".backup"));
        }
        write_private_atomic(&self.path, &text)?;
        Ok(())
    }

    /// Opens the journal for appending records during apply. A journal left by an
    /// interrupted apply is folded first (`state` was loaded with it), so records never follow
    /// a torn line.
    pub fn journal(&self, state: &State) -> anyhow::Result<Journal> {
        if self.journal_path().exists() {
            self.write(state)?;
        }
        let lineage = &state.lineage;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(self.journal_path())?;
        Ok(Journal {
            file: std::sync::Mutex::new(f),
            lineage: lineage.to_string(),
        })
    }

    /// Writes `state` (the journal's records folded in) with a new serial; removes the journal.
    pub fn commit(&self, state: &mut State) -> anyhow::Result<()> {
        state.serial += 1;
        self.write(state)
    }

    /// Takes the state lock for a state-changing command, or says who holds it.
    pub fn lock(&self, operation: &str) -> anyhow::Result<LockGuard> {
        self.lock_wait(operation, std::time::Duration::ZERO)
    }

    /// Takes the state lock, waiting up to `timeout` for its holder to release it.
    pub fn lock_wait(
        &self,
        operation: &str,
        timeout: std::time::Duration,
    ) -> anyhow::Result<LockGuard> {
        let deadline = std::time::Instant::now() + timeout;
        let mut said = false;
        loop {
            match self.try_lock(operation)? {
                Ok(g) => return Ok(g),
                Err(holder) => {
                    // A wait is never silent: say once whose lock it waits for.
                    if !said && !timeout.is_zero() {
                        eprintln!(
                            "Waiting up to {} for the state lock held by {} (operation {}, since {}, lock ID {})...",
                            crate::api::common::format_duration_short(timeout),
                            holder.who,
                            holder.operation,
                            holder.created,
                            holder.id
                        );
                        said = true;
                    }
                    if std::time::Instant::now() >= deadline {
                        let waited = if timeout.is_zero() {
                            String::new()
                        } else {
                            format!(" (waited {:?})", timeout)
                        };
                        anyhow::bail!(
                            "the state is locked by {} (operation {}, since {}, pid {}, lock ID {}){waited}\nhint: wait for it to finish, or pass --lock-timeout 5m to wait; if that run is gone for good, `runform force-unlock {}`",
                            holder.who, holder.operation, holder.created, holder.pid, holder.id, holder.id
                        );
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
    }

    /// The current lock, if any.
    pub fn lock_info(&self) -> Option<LockInfo> {
        if let Some(r) = &self.remote {
            let bytes = crate::cloud::block_on(r.client.download_object(&r.bucket, &r.lock_object))
                .ok()?
                .ok()??;
            return serde_json::from_slice(&bytes).ok();
        }
        std::fs::read_to_string(self.lock_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
    }

    /// Removes the lock if its ID is `id`.
    pub fn force_unlock(&self, id: &str) -> anyhow::Result<LockInfo> {
        let Some(info) = self.lock_info() else {
            anyhow::bail!("the state is not locked");
        };
        if info.id != id {
            anyhow::bail!(
                "lock ID mismatch: the state is locked with ID {} (by {}, operation {}, since {})",
                info.id,
                info.who,
                info.operation,
                info.created
            );
        }
        match &self.remote {
            Some(r) => {
                crate::cloud::block_on(r.client.delete_object_if(&r.bucket, &r.lock_object, None))
                    .map_err(|e| anyhow::anyhow!(e))?
                    .map_err(|e| anyhow::anyhow!("cannot delete the lock {}: {e}", r.lock_object))?
            }
            None => std::fs::remove_file(self.lock_path())?,
        }
        Ok(info)
    }

    fn try_lock(&self, operation: &str) -> anyhow::Result<Result<LockGuard, LockInfo>> {
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: format!(
                "{}@{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
                hostname()
            ),
            pid: std::process::id(),
            created: chrono::Utc::now().to_rfc3339(),
            path: self.describe(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            info: String::new(),
        };
        if let Some(r) = &self.remote {
            let body = serde_json::to_vec(&info)?;
            let created = crate::cloud::block_on(r.client.upload_object_if(
                &r.bucket,
                &r.lock_object,
                "application/json",
                body,
                Some(0),
            ))
            .map_err(|e| anyhow::anyhow!(e))?;
            return match created {
                Ok(obj) => {
                    let generation = obj["generation"]
                        .as_str()
                        .and_then(|g| g.parse::<u64>().ok())
                        .ok_or_else(|| anyhow::anyhow!("the lock object has no generation"))?;
                    Ok(Ok(LockGuard {
                        path: PathBuf::new(),
                        remote: Some((r.clone(), generation)),
                    }))
                }
                Err(e) if e.status() == Some(412) => {
                    Ok(Err(self.lock_info().unwrap_or_else(|| {
                        // Released between our attempt and the read: report it as busy; the
                        // caller retries until its timeout.
                        LockInfo::unknown()
                    })))
                }
                Err(e) => Err(anyhow::anyhow!(
                    "cannot take the state lock {}: {e}",
                    r.lock_object
                )),
            };
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.lock_path())
        {
            Ok(mut f) => {
                f.write_all(serde_json::to_string(&info)?.as_bytes())?;
                Ok(Ok(LockGuard {
                    path: self.lock_path(),
                    remote: None,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let Some(holder) = self.lock_info() else {
                    // Being written right now, or unreadable: treat as held.
                    return Ok(Err(LockInfo::unknown()));
                };
                let alive = holder.pid != 0 && Path::new(&format!("/proc/{}", holder.pid)).exists();
                let same_host = holder.who.ends_with(&format!("@{}", hostname()));
                if !alive && holder.pid != 0 && same_host {
                    // The holder died (killed apply on this machine): the lock is stale.
                    let _ = std::fs::remove_file(self.lock_path());
                    return self.try_lock(operation);
                }
                Ok(Err(holder))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Who holds the state lock (Terraform's lock-info field names, plus the holder's pid).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    #[serde(rename = "ID", alias = "id")]
    pub id: String,
    #[serde(rename = "Operation", alias = "operation")]
    pub operation: String,
    #[serde(rename = "Info", alias = "info", default)]
    pub info: String,
    #[serde(rename = "Who", alias = "who")]
    pub who: String,
    #[serde(rename = "Version", alias = "version", default)]
    pub version: String,
    #[serde(rename = "Created", alias = "created")]
    pub created: String,
    #[serde(rename = "Path", alias = "path", default)]
    pub path: String,
    #[serde(default)]
    pub pid: u32,
}

impl LockInfo {
    fn unknown() -> LockInfo {
        LockInfo {
            id: "?".into(),
            operation: "?".into(),
            info: String::new(),
            who: "?".into(),
            version: String::new(),
            created: "?".into(),
            path: String::new(),
            pid: 0,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Writes `bytes` to `path` readable by the owner only (0600), all or nothing: a temporary
/// file beside it, synced, renamed over it, the directory synced. State files and saved plans
/// are written this way.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub struct LockGuard {
    path: PathBuf,
    /// A Cloud Storage lock: released by deleting exactly the generation we created.
    remote: Option<(Remote, u64)>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        match &self.remote {
            Some((r, generation)) => {
                let r2 = r.clone();
                let g = *generation;
                let done = crate::cloud::block_on(async move {
                    r2.client
                        .delete_object_if(&r2.bucket, &r2.lock_object, Some(g))
                        .await
                });
                if let Ok(Err(e)) = done {
                    eprintln!(
                        "warning: could not release the state lock {}: {e}; run `runform force-unlock` if it stays",
                        r.lock_object
                    );
                }
            }
            None => {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Append-only record of completed actions; each record is on disk before it returns.
pub struct Journal {
    file: std::sync::Mutex<std::fs::File>,
    lineage: String,
}

impl Journal {
    pub fn record(&self, addr: &str, entry: Option<&StateEntry>) -> anyhow::Result<()> {
        let rec = JournalRecord {
            lineage: self.lineage.clone(),
            addr: addr.to_string(),
            entry: entry.cloned(),
        };
        let mut line = serde_json::to_vec(&rec)?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line)?;
        f.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_survives_a_crash_and_is_folded_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("s.tfstate"));
        let mut st = sf.load().unwrap();
        sf.write(&st).unwrap();
        let j = sf.journal(&st).unwrap();
        j.record(
            "a.b",
            Some(&StateEntry {
                ty: "t".into(),
                id: "x".into(),
                ..Default::default()
            }),
        )
        .unwrap();
        drop(j);
        // Simulate a torn write after the good record.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("s.tfstate.journal"))
            .unwrap()
            .write_all(b"{\"lin")
            .unwrap();
        let before = std::fs::read(&sf.path).unwrap();
        let loaded = sf.load().unwrap();
        assert_eq!(loaded.resources["a.b"].id, "x");
        assert_eq!(loaded.lineage, st.lineage);
        // A reader changes neither file.
        assert!(dir.path().join("s.tfstate.journal").exists());
        assert_eq!(std::fs::read(&sf.path).unwrap(), before);
        // The next apply folds it before journaling its own records after no torn line.
        let j = sf.journal(&loaded).unwrap();
        j.record("a.c", None).unwrap();
        drop(j);
        let again = sf.load().unwrap();
        assert_eq!(again.resources["a.b"].id, "x");
        assert!(
            !std::fs::read_to_string(dir.path().join("s.tfstate.journal"))
                .unwrap()
                .contains("{\"lin{")
        );
        st.serial = 5;
        sf.write(&st).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&sf.path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn an_unknown_state_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("s.tfstate"));
        let mut st = State::new();
        st.version = 99;
        std::fs::write(&sf.path, serde_json::to_vec(&st).unwrap()).unwrap();
        let err = sf.load().unwrap_err().to_string();
        assert!(
            err.contains("format version 99") && err.contains("upgrade runform"),
            "{err}"
        );
    }

    #[test]
    fn lock_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("s.tfstate"));
        let g = sf.lock("apply").unwrap();
        let err = sf.lock("plan").err().unwrap().to_string();
        assert!(err.contains("operation apply"), "{err}");
        drop(g);
        assert!(sf.lock("plan").is_ok());
    }
}

#[cfg(test)]
mod values_tests {
    use super::*;

    #[test]
    fn values_read_one_key_or_all_and_round_trip() {
        let v = serde_json::json!({"name": "a", "deletion_protection": false, "template": {"task_count": 2}});
        let vals = Values::new(&v);
        assert_eq!(vals.get("deletion_protection"), Some(Value::Bool(false)));
        assert_eq!(
            vals.get("template"),
            Some(serde_json::json!({"task_count": 2}))
        );
        assert_eq!(vals.get("missing"), None);
        assert_eq!(vals.get_str("name").as_deref(), Some("a"));
        assert_eq!(vals.to_value(), v);
        let text = serde_json::to_string(&vals).unwrap();
        let back: Values = serde_json::from_str(&text).unwrap();
        assert_eq!(back, vals);
        assert_eq!(Values::default().get("x"), None);
    }
}
