/**
 * Verification for auditors: one chain (an instance, "deployments" or "users") checked link by link and
 * against the head the digests recorded for it; or everything: the chain of digests, then every event in one
 * fast scan (id ranges read in parallel by worker threads when the table is large, stitched back per chain),
 * which also finds the chains the digests know but the table lost, then an exact re-check of every chain the
 * scan flagged, which names the broken link. Read-only.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Knex } from 'knex';
import { verifyChainEvents, type BrokenLink, type ChainVerdict } from './chain.ts';
import { verifyDigests, type DigestChainVerdict } from './digest.ts';
import { scanRange, stitchRanges, type ScanInput, type ScanResult } from './scan.ts';
import { chainEvents, chainsOfEventIds, eventIdRange, expectedHead, instancesWithoutHistory, knexPageReader } from './store.ts';
import type { ScanWorkerData } from './scan-worker.ts';

/** Verify one chain (instance id, "deployments" or "users"). */
export async function verifyHistoryChain(db: Knex, chainId: string): Promise<ChainVerdict> {
  const [rows, head] = await Promise.all([chainEvents(db, chainId), expectedHead(db, chainId)]);
  return verifyChainEvents(rows, head);
}

export interface BrokenChain extends BrokenLink {
  chainId: string;
}

export interface VerifyAllResult {
  consistent: boolean;
  /** events checked */
  checked: number;
  chains: number;
  digests: Omit<DigestChainVerdict, 'heads'>;
  /** the first broken link, by chain id */
  firstBroken?: BrokenChain;
  /** up to 100 broken chains */
  broken: BrokenChain[];
  brokenChains: number;
  durationMs: number;
}

export interface VerifyAllOptions {
  /** called with (events checked, events in total) */
  onProgress?: (done: number, total: number) => void;
  /** worker threads for the scan (default: one per CPU, at most 4; 1 = in this thread) */
  workers?: number;
  /** a digest published outside the database: verification fails unless it is found */
  anchor?: string;
  /** below this many events the scan stays in this thread (default 50,000: a worker costs more than it saves) */
  minEventsForWorkers?: number;
  logger?: { warn(obj: unknown, msg?: string): void };
}

/** Where a worker can open the same database, from the knex connection settings, if they can be shared. */
function sharedLocation(db: Knex): ScanWorkerData['db'] | null {
  const cfg: any = (db as any).client.config ?? {};
  if (cfg.client === 'pg') {
    if (typeof cfg.connection !== 'string') return null;
    const schema = Array.isArray(cfg.searchPath) ? cfg.searchPath[0] : typeof cfg.searchPath === 'string' ? cfg.searchPath : undefined;
    return { kind: 'postgres', url: cfg.connection, ...(schema ? { schema } : {}) };
  }
  const file = cfg.connection?.filename;
  if (!file || file === ':memory:') return null;
  return { kind: 'sqlite', file };
}

/**
 * A scan worker, started before its range is known: it loads its code and connects while this thread checks
 * the digests; run(input) then hands it its range.
 */
function startWorker(location: ScanWorkerData['db']): { run(input: ScanInput, onProgress: (events: number) => void): Promise<ScanResult>; stop(): void } {
  const w = new Worker(new URL('./scan-worker.mjs', import.meta.url), { workerData: { db: location } });
  let onProgress: (events: number) => void = () => {};
  let settle: { resolve(r: ScanResult): void; reject(e: Error): void } | null = null;
  let failure: Error | null = null;
  let given = false;
  const fail = (err: Error) => {
    failure ??= err;
    settle?.reject(err);
    settle = null;
  };
  w.on('message', (m: any) => {
    if (m.type === 'progress') onProgress(m.events);
    else if (m.type === 'done') {
      settle?.resolve(m.result);
      settle = null;
    } else if (m.type === 'error') fail(new Error(`verification worker failed: ${m.message}`));
  });
  w.on('error', (err) => fail(err));
  w.on('exit', (code) => fail(new Error(`verification worker exited with code ${code}`)));
  return {
    run(input, progress) {
      onProgress = progress;
      return new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        settle = { resolve, reject };
        given = true;
        w.postMessage(input);
      });
    },
    /** A worker that got no range is asked to close and leave (never terminated: see scan-worker.ts). */
    stop() {
      if (!given && !failure) {
        given = true;
        w.postMessage('stop');
      }
    },
  };
}

const MAX_LISTED = 100;

