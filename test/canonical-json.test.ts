/**
 * Canonical JSON and the history event hash (src/persistence/canonical-json.ts), the one implementation the
 * engine writes with and the auditors verify with. Stored hashes must never change: the expected values below
 * were computed by the implementation in persistence/history.ts before this module replaced it.
 */
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalEventJson, canonicalJson, eventHash, sha256hex, type HashedEventFields } from '../src/persistence/canonical-json.ts';
import { GENESIS, appendHistory, eventHash as historyEventHash, rowToEvent, verifyChain } from '../src/persistence/history.ts';
import { verifyChainEvents } from '../src/audit/chain.ts';
import { testDb } from './helpers.ts';

/** The definition of the format, written the plain way: the oracle the implementation is compared with. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((v) => reference(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`).join(',')}}`;
}

const knownEvent: HashedEventFields = {
  chainId: 'pi-0001',
  processInstanceId: 'pi-0001',
  processKey: 'claims',
  processVersion: 3,
  businessKey: 'CLM-2026-000042',
  seq: 7,
  at: 1767603600000,
  type: 'handler.completed',
  activityId: 'Task_Pay',
  activityType: 'bpmn:ServiceTask',
  actor: 'system',
  data: {
    zeta: [1, 'é', { b: null, a: true }],
    alpha: { Ä: 1, Z: 2, a: 3, '\u{1F600}': 'emoji', '10': 'ten', '9': 'nine' },
    amount: 8500.5,
    text: 'line\nbreak "quoted" \u2028',
    empty: {},
    list: [],
  },
};

test('Given a known event, its canonical JSON and hash are those computed before canonical-json.ts existed', () => {
  assert.is(
    canonicalEventJson(knownEvent),
    '{"activityId":"Task_Pay","activityType":"bpmn:ServiceTask","actor":"system","at":1767603600000,' +
      '"businessKey":"CLM-2026-000042","chainId":"pi-0001","data":{"alpha":{"10":"ten","9":"nine","Z":2,"a":3,' +
      '"Ä":1,"😀":"emoji"},"amount":8500.5,"empty":{},"list":[],"text":"line\\nbreak \\"quoted\\" \u2028",' +
      '"zeta":[1,"é",{"a":true,"b":null}]},"processInstanceId":"pi-0001","processKey":"claims","processVersion":3,' +
      '"seq":7,"type":"handler.completed"}',
  );
  assert.is(eventHash(GENESIS, knownEvent), '24a07e4a8f153f8e00deeaa037accd275398c50f7911123c61278e2c018b57c8');
  assert.is(eventHash('ab'.repeat(32), knownEvent), 'e1ca6e7604f6bb611fb563833faeed9d9efc53419363b9926dceffacdd3d4f51');
  assert.is(historyEventHash, eventHash, 'persistence/history.ts writes with this very function');
});

test('The event JSON equals the canonical JSON of the hashed columns as an object', () => {
  assert.is(canonicalEventJson(knownEvent), canonicalJson({ ...knownEvent }));
  const nulls: HashedEventFields = { ...knownEvent, processInstanceId: null, processKey: null, processVersion: null, businessKey: null, activityId: null, activityType: null, actor: null, data: {} };
  assert.is(canonicalEventJson(nulls), canonicalJson({ ...nulls }));
});

test('Edge values: key order by UTF-16 code unit, undefined, non-finite numbers, escapes', () => {
  const values: unknown[] = [
    null, undefined, true, 0, -0, 1e21, 1.5e-7, -42, NaN, Infinity, 'x', '', 'quote " backslash \\ tab \t nl \n ctrl \u0001 \u001f',
    'émoji 😀 \u2028', [], {}, [null, 1, 'a', [], {}, undefined], { b: 1, a: 2, A: 3, _: 4, '0': 5, é: 6, aa: { z: [1, { y: 2, x: null }] } },
    { gone: undefined, kept: 1 }, { changes: { amount: { old: null, new: 1200 }, decision: { old: 'x', new: 'approve' } } },
    { '\u{1F600}': 1, '\uFFFF': 2, '\uE000': 3 },
  ];
  for (const v of values) assert.is(canonicalJson(v), reference(v), String(JSON.stringify(v)));
  assert.is(canonicalJson({ b: 1, a: { d: 1, c: [3, { f: 1, e: 2 }] } }), '{"a":{"c":[3,{"e":2,"f":1}],"d":1},"b":1}');
  assert.is(canonicalJson({ gone: undefined, kept: 1 }), '{"kept":1}');
  assert.is(canonicalJson([undefined]), '[null]');
  // '\u{1F600}' is the surrogate pair D83D DE00: it sorts before U+E000 by code unit (not by code point)
  assert.is(canonicalJson({ '\uE000': 1, '\u{1F600}': 2 }), '{"\u{1F600}":2,"\uE000":1}');
});

test('Random JSON values: same text as the reference, whatever the key insertion order', () => {
  let seed = 20260105;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const keyChars = ['a', 'B', 'z', '0', '9', '_', 'é', 'Ω', '\u{1F600}', ' ', '"'];
  const key = () => Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => keyChars[Math.floor(rnd() * keyChars.length)]).join('');
  const gen = (depth: number): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.3) return [null, true, false, Math.floor(rnd() * 1e6) / 100, -rnd(), key()][Math.floor(rnd() * 6)];
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 5); i > 0; i--) o[key()] = gen(depth + 1);
    return o;
  };
  for (let i = 0; i < 500; i++) {
    const v = gen(0);
    assert.is(canonicalJson(v), reference(v));
    assert.equal(JSON.parse(canonicalJson(v)), JSON.parse(JSON.stringify(v)), 'the same value');
  }
});

test('sha256hex is SHA-256 of the UTF-8 bytes', () => {
  assert.is(sha256hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (const text of ['é', 'prev' + '😀', 'a'.repeat(1000)]) {
    assert.is(sha256hex(text), createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'));
  }
});

test('Given events appended to a real database, when read back, then both verifiers accept the hashes', async () => {
  const tdb = await testDb();
  try {
    const { data, ...rest } = knownEvent;
    await appendHistory(tdb.db, 'chain-1', [
      { ...rest, data },
      { ...rest, type: 'activity.completed', at: rest.at + 1, data: { name: null, nested: { z: 1, a: [2, 1] } } },
    ], true);
    const rows = (await tdb.db('history_events').where({ chain_id: 'chain-1' }).orderBy('seq')).map(rowToEvent);
    assert.is(rows.length, 2);
    assert.is(rows[0].hash, eventHash(GENESIS, { ...knownEvent, chainId: 'chain-1', seq: 1 }));
    assert.ok(verifyChain(rows).consistent);
    assert.ok(verifyChainEvents(rows).consistent);
  } finally {
    await tdb.destroy();
  }
});

test.run();
