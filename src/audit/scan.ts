/**
 * The fast pass of `verify --all`: read a range of event ids in id order (the table's physical order, much
 * faster than per-chain order) and check every hash and every link inside the range, keeping one small state
 * per chain. Ranges are read in parallel by worker threads (scan-worker.ts, one database connection each);
 * stitchRanges() then checks the links between ranges: each chain's first event in a range must follow its last
 * event in the range before. A chain that fails anything is only flagged here; the caller re-verifies it
 * exactly, in seq order, to name the broken link.
 */
import { GENESIS } from './chain.ts';
import { canonicalJson as canonical, sha256hex } from '../persistence/canonical-json.ts';

/** Reads the scan lines (see scanSql) of events with ids in (after, upTo], at most `limit`, in id order. */
export type PageReader = (after: number, upTo: number, limit: number) => Promise<string[]>;

export interface ScanInput {
  /** event ids in (after, upTo] */
  after: number;
  upTo: number;
  /** about how many events the range holds (sizes the id windows when ids are sparse) */
  events?: number;
  /** heads the digests recorded: [chainId, seq, hash] */
  expected: [string, number, string][];
  pageSize?: number;
}

/** What a range says about each chain it saw, in parallel arrays (cheap to pass between threads). */
export interface ScanResult {
  events: number;
  /** JSON-quoted chain ids */
  chains: string[];
  firstSeq: number[];
  firstPrev: string[];
  lastSeq: number[];
  lastHash: string[];
  /** 1: a check failed inside the range */
  bad: number[];
  /** 1: the recorded head was found, as recorded */
  headSeen: number[];
  /** ids of rows the scan could not split (a raw separator in a tampered column) */
  unreadable: number[];
}

interface ChainState {
  firstSeq: number;
  firstPrev: string;
  seq: number;
  hash: string;
  bad: boolean;
  headSeen: boolean;
  expected: { seq: number; hash: string } | undefined;
}

const SEP = '\u001f';

/** A copy of a string that does not keep the (long) line it was sliced from alive. */
const own = (s: string): string => JSON.parse(JSON.stringify(s));

function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return to > from ? n : -1;
}

export async function scanRange(read: PageReader, input: ScanInput, onProgress?: (events: number) => void): Promise<ScanResult> {
  const pageSize = input.pageSize ?? 2000;
  const expected = new Map<string, { seq: number; hash: string }>();
  for (const [c, seq, hash] of input.expected) expected.set(JSON.stringify(c), { seq, hash });
  const state = new Map<string, ChainState>();
  const unreadable: number[] = [];
  let events = 0;
  // pages are id windows, independent of each other: the next one is read while this one is hashed (reading
  // further ahead only costs memory: the driver serialises the queries of one connection)
  const span = Math.max(0, input.upTo - input.after);
  const windowIds = Math.max(pageSize, Math.ceil((span / Math.max(1, input.events ?? span)) * pageSize));
  const ahead: Promise<string[]>[] = [];
  let from = input.after;
  const refill = () => {
    while (ahead.length < 1 && from < input.upTo) {
      const to = Math.min(from + windowIds, input.upTo);
      const page = read(from, to, windowIds);
      page.catch(() => undefined); // awaited below, in order; this only keeps a rejection from counting as unhandled
      ahead.push(page);
      from = to;
    }
  };
  refill();
  while (ahead.length) {
    const lines = await (ahead.shift() as Promise<string[]>);
    refill();
    for (const line of lines) {
      events++;
      // id, chain (quoted), seq, hash, prev_hash + canonical JSON before data, canonical JSON after data, data
      const i1 = line.indexOf(SEP);
      const i2 = line.indexOf(SEP, i1 + 1);
      const i3 = line.indexOf(SEP, i2 + 1);
      const i4 = line.indexOf(SEP, i3 + 1);
      const i5 = line.indexOf(SEP, i4 + 1);
      const i6 = line.indexOf(SEP, i5 + 1);
      if (i6 < 0 || line.charCodeAt(i4 + 65) !== 123) {
        unreadable.push(digits(line, 0, i1));
        continue;
      }
      const c = line.slice(i1 + 1, i2);
      const seq = digits(line, i2 + 1, i3);
      let st = state.get(c);
      if (!st) {
        // the first event of the chain in this range: its link to the range before is checked when stitching
        const prev = own(line.slice(i4 + 1, i4 + 65));
        st = { firstSeq: seq, firstPrev: prev, seq: seq - 1, hash: prev, bad: false, headSeen: false, expected: expected.get(c) };
        state.set(own(c), st);
      }
      if (st.bad) continue;
      if (seq !== st.seq + 1 || !line.startsWith(st.hash, i4 + 1)) {
        st.bad = true;
        continue;
      }
      let data: unknown;
      try {
        data = JSON.parse(line.slice(i6 + 1));
      } catch {
        st.bad = true;
        continue;
      }
      const hash = sha256hex(line.slice(i4 + 1, i5) + canonical(data) + line.slice(i5 + 1, i6));
      if (i3 + 1 + hash.length !== i4 || !line.startsWith(hash, i3 + 1)) {
        st.bad = true;
        continue;
      }
      if (st.expected !== undefined && st.expected.seq === seq) {
        if (st.expected.hash !== hash) {
          st.bad = true;
          continue;
        }
        st.headSeen = true;
      }
      st.hash = hash;
      st.seq = seq;
    }
    onProgress?.(events);
  }
  const out: ScanResult = { events, chains: [], firstSeq: [], firstPrev: [], lastSeq: [], lastHash: [], bad: [], headSeen: [], unreadable };
  for (const [c, st] of state) {
    out.chains.push(c);
    out.firstSeq.push(st.firstSeq);
    out.firstPrev.push(st.firstPrev);
    out.lastSeq.push(st.seq);
    out.lastHash.push(st.hash);
    out.bad.push(st.bad ? 1 : 0);
    out.headSeen.push(st.headSeen ? 1 : 0);
  }
  return out;
}

/**
 * Join the ranges (in id order): every chain must start at seq 1 on the genesis hash, continue across ranges
 * without a gap, and show the head the digests recorded. Returns the chains that need an exact check, and how
 * many chains were seen.
 */
export function stitchRanges(parts: ScanResult[], expected: Iterable<string>): { suspicious: Set<string>; chains: number; unreadable: number[] } {
  const last = new Map<string, { seq: number; hash: string; headSeen: boolean }>();
  const suspicious = new Set<string>();
  for (const p of parts) {
    for (let i = 0; i < p.chains.length; i++) {
      const c = p.chains[i];
      const before = last.get(c);
      const linked = before ? p.firstSeq[i] === before.seq + 1 && p.firstPrev[i] === before.hash : p.firstSeq[i] === 1 && p.firstPrev[i] === GENESIS;
      if (!linked || p.bad[i]) suspicious.add(c);
      last.set(c, { seq: p.lastSeq[i], hash: p.lastHash[i], headSeen: (before?.headSeen ?? false) || p.headSeen[i] === 1 });
    }
  }
  for (const c of expected) {
    const q = JSON.stringify(c);
    if (!last.get(q)?.headSeen) suspicious.add(q);
  }
  return { suspicious: new Set([...suspicious].map((q) => JSON.parse(q) as string)), chains: last.size, unreadable: parts.flatMap((p) => p.unreadable) };
}
