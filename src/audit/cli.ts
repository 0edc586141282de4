/**
 * `insureflow audit <export|verify|replay|digest>`. Data goes to stdout, progress bars and notes to stderr.
 * Each command returns its exit code: 0 ok, 1 inconsistent history or divergence, errors are thrown as
 * InsureflowError (the CLI entry prints them).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Knex } from 'knex';
import { loadConfig } from '../config.ts';
import { InsureflowError } from '../errors.ts';
import { systemClock, type Clock } from '../engine/clock.ts';
import { parseDateTime } from '../engine/iso.ts';
import { openDb } from '../persistence/db.ts';
import { auditDigest } from './digest.ts';
import { exportChunks, type ExportFormat } from './export.ts';
import { progressBar, type ProgressStream } from './progress.ts';
import { replayInstance } from './replay.ts';
import { verifyAll, verifyHistoryChain } from './verify.ts';
import { digests, type EventFilter } from './store.ts';

export interface Out {
  write(chunk: string): boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

export interface AuditIo {
  /** progress bars and notes (default process.stderr) */
  stderr?: ProgressStream;
  /** an open database (tests); otherwise DATABASE_URL is opened and closed */
  db?: Knex;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** draw progress even when stderr is not a terminal */
  forceProgress?: boolean;
}

export const auditUsage = `usage: insureflow audit <command>

  export --from ISO --to ISO [--format csv|ndjson] [--instance ID] [--key KEY] [--version N]
         [--business-key BK] [--actor NAME] [--type T[,T..]] [--activity ID] [--progress]
                                  stream history events to stdout (default ndjson); --to is exclusive
  verify [--instance ID | --chain ID | --all] [--anchor DIGEST] [--workers N] [--json] [--progress]
                                  recompute the hash chains (and the digests with --all); exit 1 if broken
  replay ID [--version N] [--json]
                                  re-execute an instance on its pinned definition (or a what-if version)
  digest [--list N]               take a digest of all chain heads now and print it (publish the digest)`;

async function write(out: Out, s: string): Promise<void> {
  if (!out.write(s) && out.once) await new Promise<void>((r) => out.once?.('drain', r));
}

function bad(message: string): never {
  throw new InsureflowError('VALIDATION_FAILED', `${message}\n${auditUsage}`);
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true as const, strict: true as const });
  } catch (err) {
    return bad((err as Error).message);
  }
}

/** An ISO 8601 date or date-time option as epoch ms (no offset = UTC, as everywhere: engine/iso.ts). */
function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = parseDateTime(v);
  if (t === null) return bad(`--${name} "${v}" is not an ISO 8601 date or date-time (e.g. 2030-01-31 or 2030-01-31T09:00:00Z; no offset = UTC)`);
  return t;
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) bad(`--${name} must be a positive integer`);
  return Number(v);
}

async function withDb<T>(io: AuditIo, fn: (db: Knex) => Promise<T>): Promise<T> {
  if (io.db) return fn(io.db);
  const db = await openDb({ url: loadConfig(io.env).databaseUrl });
  try {
    return await fn(db);
  } catch (err) {
    if (/no such table|does not exist/i.test((err as Error).message)) {
      throw new InsureflowError('VALIDATION_FAILED', 'the database has no (or old) insureflow tables: run `insureflow migrate` first');
    }
    throw err;
  } finally {
    await db.destroy();
  }
}

/** `insureflow audit export --from --to --format csv > file` */
export async function auditExport(args: string[], out: Out, io: AuditIo = {}): Promise<number> {
  const { values } = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    format: { type: 'string' },
    instance: { type: 'string' },
    key: { type: 'string' },
    version: { type: 'string' },
    'business-key': { type: 'string' },
    actor: { type: 'string' },
    type: { type: 'string' },
    activity: { type: 'string' },
    progress: { type: 'boolean' },
  });
  const format = (values.format ?? 'ndjson') as ExportFormat;
  if (format !== 'csv' && format !== 'ndjson') bad(`--format must be csv or ndjson`);
  const filter: EventFilter = {};
  const from = time(values.from, 'from');
  const to = time(values.to, 'to');
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  if (values.instance) filter.processInstanceId = values.instance;
  if (values.key) filter.processKey = values.key;
  const version = int(values.version, 'version');
  if (version !== undefined) filter.processVersion = version;
  if (values['business-key']) filter.businessKey = values['business-key'];
  if (values.actor) filter.actor = values.actor;
  if (values.type) filter.types = values.type.split(',').map((s) => s.trim()).filter(Boolean);
  if (values.activity) filter.activityId = values.activity;
  const bar = progressBar(io.stderr ?? process.stderr, 'export', { force: values.progress || io.forceProgress });
  await withDb(io, async (db) => {
    for await (const chunk of exportChunks(db, filter, format, (d, t) => bar.update(d, t))) await write(out, chunk);
  });
  bar.finish();
  return 0;
}

