/**
 * Test support for the insurance flows: a real database (SQLite or PostgreSQL, see helpers.ts), the real
 * handlers and decisions, everything under processes/ deployed as at start-up, the demo data seeded, the HTTP
 * app, and one user per department. Scenarios drive it only through the HTTP API and the manual clock.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import * as assert from 'uvu/assert';
import { here, testEngine, type TestEngine } from './helpers.ts';
import { readProcessDir } from '../src/server.ts';
import { buildApp } from '../src/http/app.ts';
import { registerInsuranceDomain, domainRoutes, type DomainOptions } from '../src/processes/index.ts';
import { seedDemo, type DemoSummary } from '../src/processes/demo.ts';
import { InsuranceStore } from '../src/persistence/insurance.ts';
import type { Role } from '../src/persistence/users.ts';
import { policyNumber } from '../src/processes/sales/rules.ts';
import { seedPolicyCopies, type ClaimsDemo } from './support/claims-http.ts';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const processesDir = join(here, '..', 'processes');

/** Users of the scenarios: name -> [roles, groups]. */
const PEOPLE: Record<string, [Role[], string[]]> = {
  admin: [['admin'], []],
  cs: [['ops'], ['customer-service']],
  adjuster: [['ops'], ['adjusters']],
  siu: [['ops'], ['special-investigations']],
  surveyor: [['ops'], ['surveyors']],
  supervisor: [['ops'], ['claims-supervisors']],
  agent: [['ops'], ['sales-agents']],
  salesmanager: [['ops'], ['sales-managers']],
  underwriter: [['ops'], ['underwriters']],
  pm: [['ops'], ['product-managers']],
  risk: [['ops'], ['risk-management']],
  legal: [['ops'], ['legal-compliance']],
  it: [['ops'], ['it-delivery']],
  trainer: [['ops'], ['training']],
  actuary: [['ops'], ['actuaries']],
  analyst: [['analyst'], []],
  handler: [['ops'], ['complaints-handlers']],
  handler2: [['ops'], ['complaints-handlers']],
  senior: [['ops'], ['complaints-senior']],
  cssupervisor: [['ops'], ['complaints-supervisors']],
  supervisor2: [['ops'], ['claims-supervisors']],
  manager: [['ops'], ['claims-managers']],
  director: [['ops'], ['claims-director']],
};

export type Person = keyof typeof PEOPLE;

export interface Reply<T = any> {
  status: number;
  body: T;
}

export interface Domain {
  t: TestEngine;
  app: FastifyInstance;
  store: InsuranceStore;
  demo: DemoSummary & ClaimsDemo;
  tokens: Record<string, string>;
  call<T = any>(who: Person, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Reply<T>>;
  /** the open task of an instance at an activity (fails when there is none) */
  task(who: Person, instanceId: string, activityId: string): Promise<any>;
  /** claim and complete the open task at an activity, checking the HTTP status */
  complete(who: Person, instanceId: string, activityId: string, variables: Record<string, unknown>, expect?: number): Promise<Reply>;
  instance(instanceId: string): Promise<any>;
  message(who: Person, name: string, target: { businessKey?: string; processInstanceId?: string }, variables?: Record<string, unknown>): Promise<Reply>;
  /**
   * A new policy with the customer, terms and period of `policyNo` (its own claim history: claims of several
   * scenarios on one policy would be possible duplicates or too frequent); an unknown number is returned as is.
   */
  policyLike(policyNo: string): Promise<string>;
  /** move the clock and run what fell due (and what that made due) */
  advance(ms: number): Promise<number>;
  close(): Promise<void>;
}

export interface DomainRun {
  /** serve the app on a real TCP socket (127.0.0.1, a free port) and call it with fetch instead of inject */
  socket?: boolean;
  /** seed this many copies of demo policies 1 and 2 for claimReport (test/support/claims-http.ts) */
  policyCopies?: number;
}

export async function domain(options: DomainOptions = {}, start = '2026-01-05T09:00:00Z', run: DomainRun = {}): Promise<Domain> {
  const t = await testEngine(start);
  const { relay } = registerInsuranceDomain(t.engine, options);
  await t.engine.deploy(await readProcessDir(processesDir), { source: 'startup' });
  const seeded = await seedDemo(t.engine.db, t.clock);
  const demo: ClaimsDemo = run.policyCopies ? { ...seeded, copies: await seedPolicyCopies(t.engine.db, seeded, run.policyCopies, t.clock.now()) } : seeded;
  const app = await buildApp({ engine: t.engine, plugins: [domainRoutes] });
  const tokens: Record<string, string> = {};
  for (const [name, [roles, groups]] of Object.entries(PEOPLE)) tokens[name] = (await t.engine.users.add({ name, roles, groups })).token;
  const store = new InsuranceStore(t.engine.db, () => t.clock.now());

  const base = run.socket ? await app.listen({ port: 0, host: '127.0.0.1' }) : null;
  const call = async <T>(who: Person, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<Reply<T>> => {
    if (base) {
      const headers: Record<string, string> = { authorization: `Bearer ${tokens[who]}` };
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(base + url, { method, headers, ...(payload === undefined ? {} : { body: JSON.stringify(payload) }) });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
    }
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${tokens[who]}` }, ...(payload === undefined ? {} : { payload: payload as any }) });
    return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as T) : (undefined as T) };
  };
  const task = async (who: Person, instanceId: string, activityId: string) => {
    const res = await call<any>(who, 'GET', `/api/tasks?processInstanceId=${instanceId}`);
    assert.is(res.status, 200, JSON.stringify(res.body));
    const found = res.body.items.find((x: any) => x.activityId === activityId);
    if (!found) assert.unreachable(`${who} sees no open task ${activityId}; open: ${res.body.items.map((x: any) => x.activityId).join(', ') || 'none'}`);
    return found;
  };
  const d: Domain = {
    t,
    app,
    store,
    demo,
    tokens,
    call,
    task,
    async complete(who, instanceId, activityId, variables, expect = 200) {
      const tk = await task(who, instanceId, activityId);
      const claimed = await call(who, 'POST', `/api/tasks/${tk.id}/claim`);
      assert.is(claimed.status, 200, JSON.stringify(claimed.body));
      const res = await call(who, 'POST', `/api/tasks/${tk.id}/complete`, { variables });
      assert.is(res.status, expect, JSON.stringify(res.body));
      return res;
    },
    async instance(instanceId) {
      const res = await call<any>('admin', 'GET', `/api/process-instances/${instanceId}`);
      assert.is(res.status, 200, JSON.stringify(res.body));
      return res.body;
    },
    async message(who, name, target, variables = {}) {
      return call(who, 'POST', '/api/messages', { name, ...target, variables });
    },
    async policyLike(policyNo) {
      const p = await store.policy(policyNo);
      if (!p) return policyNo;
      const copy = policyNumber(p.productCode, await store.nextNumber('policy'), new Date(t.clock.now()));
      await store.insertPolicy({ ...p, policyNo: copy, schedule: { ...p.schedule, policyNo: copy } });
      return copy;
    },
    async advance(ms) {
      t.clock.advance(ms);
      let total = 0;
      for (let i = 0; i < 20; i++) {
        const n = await t.engine.runDueJobs();
        total += n;
        if (!n) break;
      }
      await relay.sendPending();
      return total;
    },
    async close() {
      await app.close();
      await t.close();
    },
  };
  return d;
}

/** The instance has no open incident (a failing handler would show up here first). */
export function noIncidents(inst: any): void {
  assert.equal(inst.incidents, [], `incidents: ${JSON.stringify(inst.incidents)}`);
}
