/**
 * Claim numbers cannot be squatted: the business key of a claims instance is the claim number intake allocated
 * for it. A direct start of the claims process with a claim number ahead of the sequence, a completed claim's
 * number or a malformed key is refused before anything is written (the claims start guard: 400 naming
 * businessKey). Intake still skips a number whose business key another instance holds (an engine without the
 * domain's start guard, or a race), up to MAX_NUMBER_TRIES. Through HTTP; SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, DAY, type Domain } from './insurance.ts';
import { admin } from './helpers.ts';
import { MAX_NUMBER_TRIES } from '../src/processes/claims/routes.ts';

type Ctx = { d: Domain; policy: string[] };
const numbers = suite<Ctx>('claim numbers');
numbers.before(async (ctx) => {
  ctx.d = await domain();
  ctx.policy = ctx.d.demo.policies.map((p) => p.policyNo);
});
numbers.after(async (ctx) => ctx.d.close());

const daysAgo = (d: Domain, n: number) => new Date(d.t.clock.now() - n * DAY).toISOString().slice(0, 10);
const form = (d: Domain, policyNo: string) => ({ policyNo, channel: 'phone', lossDate: daysAgo(d, 2), peril: 'water', claimedAmount: 2500, description: 'Burst pipe' });
const seqOf = (claimNo: string) => Number(claimNo.slice(13));
const numberOf = (seq: number, like: string) => `${like.slice(0, 13)}${String(seq).padStart(6, '0')}`;

async function report(d: Domain, policyNo: string) {
  const res = await d.call('cs', 'POST', '/api/claims', form(d, policyNo));
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body as { claimNo: string; processInstanceId: string };
}

async function startDirect(d: Domain, businessKey: string, policyNo: string) {
  const res = await d.call('cs', 'POST', '/api/process-definitions/claims/start', { businessKey, variables: form(d, policyNo) });
  return res;
}

/** The direct start was refused naming businessKey, and left nothing behind (no instance with that key, no claim). */
async function refusedDirect(d: Domain, key: string, policyNo: string, why: string) {
  const res = await startDirect(d, key, policyNo);
  assert.is(res.status, 400, JSON.stringify(res.body));
  const body = res.body as { code: string; details: { field: string; message: string }[] };
  assert.is(body.code, 'VALIDATION_FAILED');
  assert.equal(body.details.map((x) => x.field), ['businessKey']);
  assert.match(body.details[0].message, why);
  const byKey = await d.call('admin', 'GET', `/api/process-instances?businessKey=${encodeURIComponent(key)}`);
  return ((byKey.body as any).items as { id: string; status: string }[]);
}

numbers('Given claim numbers ahead of the sequence, When claims is started directly with them, Then each start is refused (400 naming businessKey) and reports get the next numbers', async ({ d, policy }) => {
  const first = await report(d, policy[0]);
  const next = seqOf(first.claimNo) + 1;
  for (let i = 0; i < 4; i++) {
    const key = numberOf(next + i, first.claimNo);
    assert.equal(await refusedDirect(d, key, policy[0], 'has not been handed out yet'), [], `no instance holds ${key}`);
  }
  for (let i = 0; i < 4; i++) {
    const r = await report(d, policy[0]);
    assert.is(seqOf(r.claimNo), next + i, 'nothing was skipped: the refused starts held no number');
    const inst = await d.instance(r.processInstanceId);
    assert.is(inst.businessKey, r.claimNo, 'business key and claim number agree');
  }
});

numbers('Given a completed claim, When claims is started directly with its number, Then the start is refused and the number still finds only the first instance', async ({ d, policy }) => {
  const r = await report(d, policy[0]);
  if ((await d.instance(r.processInstanceId)).status === 'active') await d.t.engine.cancelInstance(r.processInstanceId, admin, 'test: frees the business key');
  const holders = await refusedDirect(d, r.claimNo, policy[0], `claim ${r.claimNo} exists already`);
  assert.equal(holders.map((x) => x.id), [r.processInstanceId]);
  assert.is((await d.call('cs', 'GET', `/api/claims/${r.claimNo}/status`)).status, 200);
});

numbers('Given a malformed business key, When claims is started directly with it, Then the start is refused and no claim is registered', async ({ d, policy }) => {
  assert.equal(await refusedDirect(d, 'MY-OWN-KEY', policy[0], 'not of the form CLM-YYYYMMDD-NNNNNN'), []);
  // without a business key a direct start is a claim like any other: the next number
  const res = await d.call('cs', 'POST', '/api/process-definitions/claims/start', { variables: form(d, policy[0]) });
  assert.is(res.status, 201, JSON.stringify(res.body));
  assert.match(String((res.body as any).variables.claimNo), /^CLM-\d{8}-\d{6}$/);
});

numbers(`Given an engine without the claims start guard (an embedder's) and the next ${MAX_NUMBER_TRIES} numbers held as business keys, When a claim is reported, Then 503 CLAIM_NUMBER_UNAVAILABLE, and the squatters register no claim`, async ({ d, policy }) => {
  d.t.engine.registerStartGuard('claims', () => undefined);
  try {
    const r = await report(d, policy[0]);
    const squatter = await startDirect(d, numberOf(seqOf(r.claimNo) + 1, r.claimNo), policy[0]);
    assert.is(squatter.status, 201, JSON.stringify(squatter.body));
    for (let i = 2; i <= MAX_NUMBER_TRIES; i++) assert.is((await startDirect(d, numberOf(seqOf(r.claimNo) + i, r.claimNo), policy[0])).status, 201);
    const res = await d.call('cs', 'POST', '/api/claims', form(d, policy[0]));
    assert.is(res.status, 503, JSON.stringify(res.body));
    assert.is((res.body as { code: string }).code, 'CLAIM_NUMBER_UNAVAILABLE');
    // the registration step still refuses such keys: no claim under a squatted number (an incident names the key)
    assert.equal(await d.t.tdb.db('claims').where({ process_instance_id: (squatter.body as { id: string }).id }), []);
    const after = await report(d, policy[0]);
    assert.ok(seqOf(after.claimNo) > seqOf(r.claimNo) + MAX_NUMBER_TRIES);
  } finally {
    // the domain's guard again, for any test after this one
    const { registerClaimGuards } = await import('../src/processes/claims/guards.ts');
    registerClaimGuards(d.t.engine);
  }
});

numbers.run();
