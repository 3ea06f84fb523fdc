//! The device store as a process host: the engine runs here offline.
//!
//! The host side of the engine and the process screens (cards, lists,
//! tasks, calendar, monitor). When the engine runs on a device is decided in
//! one place, [`super::engine_runs`].

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Store, meta, write};
use crate::error::{CoreError, Result};
use crate::ids::{RecordId, RecordKind};
use crate::policy::Access;
use crate::process::card;
use crate::process::instance::Instance;
use crate::process::model::{Model, ModelFile};
use crate::process::monitor::{self, VersionReport};
use crate::process::runner::{self, Control, ProcessHost, model_from_record};
use crate::process::tasks::{self, Item, TaskList};
use crate::record::Record;
use crate::value::FieldValue;
use crate::wire::DirectoryEntry;

/// `t` without its fraction of a second (Automerge stamps changes in seconds).
pub(super) fn truncate_to_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

impl ProcessHost for Store {
    type Error = CoreError;

    fn now(&self) -> Timestamp {
        truncate_to_second(self.clock.now())
    }

    fn acting_user(&self) -> String {
        self.author()
    }

    fn access(&self) -> &Access {
        &self.access
    }

    fn models(&mut self) -> Result<Vec<Model>> {
        let fingerprint: String = self.conn.query_row(
            "SELECT count(*) || ':' || coalesce(max(updated_at), 0) FROM records WHERE kind = 'process_model'",
            [],
            |r| r.get(0),
        )?;
        if let Some((f, models)) = &self.models
            && *f == fingerprint
        {
            return Ok(models.clone());
        }
        let mut models = Vec::new();
        for id in self.records_of(RecordKind::ProcessModel)? {
            if let Some(r) = ProcessHost::record(self, &id)?
                && let Some(m) = model_from_record(&r)
            {
                models.push(m);
            }
        }
        self.models = Some((fingerprint, models.clone()));
        Ok(models)
    }

