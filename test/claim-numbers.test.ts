/**
 * Claim numbers cannot be squatted: the business key of a claims instance is the claim number intake allocated
 * for it. Intake skips a number whose business key another instance holds; a direct start of the claims process
 * with a claim number ahead of the sequence, or with a completed claim's number, registers no claim (an incident
 * at registration names the key). Through HTTP over a socket; SQLite, or PostgreSQL with DATABASE_URL.
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

numbers('Given claim numbers squatted ahead of the sequence, When customer service reports claims, Then each gets a fresh number equal to its business key, and the squatters register no claim', async ({ d, policy }) => {
  const first = await report(d, policy[0]);
  const next = seqOf(first.claimNo) + 1;
  const squatted: string[] = [];
  for (let i = 0; i < 4; i++) {
    const key = numberOf(next + i, first.claimNo);
    const res = await startDirect(d, key, policy[0]);
    // the start itself is accepted (the engine has no domain check before its transition) ...
    assert.is(res.status, 201, JSON.stringify(res.body));
    const inst = await d.instance((res.body as { id: string }).id);
    // ... but the registration refuses the key: no claim under that number, an incident names it
    assert.is((await d.call('cs', 'GET', `/api/claims/${key}/status`)).status, 404, `no claim ${key}`);
    assert.is(await d.t.tdb.db('claims').where({ process_instance_id: inst.id }).first(), undefined, 'no claim record for the squatter');
    squatted.push(key);
  }
  for (let i = 0; i < 4; i++) {
    const r = await report(d, policy[0]);
    assert.not.ok(squatted.includes(r.claimNo), `${r.claimNo} is not a squatted number`);
    const inst = await d.instance(r.processInstanceId);
    assert.is(inst.businessKey, r.claimNo, 'business key and claim number agree');
    const byKey = await d.call('cs', 'GET', `/api/process-instances?businessKey=${r.claimNo}`);
    assert.is(byKey.status, 200);
    assert.equal(((byKey.body as any).items as { id: string }[]).map((x) => x.id), [r.processInstanceId]);
  }
});

numbers('Given a completed claim, When claims is started directly with its number, Then no second claim record is made and the number still finds only the first instance', async ({ d, policy }) => {
  const r = await report(d, policy[0]);
  // a claim whose key is free again: cancel its instance (a completed one frees its key the same way)
  if ((await d.instance(r.processInstanceId)).status === 'active') await d.t.engine.cancelInstance(r.processInstanceId, admin, 'test: frees the business key');
  const res = await startDirect(d, r.claimNo, policy[0]);
  assert.is(res.status, 201, JSON.stringify(res.body));
  const dup = (res.body as { id: string }).id;
  const claim = await d.call('cs', 'GET', `/api/claims/${r.claimNo}/status`);
  assert.is(claim.status, 200);
  const byKey = await d.call('admin', 'GET', `/api/process-instances?businessKey=${r.claimNo}`);
  assert.is(byKey.status, 200, JSON.stringify(byKey.body));
  assert.is(((byKey.body as any).items as { id: string }[]).filter((x) => x.id !== dup).length, 1);
  const rows = await d.t.tdb.db('claims').where({ process_instance_id: dup });
  assert.equal(rows, [], 'the direct start registered no claim');
  const inst = await d.t.engine.getInstance(dup);
  assert.ok(inst.incidents.length === 1 || inst.status === 'active', inst.status);
});

numbers('Given a malformed business key, When claims is started directly with it, Then no claim is registered', async ({ d, policy }) => {
  const res = await startDirect(d, 'MY-OWN-KEY', policy[0]);
  assert.is(res.status, 201, JSON.stringify(res.body));
  const rows = await d.t.tdb.db('claims').where({ process_instance_id: (res.body as { id: string }).id });
  assert.equal(rows, []);
  const id = (res.body as { id: string }).id;
  // the registration is retried as any failing handler, then an incident names the key
  for (let i = 0; i < 20 && !(await d.t.engine.getInstance(id)).incidents.length; i++) await d.advance(DAY);
  const inst = await d.t.engine.getInstance(id);
  assert.equal(inst.activeActivities, ['Task_RegisterClaim']);
  assert.is(inst.incidents.length, 1);
  assert.match(inst.incidents[0].errorMessage, 'business key "MY-OWN-KEY" is not a claim number that claim intake allocated');
  assert.equal(await d.t.tdb.db('claims').where({ process_instance_id: id }), []);
});

numbers(`Given the next ${MAX_NUMBER_TRIES} numbers squatted, When a claim is reported, Then 503 CLAIM_NUMBER_UNAVAILABLE`, async ({ d, policy }) => {
  const r = await report(d, policy[0]);
  for (let i = 1; i <= MAX_NUMBER_TRIES; i++) assert.is((await startDirect(d, numberOf(seqOf(r.claimNo) + i, r.claimNo), policy[0])).status, 201);
  const res = await d.call('cs', 'POST', '/api/claims', form(d, policy[0]));
  assert.is(res.status, 503, JSON.stringify(res.body));
  assert.is((res.body as { code: string }).code, 'CLAIM_NUMBER_UNAVAILABLE');
  // the next report after those numbers works again
  const after = await report(d, policy[0]);
  assert.ok(seqOf(after.claimNo) > seqOf(r.claimNo) + MAX_NUMBER_TRIES);
});

numbers.run();
