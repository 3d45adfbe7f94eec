// What wrangler dev stores for the worker, read from its state directory (`--persist-to`,
// PORTCULLIS_STATE_DIR in the suite): the Durable Objects' SQLite files, found the way the
// suite's object-creation check and scripts/test-worker's secret scan find them, and measured
// value by value against the platform's limit. Used by tests/e2e/storage-limits.test.mjs and
// scripts/bench-scale.mjs.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

/**
 * Cloudflare's limit for one string, BLOB or table row in a SQLite-backed Durable Object (2 MB).
 * `wrangler dev` does not enforce it, so the tests check it themselves.
 */
export const VALUE_LIMIT = 2_000_000;

/** Every Durable Object database file wrangler dev keeps under its state directory. */
export function objectFiles(root = process.env.PORTCULLIS_STATE_DIR) {
  assert.ok(root, "PORTCULLIS_STATE_DIR is not set (run the suite through scripts/test-worker)");
  const found = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.includes(`${join("v3", "do")}`) && name.endsWith(".sqlite")) found.push(path);
    }
  };
  walk(root);
  return found;
}

/** node:sqlite, without its "experimental" warning (Node 22 still prints one on first use). */
async function sqlite() {
  const emit = process.emitWarning;
  process.emitWarning = (warning, ...rest) => {
    if (!String(warning).includes("SQLite")) emit.call(process, warning, ...rest);
  };
  try {
    return await import("node:sqlite");
  } finally {
    process.emitWarning = emit;
  }
}

/**
 * Calls `read(db)` on a copy of the database at `path` (with its -wal and -shm files, so writes
 * workerd has not checkpointed yet are seen): the copy never takes a lock workerd would wait on.
 */
async function withCopy(path, read) {
  const { DatabaseSync } = await sqlite();
  const dir = mkdtempSync(join(tmpdir(), "portcullis-do-"));
  try {
    const copy = join(dir, basename(path));
    for (const suffix of ["", "-wal", "-shm"]) {
      if (existsSync(path + suffix)) copyFileSync(path + suffix, copy + suffix);
    }
    const db = new DatabaseSync(copy);
    try {
      return read(db);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const quote = (name) => `"${name.replaceAll('"', '""')}"`;

/**
 * Sizes of everything stored in one Durable Object database: for each table, its largest value
 * (bytes of the column's text or BLOB, as stored) and its largest row (the sum over its columns),
 * with the row's key (its primary key, else its rowid), every value or row over `limit`, and the
 * total. Returns { file, bytes, largestValue, largestRow, over: [...], tables: {...} }.
 */
export async function measureObject(path, limit = VALUE_LIMIT) {
  return withCopy(path, (db) => {
    const tables = db
      .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all();
    const result = { file: path, bytes: 0, largestValue: null, largestRow: null, over: [], tables: {} };
    for (const { name, sql } of tables) {
      const columns = db.prepare(`PRAGMA table_info(${quote(name)})`).all();
      const keys = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
      const withoutRowid = /WITHOUT\s+ROWID/i.test(sql ?? "");
      const key = keys.length
        ? keys.map((c) => `CAST(${quote(c.name)} AS TEXT)`).join(" || '/' || ")
        : withoutRowid
          ? "''"
          : "CAST(rowid AS TEXT)";
      const size = (c) => `coalesce(length(CAST(${quote(c.name)} AS BLOB)), 0)`;
      const row = columns.map(size).join(" + ") || "0";
      const stats = db
        .prepare(`SELECT count(*) AS rows, coalesce(sum(${row}), 0) AS bytes FROM ${quote(name)}`)
        .get();
      const entry = { rows: Number(stats.rows), bytes: Number(stats.bytes), largestValue: null, largestRow: null };
      result.bytes += entry.bytes;
      const largestRow = db.prepare(`SELECT ${key} AS key, ${row} AS bytes FROM ${quote(name)} ORDER BY 2 DESC LIMIT 1`).get();
      if (largestRow) entry.largestRow = { table: name, key: largestRow.key, bytes: Number(largestRow.bytes) };
      for (const column of columns) {
        const top = db
          .prepare(`SELECT ${key} AS key, ${size(column)} AS bytes FROM ${quote(name)} ORDER BY 2 DESC LIMIT 1`)
          .get();
        if (top && (!entry.largestValue || Number(top.bytes) > entry.largestValue.bytes)) {
          entry.largestValue = { table: name, column: column.name, key: top.key, bytes: Number(top.bytes) };
        }
        for (const big of db
          .prepare(`SELECT ${key} AS key, ${size(column)} AS bytes FROM ${quote(name)} WHERE ${size(column)} > ?`)
          .all(limit)) {
          result.over.push({ kind: "value", table: name, column: column.name, key: big.key, bytes: Number(big.bytes) });
        }
      }
      for (const big of db.prepare(`SELECT ${key} AS key, ${row} AS bytes FROM ${quote(name)} WHERE ${row} > ?`).all(limit)) {
        result.over.push({ kind: "row", table: name, key: big.key, bytes: Number(big.bytes) });
      }
      result.tables[name] = entry;
      if (entry.largestValue && (!result.largestValue || entry.largestValue.bytes > result.largestValue.bytes)) {
        result.largestValue = entry.largestValue;
      }
      if (entry.largestRow && (!result.largestRow || entry.largestRow.bytes > result.largestRow.bytes)) {
        result.largestRow = entry.largestRow;
      }
    }
    return result;
  });
}

/** Whether any value stored in the database at `path` contains `text` (a control for scans). */
export async function objectHolds(path, text) {
  return withCopy(path, (db) => {
    for (const { name } of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all()) {
      for (const column of db.prepare(`PRAGMA table_info(${quote(name)})`).all()) {
        const hit = db
          .prepare(`SELECT 1 FROM ${quote(name)} WHERE instr(CAST(${quote(column.name)} AS BLOB), CAST(? AS BLOB)) > 0 LIMIT 1`)
          .get(text);
        if (hit) return true;
      }
    }
    return false;
  });
}

/** `path` relative to the state directory's Durable Object folder, for messages. */
export function shortName(path) {
  const at = path.lastIndexOf(`${join("v3", "do")}`);
  return at < 0 ? path : path.slice(at + join("v3", "do").length + 1);
}
