'use strict';
// Reference peer for the events benchmark: the receiver a Node developer
// writes from Tencent's docs. Express parses the JSON body, the event is
// written to SQLite with better-sqlite3@12 (WAL, synchronous=FULL, so the
// row is on disk before the answer), idempotently (INSERT OR IGNORE on the
// key of spec tencent-vod.md 5.4: EventType + FileId|TaskId + Status), then
// 200. Single process, one commit per request: better-sqlite3 is synchronous,
// which is how it is used.
//
// Usage: node express-events.js PORT DBPATH   (or env PORT, DB); 127.0.0.1 only.

const express = require('express');
const Database = require('better-sqlite3');

const port = parseInt(process.argv[2] || process.env.PORT || '0', 10);
const dbPath = process.argv[3] || process.env.DB || 'events.db';

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`CREATE TABLE IF NOT EXISTS events (
  event_key   TEXT PRIMARY KEY,
  event_type  TEXT NOT NULL,
  file_id     TEXT,
  task_id     TEXT,
  status      TEXT,
  body        TEXT NOT NULL,
  received_at INTEGER NOT NULL
)`);
const insert = db.prepare(
  'INSERT OR IGNORE INTO events (event_key, event_type, file_id, task_id, status, body, received_at) ' +
    'VALUES (?, ?, ?, ?, ?, ?, ?)',
);

// v3 push format: EventType plus the matching member (spec 4.1).
function eventFields(ev) {
  const type = ev.EventType;
  if (typeof type !== 'string') return null;
  if (type === 'NewFileUpload' && ev.FileUploadEvent) {
    return { type, fileId: ev.FileUploadEvent.FileId, taskId: null, status: '' };
  }
  if (type === 'ProcedureStateChanged' && ev.ProcedureStateChangeEvent) {
    const p = ev.ProcedureStateChangeEvent;
    return { type, fileId: p.FileId, taskId: p.TaskId, status: p.Status || '' };
  }
  return { type, fileId: null, taskId: null, status: '' };
}

const app = express();
app.use(express.json({ limit: '1mb' }));
app.post('/v1/vod/events', (req, res) => {
  const f = req.body && eventFields(req.body);
  if (!f) {
    res.status(400).json({ code: 400, message: 'bad event' });
    return;
  }
  const key = `${f.type}:${f.taskId || f.fileId || ''}:${f.status}`;
  insert.run(key, f.type, f.fileId || null, f.taskId, f.status, JSON.stringify(req.body), Date.now());
  res.json({ code: 0, message: 'ok' });
});

const server = app.listen(port, '127.0.0.1', () => {
  process.stderr.write(JSON.stringify({ msg: 'listening', port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => {
  db.close();
  process.exit(0);
});
