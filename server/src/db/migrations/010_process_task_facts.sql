-- 010_process_task_facts: whether an activity is a task a process planned
-- (it has a `process_instance`). Its `status` moves the process, so the
-- policy lets only roles with the `complete_tasks` right write it
-- (`RecordFacts::process_task`, checked by `Access::check_write`); the
-- server reads the fact here, with the other facts, when it checks a push.
ALTER TABLE records ADD COLUMN process_task INTEGER NOT NULL DEFAULT 0;

-- Activities stored before this migration: the record index (007) holds
-- every stored document's fields, so it says which ones have an instance.
UPDATE records SET process_task = 1
 WHERE kind = 'activity'
   AND record_id IN (SELECT record_id FROM record_fields
                      WHERE kind = 'activity' AND field = 'process_instance');
