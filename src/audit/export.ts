/**
 * History export for auditors: NDJSON (one event per line, the API shape) or CSV (RFC 4180, one column per
 * stored column, `data` as JSON text), produced page by page so that any volume streams in constant memory.
 * Every exported event keeps prev_hash and hash: an export can be verified without the database.
 */
import type { HistoryEvent } from '../persistence/history.ts';
import type { Knex } from 'knex';
import { parseDateTime } from '../engine/iso.ts';
import { countEvents, iterateEvents, type AuditEvent, type EventFilter } from './store.ts';

export type ExportFormat = 'csv' | 'ndjson';

export interface ApiEvent {
  id: number;
  chainId: string;
  seq: number;
  at: string;
  type: string;
  processInstanceId: string | null;
  processKey: string | null;
  processVersion: number | null;
  businessKey: string | null;
  activityId: string | null;
  activityType: string | null;
  actor: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export function apiEvent(e: AuditEvent): ApiEvent {
  return {
    id: e.id,
    chainId: e.chainId,
    seq: e.seq,
    at: new Date(e.at).toISOString(),
    type: e.type,
    processInstanceId: e.processInstanceId,
    processKey: e.processKey,
    processVersion: e.processVersion,
    businessKey: e.businessKey,
    activityId: e.activityId,
    activityType: e.activityType,
    actor: e.actor,
    data: e.data,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

export const CSV_COLUMNS = ['id', 'chain_id', 'seq', 'at', 'type', 'process_instance_id', 'process_key', 'process_version', 'business_key', 'activity_id', 'activity_type', 'actor', 'data', 'prev_hash', 'hash'] as const;

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(e: AuditEvent): string {
  return [
    e.id,
    e.chainId,
    e.seq,
    new Date(e.at).toISOString(),
    e.type,
    e.processInstanceId,
    e.processKey,
    e.processVersion,
    e.businessKey,
    e.activityId,
    e.activityType,
    e.actor,
    JSON.stringify(e.data),
    e.prevHash,
    e.hash,
  ]
    .map(csvCell)
    .join(',') + '\r\n';
}

export const csvHeader = CSV_COLUMNS.join(',') + '\r\n';

/**
 * The export as text chunks (about 64 KB each); `onProgress(done, total)` after each chunk. `redact` removes what
 * the reader may not see (sensitive variables: src/engine/authorization.ts); an NDJSON event it changed carries
 * `redacted: true` (its hash verifies only on the stored event), CSV keeps its columns.
 */
export async function* exportChunks(db: Knex, filter: EventFilter, format: ExportFormat, onProgress?: (done: number, total: number) => void, redact?: (e: AuditEvent) => { event: AuditEvent; redacted: boolean }): AsyncGenerator<string> {
  const total = onProgress ? await countEvents(db, filter) : 0;
  let chunk = format === 'csv' ? csvHeader : '';
  let done = 0;
  for await (const stored of iterateEvents(db, filter, 'asc', 2000)) {
    const { event: e, redacted } = redact ? redact(stored) : { event: stored, redacted: false };
    chunk += format === 'csv' ? csvLine(e) : JSON.stringify(redacted ? { ...apiEvent(e), redacted: true } : apiEvent(e)) + '\n';
    done++;
    if (chunk.length >= 65536) {
      yield chunk;
      chunk = '';
      onProgress?.(done, total);
    }
  }
  if (chunk) yield chunk;
  onProgress?.(done, total);
}

// ------------------------------------------------------------------ reading exports back

/** RFC 4180 records of a CSV text. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length) {
    record.push(field);
    records.push(record);
  }
  return records;
}

export type ExportedEvent = HistoryEvent & { id: number; prevHash: string; hash: string };

/** The events of an export (either format), ready for verifyChainEvents(). */
export function readExport(text: string, format: ExportFormat): ExportedEvent[] {
  if (format === 'ndjson') {
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const e = JSON.parse(l) as ApiEvent;
        return { ...e, at: parseDateTime(e.at) ?? NaN };
      });
  }
  const [header, ...rows] = parseCsv(text);
  const col = (name: (typeof CSV_COLUMNS)[number]) => header.indexOf(name);
  const idx = Object.fromEntries(CSV_COLUMNS.map((c) => [c, col(c)])) as Record<(typeof CSV_COLUMNS)[number], number>;
  const str = (r: string[], c: (typeof CSV_COLUMNS)[number]) => (r[idx[c]] === '' ? null : r[idx[c]]);
  return rows.map((r) => ({
    id: Number(r[idx.id]),
    chainId: r[idx.chain_id],
    seq: Number(r[idx.seq]),
    at: parseDateTime(r[idx.at]) ?? NaN,
    type: r[idx.type],
    processInstanceId: str(r, 'process_instance_id'),
    processKey: str(r, 'process_key'),
    processVersion: str(r, 'process_version') === null ? null : Number(r[idx.process_version]),
    businessKey: str(r, 'business_key'),
    activityId: str(r, 'activity_id'),
    activityType: str(r, 'activity_type'),
    actor: str(r, 'actor'),
    data: JSON.parse(r[idx.data] || '{}'),
    prevHash: r[idx.prev_hash],
    hash: r[idx.hash],
  }));
}
