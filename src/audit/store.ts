/**
 * Every SQL statement of the audit features: cross-instance event queries (keyset paging on the global id),
 * chain reads, definitions, digests and the fast verification scan. Read-only except for the digest tables.
 */
import type { Knex } from 'knex';
import type { ChainEvent, ExpectedHead } from './chain.ts';
import type { PageReader } from './scan.ts';
import { rowToEvent } from '../persistence/history.ts';

type Db = Knex | Knex.Transaction;

export interface DbHistoryRow {
  id: number | string;
  chain_id: string;
  process_instance_id: string | null;
  process_key: string | null;
  process_version: number | string | null;
  business_key: string | null;
  seq: number | string;
  at: number | string;
  type: string;
  activity_id: string | null;
  activity_type: string | null;
  actor: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

/** A stored event as auditors see it (times in epoch ms; the HTTP and export layers format them). */
export interface AuditEvent extends ChainEvent {
  id: number;
}

export function dialectOf(db: Db): 'postgres' | 'sqlite' {
  return (db as Knex).client.config?.client === 'pg' ? 'postgres' : 'sqlite';
}

export function toAuditEvent(r: DbHistoryRow): AuditEvent {
  return { id: Number(r.id), ...rowToEvent(r) };
}

// ------------------------------------------------------------------ cross-instance queries

export interface EventFilter {
  /** epoch ms, inclusive */
  from?: number;
  /** epoch ms, exclusive */
  to?: number;
  actor?: string;
  processKey?: string;
  processVersion?: number;
  businessKey?: string;
  processInstanceId?: string;
  chainId?: string;
  /** event types; "task.*" matches a prefix */
  types?: string[];
  activityId?: string;
  /** actors to leave out (the operation log leaves out "system") */
  excludeActors?: string[];
}

function applyFilter(q: Knex.QueryBuilder, f: EventFilter): Knex.QueryBuilder {
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  if (f.actor !== undefined) q = q.where('actor', f.actor);
  if (f.processKey !== undefined) q = q.where('process_key', f.processKey);
  if (f.processVersion !== undefined) q = q.where('process_version', f.processVersion);
  if (f.businessKey !== undefined) q = q.where('business_key', f.businessKey);
  if (f.processInstanceId !== undefined) q = q.where('process_instance_id', f.processInstanceId);
  if (f.chainId !== undefined) q = q.where('chain_id', f.chainId);
  if (f.activityId !== undefined) q = q.where('activity_id', f.activityId);
  if (f.types?.length) {
    const exact = f.types.filter((t) => !t.endsWith('*'));
    const prefixes = f.types.filter((t) => t.endsWith('*')).map((t) => t.slice(0, -1));
    q = q.where((w) => {
      if (exact.length) w.orWhereIn('type', exact);
      for (const p of prefixes) w.orWhere('type', 'like', `${p.replace(/[\\%_]/g, (c) => '\\' + c)}%`);
    });
  }
  if (f.excludeActors?.length) q = q.where((w) => w.whereNull('actor').orWhereNotIn('actor', f.excludeActors as string[]));
  return q;
}

export interface PageRequest {
  /** last id of the previous page */
  after?: number;
  order: 'asc' | 'desc';
  limit: number;
}

export async function eventPage(db: Db, f: EventFilter, p: PageRequest): Promise<AuditEvent[]> {
  let q = applyFilter(db('history_events'), f);
  if (p.after !== undefined) q = q.where('id', p.order === 'asc' ? '>' : '<', p.after);
  const rows: DbHistoryRow[] = await q.orderBy('id', p.order).limit(p.limit).select('*');
  return rows.map(toAuditEvent);
}

/** Every matching event, page by page on the id (constant memory, no long-lived cursor or transaction). */
export async function* iterateEvents(db: Db, f: EventFilter, order: 'asc' | 'desc' = 'asc', pageSize = 1000): AsyncGenerator<AuditEvent> {
  let after: number | undefined;
  for (;;) {
    const page = await eventPage(db, f, { after, order, limit: pageSize });
    for (const e of page) yield e;
    if (page.length < pageSize) return;
    after = page[page.length - 1].id;
  }
}

export async function countEvents(db: Db, f: EventFilter): Promise<number> {
  const r: any = await applyFilter(db('history_events'), f).count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}

/** One chain in seq order (ties, which the unique key forbids, by id). */
export async function chainEvents(db: Db, chainId: string): Promise<AuditEvent[]> {
  const rows: DbHistoryRow[] = await db('history_events').where({ chain_id: chainId }).orderBy('seq').orderBy('id').select('*');
  return rows.map(toAuditEvent);
}

/** The first events of a chain after seq, in order (for small look-ups around one event). */
export async function chainEventsAfter(db: Db, chainId: string, afterSeq: number, limit: number): Promise<AuditEvent[]> {
  const rows: DbHistoryRow[] = await db('history_events').where({ chain_id: chainId }).andWhere('seq', '>', afterSeq).orderBy('seq').limit(limit).select('*');
  return rows.map(toAuditEvent);
}

// ------------------------------------------------------------------ definitions

export interface DefinitionXml {
  id: string;
  key: string;
  version: number;
  name: string | null;
  xml: string;
}

export async function definitionById(db: Db, id: string): Promise<DefinitionXml | null> {
  const r = await db('process_definitions').where({ id }).first('id', 'key', 'version', 'name', 'xml');
  return r ? { id: r.id, key: r.key, version: Number(r.version), name: r.name, xml: r.xml } : null;
}

export async function definitionByVersion(db: Db, key: string, version: number): Promise<DefinitionXml | null> {
  const r = await db('process_definitions').where({ key, version }).first('id', 'key', 'version', 'name', 'xml');
  return r ? { id: r.id, key: r.key, version: Number(r.version), name: r.name, xml: r.xml } : null;
}

// ------------------------------------------------------------------ digests

export interface DigestRow {
  seq: number;
  day: string;
  createdAt: number;
  maxEventId: number;
  changedChains: number;
  totalChains: number;
  totalEvents: number;
  headsRoot: string;
  prevDigest: string;
  digest: string;
}

function toDigest(r: any): DigestRow {
  return {
    seq: Number(r.seq),
    day: r.day,
    createdAt: Number(r.created_at),
    maxEventId: Number(r.max_event_id),
    changedChains: Number(r.changed_chains),
    totalChains: Number(r.total_chains),
    totalEvents: Number(r.total_events),
    headsRoot: r.heads_root,
    prevDigest: r.prev_digest,
    digest: r.digest,
  };
}

export async function digests(db: Db, opts: { limit?: number; order?: 'asc' | 'desc' } = {}): Promise<DigestRow[]> {
  let q = db('history_digests').orderBy('seq', opts.order ?? 'asc');
  if (opts.limit) q = q.limit(opts.limit);
  return (await q.select('*')).map(toDigest);
}

export async function digestBySeq(db: Db, seq: number): Promise<DigestRow | null> {
  const r = await db('history_digests').where({ seq }).first();
  return r ? toDigest(r) : null;
}

export interface HeadRow {
  digestSeq: number;
  chainId: string;
  seq: number;
  hash: string;
}

/** The head rows of one digest, or of all digests in (digest_seq, chain_id) order. */
export async function* iterateDigestHeads(db: Db, digestSeq?: number, pageSize = 5000): AsyncGenerator<HeadRow> {
  let after = 0;
  for (;;) {
    let q = db('history_digest_heads').where('id', '>', after);
    if (digestSeq !== undefined) q = q.where({ digest_seq: digestSeq });
    const rows = await q.orderBy('id').limit(pageSize).select('id', 'digest_seq', 'chain_id', 'seq', 'hash');
    for (const r of rows) yield { digestSeq: Number(r.digest_seq), chainId: r.chain_id, seq: Number(r.seq), hash: r.hash };
    if (rows.length < pageSize) return;
    after = Number(rows[rows.length - 1].id);
  }
}

/** The latest head the digests recorded for one chain. */
export async function expectedHead(db: Db, chainId: string): Promise<ExpectedHead | null> {
  const r = await db('history_digest_heads as h')
    .join('history_digests as d', 'd.seq', 'h.digest_seq')
    .where('h.chain_id', chainId)
    .orderBy('h.digest_seq', 'desc')
    .first('h.seq', 'h.hash', 'h.digest_seq', 'd.day', 'd.created_at');
  return r ? { chainId, seq: Number(r.seq), hash: r.hash, digestSeq: Number(r.digest_seq), day: r.day, createdAt: Number(r.created_at) } : null;
}

/** The last recorded head of every chain. */
export async function recordedHeads(db: Db): Promise<Map<string, { seq: number; hash: string; digestSeq: number }>> {
  const rows = await db('history_digest_heads as h')
    .join(
      db('history_digest_heads').groupBy('chain_id').select('chain_id').max({ m: 'digest_seq' }).as('x'),
      (j) => j.on('x.chain_id', '=', 'h.chain_id').andOn('x.m', '=', 'h.digest_seq'),
    )
    .select('h.chain_id', 'h.seq', 'h.hash', 'h.digest_seq');
  return new Map(rows.map((r: any) => [r.chain_id as string, { seq: Number(r.seq), hash: r.hash as string, digestSeq: Number(r.digest_seq) }]));
}

/** The current head (last seq) of every chain, and the highest event id. */
export async function currentHeads(db: Db): Promise<{ heads: Map<string, { seq: number; hash: string }>; maxEventId: number }> {
  const max: any = await db('history_events').max({ m: 'id' }).first();
  const rows = await db('history_events as e')
    .join(db('history_events').groupBy('chain_id').select('chain_id').max({ m: 'seq' }).as('x'), (j) =>
      j.on('x.chain_id', '=', 'e.chain_id').andOn('x.m', '=', 'e.seq'),
    )
    .select('e.chain_id', 'e.seq', 'e.hash');
  return { heads: new Map(rows.map((r: any) => [r.chain_id as string, { seq: Number(r.seq), hash: r.hash as string }])), maxEventId: Number(max?.m ?? 0) };
}

/** Instances whose row exists but whose history chain does not even have its first event. */
export async function instancesWithoutHistory(db: Db, limit = 1000): Promise<string[]> {
  const rows = await db('process_instances as p')
    .leftJoin('history_events as h', (j) => j.on('h.chain_id', '=', 'p.id').andOnVal('h.seq', '=', 1))
    .whereNull('h.id')
    .orderBy('p.id')
    .limit(limit)
    .select('p.id');
  return rows.map((r: any) => r.id as string);
}

/** Hashes of the events at the given (chain, seq) positions. */
export async function hashesAt(db: Db, positions: { chainId: string; seq: number }[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < positions.length; i += 200) {
    const batch = positions.slice(i, i + 200);
    const rows = await db('history_events')
      .where((w) => {
        for (const p of batch) w.orWhere((x) => x.where({ chain_id: p.chainId, seq: p.seq }));
      })
      .select('chain_id', 'seq', 'hash');
    for (const r of rows) out.set(`${r.chain_id}\u0000${Number(r.seq)}`, r.hash);
  }
  return out;
}

export async function insertDigest(trx: Knex.Transaction, d: DigestRow, heads: HeadRow[]): Promise<void> {
  await trx('history_digests').insert({
    seq: d.seq,
    day: d.day,
    created_at: d.createdAt,
    max_event_id: d.maxEventId,
    changed_chains: d.changedChains,
    total_chains: d.totalChains,
    total_events: d.totalEvents,
    heads_root: d.headsRoot,
    prev_digest: d.prevDigest,
    digest: d.digest,
  });
  const rows = heads.map((h) => ({ digest_seq: h.digestSeq, chain_id: h.chainId, seq: h.seq, hash: h.hash }));
  for (let i = 0; i < rows.length; i += 500) await trx('history_digest_heads').insert(rows.slice(i, i + 500));
}

// ------------------------------------------------------------------ fast verification scan

/**
 * One page of the verification scan, one text line per event, fields separated by U+001F: id, chain id
 * (JSON-quoted), seq, hash, then prev_hash followed by the canonical JSON of the columns before `data`, the
 * canonical JSON of the columns after it, and `data` last. The database builds the canonical JSON of the plain
 * columns (its JSON quoting equals JSON.stringify for the text the engine writes), which leaves JavaScript only
 * `data` to canonicalise and one string per row to receive, several times cheaper than a row object. The chain
 * id is quoted, so a raw separator elsewhere in a tampered row can only garble that row's own check, under the
 * right chain; a row whose hash does not match this way is re-checked with the exact function before anything
 * is reported: a quoting difference can only cost time, never a wrong verdict.
 */
export function scanSql(dialect: 'postgres' | 'sqlite'): string {
  const pg = dialect === 'postgres';
  const q = pg ? (c: string) => `coalesce(to_json(${c})::text, 'null')` : (c: string) => `json_quote(${c})`;
  const sep = pg ? 'chr(31)' : 'char(31)';
  const int = (c: string) => (pg ? `${c}::text` : c);
  const before = ['activityId:activity_id', 'activityType:activity_type', 'actor:actor', 'at:at', 'businessKey:business_key', 'chainId:chain_id'].map((x) => x.split(':'));
  const after = ['processInstanceId:process_instance_id', 'processKey:process_key', 'processVersion:process_version', 'seq:seq', 'type:type'].map((x) => x.split(':'));
  // SQLite's json_object() writes compact JSON in the order given: one call instead of one per column (PostgreSQL's
  // json_build_object puts spaces around the colons, so there each value is quoted on its own)
  const pre = pg
    ? `prev_hash || '{' || ${before.map(([k, c]) => `'"${k}":' || ${q(c)}`).join(` || ',' || `)} || ',"data":'`
    : `prev_hash || rtrim(json_object(${before.map(([k, c]) => `'${k}', ${c}`).join(', ')}), '}') || ',"data":'`;
  const suf = pg
    ? `',' || ${after.map(([k, c]) => `'"${k}":' || ${q(c)}`).join(` || ',' || `)} || '}'`
    : `',' || substr(json_object(${after.map(([k, c]) => `'${k}', ${c}`).join(', ')}), 2)`;
  const line = [int('id'), q('chain_id'), int('seq'), 'hash', pre, suf, `coalesce(data, '')`].join(` || ${sep} || `);
  const [a, b, n] = pg ? ['$1', '$2', '$3'] : ['?', '?', '?'];
  return `select ${line} as l from history_events where id > ${a} and id <= ${b} order by id limit ${n}`;
}

/**
 * On SQLite the lines come 32 to a row (group_concat in id order, separated by U+001E): the driver's cost is per
 * row, and this reads a page with about a fifth less CPU. Each group says how many lines it holds; a group
 * that does not split into exactly that many (a raw U+001E in a tampered row) is read again line by line.
 */
export const SCAN_GROUP = 32;

function scanSqlGrouped(): string {
  const single = scanSql('sqlite');
  const inner = single.replace(' as l from history_events', ` as l, id as i, id / ${SCAN_GROUP} as g from history_events`);
  return `select count(*) as n, min(i) as a, max(i) as b, group_concat(l, char(30) order by i) as l from (${inner}) group by g order by g`;
}

/** A page reader over any way of running SQL on SQLite (knex here, the bare driver in a worker). */
export function sqlitePageReader(query: (sql: string, params: unknown[]) => Promise<any[]>): PageReader {
  const grouped = scanSqlGrouped();
  const single = scanSql('sqlite');
  return async (after, upTo, limit) => {
    const out: string[] = [];
    for (const r of await query(grouped, [after, upTo, limit])) {
      const parts = r.l === null || r.l === undefined ? [] : String(r.l).split('\u001e');
      if (parts.length === Number(r.n)) {
        for (const line of parts) out.push(line);
        continue;
      }
      for (const x of await query(single, [Number(r.a) - 1, Number(r.b), Number(r.n)])) out.push(x.l ?? '');
    }
    return out;
  };
}

/** A page reader on a knex connection (the scan in this thread). */
export function knexPageReader(db: Knex): PageReader {
  const run = async (sql: string, params: unknown[]) => {
    const r: any = await db.raw(sql.replace(/\$[123]/g, '?'), params as any[]);
    return (Array.isArray(r) ? r : r.rows) as any[];
  };
  if (dialectOf(db) === 'sqlite') return sqlitePageReader(run);
  const sql = scanSql('postgres');
  return async (after, upTo, limit) => (await run(sql, [after, upTo, limit])).map((x: { l: string | null }) => x.l ?? '');
}

/** The lowest and highest event id. */
export async function eventIdRange(db: Db): Promise<{ min: number; max: number }> {
  const r: any = await db('history_events').min({ lo: 'id' }).max({ hi: 'id' }).first();
  return { min: Number(r?.lo ?? 0), max: Number(r?.hi ?? 0) };
}

/** Chain ids of the given event ids. */
export async function chainsOfEventIds(db: Db, ids: number[]): Promise<string[]> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const r of await db('history_events').whereIn('id', ids.slice(i, i + 500)).select('chain_id')) out.add(r.chain_id);
  }
  return [...out];
}