/** `insureflow audit verify [--instance ID | --chain ID | --all]` */
export async function auditVerify(args: string[], out: Out, io: AuditIo = {}): Promise<number> {
  const { values } = parse(args, {
    instance: { type: 'string' },
    chain: { type: 'string' },
    all: { type: 'boolean' },
    anchor: { type: 'string' },
    workers: { type: 'string' },
    json: { type: 'boolean' },
    progress: { type: 'boolean' },
  });
  const chain = values.instance ?? values.chain;
  if (chain && values.all) bad('give --instance/--chain or --all, not both');
  if (values.anchor && !/^[0-9a-f]{64}$/.test(values.anchor)) bad('--anchor must be a 64-character hex digest');
  return withDb(io, async (db) => {
    if (chain) {
      const v = await verifyHistoryChain(db, chain);
      if (v.checked === 0 && !v.digest) throw new InsureflowError('NOT_FOUND', `no history for ${chain}`);
      if (values.json) await write(out, JSON.stringify(v) + '\n');
      else {
        await write(out, `${chain}: ${v.checked} event(s) ${v.consistent ? 'consistent' : 'INCONSISTENT'}${v.digest ? ` (checked against digest #${v.digest.seq} of ${v.digest.day})` : ''}\n`);
        if (v.firstBroken) await write(out, `  first broken link: seq ${v.firstBroken.seq} (${v.firstBroken.kind}): ${v.firstBroken.reason}\n`);
      }
      return v.consistent ? 0 : 1;
    }
    const bar = progressBar(io.stderr ?? process.stderr, 'verify', { force: values.progress || io.forceProgress });
    const r = await verifyAll(db, { onProgress: (d, t) => bar.update(d, t), workers: int(values.workers, 'workers'), anchor: values.anchor });
    bar.finish();
    if (values.json) await write(out, JSON.stringify(r) + '\n');
    else {
      const rate = r.durationMs ? Math.round(r.checked / (r.durationMs / 1000)) : r.checked;
      await write(out, `history: ${r.checked.toLocaleString('en-US')} event(s) in ${r.chains.toLocaleString('en-US')} chain(s): ${r.brokenChains ? `INCONSISTENT, ${r.brokenChains} broken chain(s)` : 'consistent'} (${(r.durationMs / 1000).toFixed(1)} s, ${rate.toLocaleString('en-US')} events/s)\n`);
      const d = r.digests;
      await write(out, `digests: ${d.checked} checked, ${d.consistent ? 'consistent' : 'INCONSISTENT'}${d.latest ? `; latest #${d.latest.seq} of ${d.latest.day}: ${d.latest.digest}` : '; none taken yet (deleted chains cannot be detected before the first digest)'}\n`);
      if (d.anchor) await write(out, `anchor ${d.anchor.digest}: ${d.anchor.found ? `found (#${d.anchor.seq} of ${d.anchor.day})` : 'NOT FOUND'}\n`);
      if (d.firstBroken) await write(out, `  digest #${d.firstBroken.seq}: ${d.firstBroken.reason}\n`);
      for (const b of r.broken) await write(out, `  ${b.chainId}: seq ${b.seq} (${b.kind}): ${b.reason}\n`);
      if (r.brokenChains > r.broken.length) await write(out, `  ... and ${r.brokenChains - r.broken.length} more\n`);
    }
    return r.consistent ? 0 : 1;
  });
}

/** `insureflow audit replay ID [--version N]` */
export async function auditReplay(args: string[], out: Out, io: AuditIo = {}): Promise<number> {
  const { values, positionals } = parse(args, { version: { type: 'string' }, json: { type: 'boolean' } });
  const id = positionals[0];
  if (!id) bad('replay needs a process instance id');
  const version = int(values.version, 'version');
  return withDb(io, async (db) => {
    const r = await replayInstance(db, id, version !== undefined ? { definitionVersion: version } : {});
    if (values.json) await write(out, JSON.stringify(r) + '\n');
    else {
      if (r.whatIf) await write(out, `WHAT-IF: ${r.whatIf}\n`);
      await write(out, `${id} on ${r.definition.key} v${r.definition.version}: ${r.consistent ? 'consistent' : 'DIVERGES'} (${r.steps} step(s), ${r.compared} of ${r.events} event(s) compared)\n`);
      if (r.divergence) {
        const d = r.divergence;
        await write(out, `  at seq ${d.seq ?? '-'}: ${d.reason}\n  model:   ${JSON.stringify(d.expected)}\n  history: ${JSON.stringify(d.recorded)}\n`);
      }
      for (const n of r.notes) await write(out, `  note: ${n}\n`);
    }
    return r.consistent ? 0 : 1;
  });
}

/** `insureflow audit digest [--list N]`: take a digest now (cron, or before publishing), or list recent ones. */
export async function auditDigestCommand(args: string[], out: Out, io: AuditIo = {}): Promise<number> {
  const { values } = parse(args, { list: { type: 'string' } });
  const n = int(values.list, 'list');
  return withDb(io, async (db) => {
    if (n !== undefined) {
      for (const d of await digests(db, { order: 'desc', limit: n })) await write(out, JSON.stringify(d) + '\n');
      return 0;
    }
    const d = await auditDigest(db, io.clock ?? systemClock);
    const { anomalies, ...row } = d;
    await write(out, JSON.stringify(row) + '\n');
    for (const a of anomalies) (io.stderr ?? process.stderr).write(`anomaly: ${a.kind}: ${a.message}\n`);
    return anomalies.length ? 1 : 0;
  });
}

/** Dispatch `insureflow audit ...` (argv without "audit"). */
export async function auditCommand(argv: string[], io: AuditIo & { stdout?: Out } = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'export':
      return auditExport(rest, out, io);
    case 'verify':
      return auditVerify(rest, out, io);
    case 'replay':
      return auditReplay(rest, out, io);
    case 'digest':
      return auditDigestCommand(rest, out, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      await write(out, auditUsage + '\n');
      return sub ? 0 : 2;
    default:
      return bad(`unknown audit command "${sub}"`);
  }
}