export async function verifyAll(db: Knex, opts: VerifyAllOptions = {}): Promise<VerifyAllResult> {
  const started = performance.now();
  const ids = await eventIdRange(db);
  // ids are dense (gaps only where inserts rolled back or rows were deleted): a good estimate of the count
  const total = ids.max ? ids.max - ids.min + 1 : 0;
  const location = sharedLocation(db);
  const wanted = opts.workers ?? Math.min(4, availableParallelism());
  const parts = location && total >= (opts.minEventsForWorkers ?? 50_000) ? Math.max(1, wanted) : 1;
  const workers = parts > 1 && location ? Array.from({ length: parts }, () => startWorker(location)) : [];
  try {
    return await verifyWith(db, opts, started, ids, total, parts, workers);
  } finally {
    for (const w of workers) w.stop();
  }
}

async function verifyWith(
  db: Knex,
  opts: VerifyAllOptions,
  started: number,
  ids: { min: number; max: number },
  total: number,
  parts: number,
  workers: ReturnType<typeof startWorker>[],
): Promise<VerifyAllResult> {
  const digestVerdict = await verifyDigests(db, { anchor: opts.anchor });
  const { heads, ...digestInfo } = digestVerdict;

  // contiguous id ranges, one per worker; every worker gets every recorded head (it checks the ones it meets)
  const expected: [string, number, string][] = [...heads.values()].map((h) => [h.chainId, h.seq, h.hash]);
  const span = ids.max - (ids.min - 1);
  const inputs: ScanInput[] = [];
  for (let k = 0; k < parts; k++) {
    inputs.push({ after: ids.min - 1 + Math.floor((span * k) / parts), upTo: k === parts - 1 ? ids.max : ids.min - 1 + Math.floor((span * (k + 1)) / parts), events: Math.ceil(total / parts), expected });
  }

  const progress = new Array(inputs.length).fill(0);
  const report = (i: number) => (n: number) => {
    progress[i] = n;
    opts.onProgress?.(progress.reduce((a, b) => a + b, 0), total);
  };
  let results: ScanResult[];
  try {
    results = workers.length
      ? await Promise.all(inputs.map((input, i) => workers[i].run(input, report(i))))
      : [await scanRange(knexPageReader(db), inputs[0], report(0))];
  } catch (err) {
    if (!workers.length) throw err;
    // workers unavailable here (no loader, resource limits): the same scan in this thread
    opts.logger?.warn({ err }, 'verification workers failed; scanning in this thread');
    progress.fill(0);
    results = [await scanRange(knexPageReader(db), { after: ids.min - 1, upTo: ids.max, events: total, expected }, report(0))];
  }
  const stitched = stitchRanges(results, heads.keys());
  for (const c of await chainsOfEventIds(db, stitched.unreadable.filter((id) => id >= 0))) stitched.suspicious.add(c);

  // exact re-check of everything the scan flagged (a quoting difference in the scan is cleared here)
  const broken: BrokenChain[] = [];
  let brokenChains = 0;
  const add = (b: BrokenChain) => {
    brokenChains++;
    if (broken.length < MAX_LISTED) broken.push(b);
  };
  if (stitched.unreadable.some((id) => id < 0)) add({ chainId: '(unknown)', seq: 0, kind: 'edited', reason: 'a history row could not be read at all' });
  const suspicious = [...stitched.suspicious].sort();
  for (const chainId of suspicious) {
    const rows = await chainEvents(db, chainId);
    const verdict = verifyChainEvents(rows, heads.get(chainId) ?? null);
    if (!verdict.consistent && verdict.firstBroken) add({ chainId, ...verdict.firstBroken });
  }
  // an instance row whose history is gone, even before any digest could have recorded the chain
  const reported = new Set(suspicious);
  for (const chainId of await instancesWithoutHistory(db)) {
    if (!reported.has(chainId)) add({ chainId, seq: 1, kind: 'deleted', reason: 'the process instance exists but its whole history is missing (deleted)' });
  }
  broken.sort((x, y) => (x.chainId < y.chainId ? -1 : x.chainId > y.chainId ? 1 : 0));
  const checked = results.reduce((a, r) => a + r.events, 0);
  opts.onProgress?.(checked, checked);
  const out: VerifyAllResult = {
    consistent: digestInfo.consistent && brokenChains === 0,
    checked,
    chains: stitched.chains,
    digests: digestInfo,
    broken,
    brokenChains,
    durationMs: Math.round(performance.now() - started),
  };
  if (broken.length) out.firstBroken = broken[0];
  return out;
}
