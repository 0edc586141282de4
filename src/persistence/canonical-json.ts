/**
 * Canonical JSON and the history event hash: the one byte format that the hash chains (persistence/history.ts),
 * their verification (audit/chain.ts, audit/scan.ts), the daily digests (audit/digest.ts) and replay's step
 * comparison (audit/replay.ts) hash or compare. Pure, no I/O.
 *
 * Canonical JSON is JSON.stringify's compact output with object keys sorted by UTF-16 code unit at every level
 * (Array.prototype.sort's default order), properties whose value is `undefined` left out, `undefined` array items
 * and a top-level `undefined` written as `null`. Non-finite numbers are `null`, as in JSON.stringify. `toJSON`
 * is NOT honoured (a Date is `{}`): hash only values that already went through a JSON round trip.
 *
 * It is defined, and survives storage, for every value the engine accepts (src/engine/text-values.ts: strings and
 * keys valid Unicode without U+0000, finite numbers, bounded nesting): the HTTP API and the engine's entry points
 * refuse anything else, since a lone surrogate stored in a SQLite column comes back as U+FFFD (the chain would
 * then verify as tampered), PostgreSQL refuses U+0000 in text, and a non-finite number would be hashed as null.
 *
 * Changing a single byte of this output changes the hash of every stored event and every digest: the format is
 * frozen, and test/canonical-json.test.ts pins it with hashes computed before this module existed.
 */
import * as crypto from 'node:crypto';

const J = JSON.stringify;

/** The canonical JSON text of any JSON value (see the module comment for the exact format). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return J(value ?? null);
  if (Array.isArray(value)) {
    let s = '[';
    for (let i = 0; i < value.length; i++) {
      if (i) s += ',';
      const x = value[i];
      s += canonicalJson(x === undefined ? null : x);
    }
    return s + ']';
  }
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  // Object.keys is often already sorted (objects built in key order): sort only when it is not
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1] > keys[i]) {
      keys.sort();
      break;
    }
  }
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    s += (first ? '' : ',') + J(k) + ':' + canonicalJson(x);
    first = false;
  }
  return s + '}';
}

const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/** SHA-256 of a string's UTF-8 bytes, as 64 lowercase hex digits. */
export function sha256hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}

/** The columns of a history event that its hash covers (every column but the storage id and the hashes). */
export interface HashedEventFields {
  chainId: string;
  processInstanceId: string | null;
  processKey: string | null;
  processVersion: number | null;
  businessKey: string | null;
  seq: number;
  /** epoch milliseconds */
  at: number;
  type: string;
  activityId: string | null;
  activityType: string | null;
  actor: string | null;
  data: Record<string, unknown>;
}

/**
 * The canonical JSON of the hashed columns of an event, built directly in their (sorted) key order; a missing
 * column is written as `null`, as the database stores it.
 */
export function canonicalEventJson(e: HashedEventFields): string {
  return (
    '{"activityId":' + J(e.activityId ?? null) +
    ',"activityType":' + J(e.activityType ?? null) +
    ',"actor":' + J(e.actor ?? null) +
    ',"at":' + J(e.at ?? null) +
    ',"businessKey":' + J(e.businessKey ?? null) +
    ',"chainId":' + J(e.chainId ?? null) +
    ',"data":' + canonicalJson(e.data) +
    ',"processInstanceId":' + J(e.processInstanceId ?? null) +
    ',"processKey":' + J(e.processKey ?? null) +
    ',"processVersion":' + J(e.processVersion ?? null) +
    ',"seq":' + J(e.seq ?? null) +
    ',"type":' + J(e.type ?? null) +
    '}'
  );
}

/** The hash of an event in its chain: sha256(previous hash + canonical JSON of its hashed columns), hex. */
export function eventHash(prevHash: string, e: HashedEventFields): string {
  return sha256hex(prevHash + canonicalEventJson(e));
}