    fn record(&mut self, id: &RecordId) -> Result<Option<Record>> {
        match self.get(id) {
            Ok(r) => Ok(Some(r)),
            Err(CoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn records_of(&mut self, kind: RecordKind) -> Result<Vec<RecordId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record_id FROM records WHERE kind = ?1 ORDER BY record_id")?;
        let rows: Vec<String> = stmt
            .query_map([kind.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
    }

    fn directory(&mut self) -> Result<Vec<DirectoryEntry>> {
        Store::directory(self)
    }

    fn create(
        &mut self,
        id: &RecordId,
        fields: &BTreeMap<String, FieldValue>,
        at: Timestamp,
    ) -> Result<bool> {
        self.in_write_tx(|ctx| write::create_engine(ctx, id, fields, at))
    }

    fn put_entry(
        &mut self,
        id: &RecordId,
        field: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        self.in_write_tx(|ctx| write::put_entry(ctx, id, field, key, value))
    }

    fn write(&mut self, id: &RecordId, field: &str, value: FieldValue) -> Result<()> {
        let writes = vec![write::FieldWrite::set(field, value)];
        self.in_write_tx(|ctx| write::write_record(ctx, id, false, writes))
    }

    fn set_wakeup(
        &mut self,
        instance: &RecordId,
        at: Option<Timestamp>,
        active: bool,
        watch: Option<&RecordId>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO process_wakeups(instance, wake_at, active, watch) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(instance) DO UPDATE SET wake_at = excluded.wake_at,
                   active = excluded.active AND process_wakeups.failed IS NULL,
                   watch = excluded.watch",
            params![
                instance.to_string(),
                at.map(|t| t.as_second()),
                active,
                watch.map(ToString::to_string)
            ],
        )?;
        Ok(())
    }

    fn due(&mut self, now: Timestamp) -> Result<Vec<RecordId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT instance FROM process_wakeups WHERE active = 1 AND wake_at <= ?1 ORDER BY wake_at",
        )?;
        let rows: Vec<String> = stmt
            .query_map([now.as_second()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
    }

    fn active(&mut self) -> Result<Vec<RecordId>> {
        // Known active instances, and instances that arrived by sync and
        // were never run here.
        let mut stmt = self.conn.prepare_cached(
            "SELECT instance FROM process_wakeups WHERE active = 1
             UNION
             SELECT record_id FROM records WHERE kind = 'process_instance'
               AND record_id NOT IN (SELECT instance FROM process_wakeups)",
        )?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
    }

    fn watching(&mut self, record: &RecordId) -> Result<Vec<RecordId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT instance FROM process_wakeups WHERE watch = ?1 AND active = 1",
        )?;
        let rows: Vec<String> = stmt
            .query_map([record.to_string()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
    }

    fn schedule_mark(&mut self, key: &str) -> Result<Option<Timestamp>> {
        Ok(meta::get(&self.conn, &format!("schedule:{key}"))?.and_then(|t| t.parse().ok()))
    }

    fn set_schedule_mark(&mut self, key: &str, at: Timestamp) -> Result<()> {
        meta::set(&self.conn, &format!("schedule:{key}"), &at.to_string())
    }

    fn failure(&mut self, instance: &RecordId) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT failed FROM process_wakeups WHERE instance = ?1",
                [instance.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    fn mark_failed(&mut self, instance: &RecordId, reason: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO process_wakeups(instance, wake_at, active, failed) VALUES (?1, NULL, 0, ?2)
             ON CONFLICT(instance) DO UPDATE SET wake_at = NULL, active = 0, failed = excluded.failed",
            params![instance.to_string(), reason],
        )?;
        self.engine_problems.push(format!("{instance}: {reason}"));
        Ok(())
    }
}

pub use crate::process::card::{ProcessCard, ProcessSummary, StepVisit};

impl Store {
    /// Publishes a model as the next version of its key (where the user may
    /// publish; normally done on the server).
    pub fn publish_model(&mut self, file: ModelFile) -> Result<(RecordId, i64)> {
        runner::publish(self, file)
    }

    /// Every published model version.
    pub fn process_models(&mut self) -> Result<Vec<Model>> {
        self.models()
    }

    /// Starts model `key` on `record` by hand.
    pub fn start_process(&mut self, key: &str, record: &RecordId) -> Result<RecordId> {
        runner::start_by_hand(self, key, record)
    }

    /// Completes a task and advances its instance; returns the instance.
    pub fn complete_task(&mut self, activity: &RecordId) -> Result<Option<RecordId>> {
        runner::complete_task(self, activity)
    }

    /// Completes a task with its outcome (what its step asks for, see
    /// [`crate::process::outcome`]) and advances its instance.
    pub fn complete_task_with(
        &mut self,
        activity: &RecordId,
        outcome: Option<&str>,
    ) -> Result<Option<RecordId>> {
        runner::complete_task_with(self, activity, outcome)
    }

    /// Suspends, resumes, stops, migrates an instance or changes a
    /// parameter, if the user's role allows it.
    pub fn control_process(
        &mut self,
        instance: &RecordId,
        control: Control,
    ) -> Result<ProcessCard> {
        runner::control(self, instance, control)?;
        self.process_card(instance)
    }

    /// The card of one instance (see [`card::build`]): the activities
    /// shown are those on this device.
    pub fn process_card(&mut self, id: &RecordId) -> Result<ProcessCard> {
        let models = self.models()?;
        let record =
            ProcessHost::record(self, id)?.ok_or_else(|| CoreError::NotFound(id.to_string()))?;
        let wake_at: Option<i64> = self
            .conn
            .query_row(
                "SELECT wake_at FROM process_wakeups WHERE instance = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let failure = ProcessHost::failure(self, id)?;
        card::build(
            &record,
            &models,
            |a| {
                Ok(ProcessHost::record(self, a)?
                    .map(|r| r.text("status").unwrap_or_default().to_owned()))
            },
            card::HostFacts { wake_at, failure },
        )
    }

    /// Every instance here, newest first.
    pub fn process_instances(&mut self) -> Result<Vec<ProcessSummary>> {
        let mut out = Vec::new();
        for id in self.records_of(RecordKind::ProcessInstance)? {
            if let Ok(card) = self.process_card(&id) {
                out.push(ProcessSummary::of(card));
            }
        }
        out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The time zone of `user` from the directory, if known.
    pub fn time_zone_of(&self, user: &str) -> Result<Option<String>> {
        Ok(Store::directory(self)?
            .into_iter()
            .find(|d| d.name == user)
            .and_then(|d| d.time_zone))
    }

    /// Time zone `tz`, else `user`'s from the directory, else UTC: its name
    /// (`None` for UTC) and the zone.
    fn zone_for(
        &self,
        user: &str,
        tz: Option<&str>,
    ) -> Result<(Option<String>, jiff::tz::TimeZone)> {
        let name = match tz {
            Some(t) => Some(t.to_owned()),
            None => self.time_zone_of(user)?,
        };
        let zone = tasks::zone(name.as_deref())?;
        Ok((name, zone))
    }

    /// `user`'s open activities (calls, meetings, tasks...), bucketed into
    /// overdue, today, upcoming and undated in time zone `tz` (the user's
    /// own from the directory when `None`, else UTC).
    pub fn tasks(&mut self, user: &str, tz: Option<&str>) -> Result<TaskList> {
        let (tz_name, zone) = self.zone_for(user, tz)?;
        let open = self.list(&super::ListQuery {
            kind: Some(RecordKind::Activity),
            sort: super::Sort::Due,
            assignee: Some(user.to_owned()),
            status: Some("planned".to_owned()),
            limit: Some(10_000),
            ..super::ListQuery::default()
        })?;
        Ok(tasks::bucket(
            &open,
            ProcessHost::now(self),
            &zone,
            tz_name.as_deref().unwrap_or("UTC"),
        ))
    }

    /// `user`'s activities from local day `from` to local day `to`
    /// (inclusive) in time zone `tz` (as for [`Store::tasks`]), by time.
    pub fn calendar(
        &mut self,
        user: &str,
        from: &str,
        to: &str,
        tz: Option<&str>,
    ) -> Result<Vec<Item>> {
        let (_, zone) = self.zone_for(user, tz)?;
        let (start, end) = tasks::day_bounds(tasks::date(from)?, tasks::date(to)?, &zone);
        let rows = self.list(&super::ListQuery {
            kind: Some(RecordKind::Activity),
            sort: super::Sort::Due,
            assignee: Some(user.to_owned()),
            due_from: Some(start),
            due_before: Some(end),
            limit: Some(10_000),
            ..super::ListQuery::default()
        })?;
        Ok(rows.iter().map(|s| tasks::item(s, &zone)).collect())
    }

    /// Monitoring per model version, over the instances this device sees.
    pub fn process_monitor(&mut self) -> Result<Vec<VersionReport>> {
        let models = self.models()?;
        let now = ProcessHost::now(self);
        let mut instances = Vec::new();
        let mut activities = Vec::new();
        for id in self.records_of(RecordKind::ProcessInstance)? {
            if let Some(inst) = ProcessHost::record(self, &id)?
                .as_ref()
                .and_then(Instance::from_record)
            {
                instances.push(inst);
            }
        }
        let open = self.list(&super::ListQuery {
            kind: Some(RecordKind::Activity),
            status: Some("planned".to_owned()),
            due_before: Some(now),
            limit: Some(1_000_000),
            ..super::ListQuery::default()
        })?;
        // Open activities past due (`due_at`, else `starts_at`: the
        // index's due) that a process step created: missed calls too.
        for s in open {
            if let Some(a) = ProcessHost::record(self, &s.id)?
                .as_ref()
                .and_then(monitor::StepActivity::from_record)
            {
                activities.push(a);
            }
        }
        let mut failures = BTreeMap::new();
        for inst in &instances {
            if let Some(why) = ProcessHost::failure(self, &inst.id)? {
                failures.insert(inst.id.to_string(), why);
            }
        }
        Ok(monitor::report(&monitor::Inputs {
            models: &models,
            instances: &instances,
            activities: &activities,
            failures: &failures,
            now,
        }))
    }
}
