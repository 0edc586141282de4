/**
 * Test support for the claims crash and race tests, which run the real server (support/server.ts) with the
 * shipped processes/ folder: a fresh database per run (a SQLite file, or `create database t_<random>` on the
 * PostgreSQL server of DATABASE_URL, dropped afterwards), seeded with the demo policies; the staff of the
 * README walkthrough created over HTTP (users with groups and their tokens); a JSON HTTP client that reports
 * a lost connection as an unknown outcome instead of throwing; and the first-notice-of-loss bodies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { here, onPostgres, TEST_DB_URL } from '../helpers.ts';
import { openDb, migrate } from '../../src/persistence/db.ts';
import { seedDemo, type DemoSummary } from '../../src/processes/demo.ts';
import { policyNumber } from '../../src/processes/sales/rules.ts';

/** The shipped diagrams, decisions and forms, as `npm start` deploys them. */
export const PROCESSES_DIR = join(here, '..', 'processes');

/**
 * Copies of demo policies 1 (`covered`) and 2 (`uncovered`): same customer, terms and period, other numbers.
 * claimReport gives claim number `index` of a test its own copy, because claims on one policy would be possible
 * duplicates of each other (same loss date, peril and amount) and, from the sixth on, too frequent
 * (processes/decisions/fraud-indicators.dmn): neither is ever approved automatically.
 */
export interface PolicyCopies {
  covered: string[];
  uncovered: string[];
}

/** The demo data with the policy copies claimReport uses. */
export type ClaimsDemo = DemoSummary & { copies?: PolicyCopies };

/** Inserts `count` copies of demo policies 1 and 2 (with their versions), numbered POL-HOME-<year>-8xxxxx and -9xxxxx. */
export async function seedPolicyCopies(db: Knex, demo: DemoSummary, count: number, now = Date.now()): Promise<PolicyCopies> {
  const copies: PolicyCopies = { covered: [], uncovered: [] };
  for (const [which, template, base] of [['covered', demo.policies[0].policyNo, 800_000], ['uncovered', demo.policies[1].policyNo, 900_000]] as const) {
    const { id: _id, ...policy } = await db('policies').where({ policy_no: template }).first();
    const versions = (await db('policy_versions').where({ policy_no: template })).map(({ id: _vid, ...v }: any) => v);
    const numbers = Array.from({ length: count }, (_, i) => policyNumber('HOME', base + i, new Date(now)));
    await db.batchInsert('policies', numbers.map((policy_no) => ({ ...policy, policy_no })), 100);
    await db.batchInsert('policy_versions', numbers.flatMap((policy_no) => versions.map((v: any) => ({ ...v, policy_no }))), 100);
    copies[which] = numbers;
  }
  return copies;
}

export interface FreshDatabase {
  /** DATABASE_URL for the server */
  url: string;
  /** the demo customers and policies seeded into it, with copies for claimReport */
  demo: ClaimsDemo;
  /** removes the database (PostgreSQL: drops it, disconnecting its sessions; SQLite: deletes the directory) */
  drop(): Promise<void>;
}

/** A new, migrated database with the demo data, of the kind DATABASE_URL selects (SQLite by default). */
export async function freshDatabase(): Promise<FreshDatabase> {
  let url: string;
  let drop: () => Promise<void>;
  if (onPostgres) {
    const name = `t_${randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: TEST_DB_URL, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    url = TEST_DB_URL.replace(/\/[^/?]*(\?.*)?$/, `/${name}`);
    drop = async () => {
      try {
        await admin.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.destroy();
      }
    };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'insureflow-claims-'));
    url = join(dir, 'claims.sqlite');
    drop = async () => rmSync(dir, { recursive: true, force: true });
  }
  const db = await openDb({ url });
  try {
    await migrate(db);
    const demo = await seedDemo(db);
    return { url, demo: { ...demo, copies: await seedPolicyCopies(db, demo, 100) }, drop };
  } finally {
    await db.destroy();
  }
}

export interface Reply {
  status: number;
  json: any;
}

/**
 * One JSON request. Resolves to null when the connection failed or was cut (a SIGKILLed server): the outcome
 * of the request is then unknown. `base` is read at call time (a restarted server listens on another port).
 */
export async function request(base: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 30_000): Promise<Reply | null> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch {
    return null;
  }
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** The people of the README walkthrough, by name: their groups. */
export const STAFF: Record<string, string[]> = {
  cs: ['customer-service'],
  adjuster: ['adjusters'],
  adjuster2: ['adjusters'],
  surveyor: ['surveyors'],
};

/** Creates the STAFF as ops users through POST /api/users; returns their tokens by name (and `admin`). */
export async function createStaff(base: string, adminToken: string): Promise<Record<string, string>> {
  const tokens: Record<string, string> = { admin: adminToken };
  for (const [name, groups] of Object.entries(STAFF)) {
    const res = await request(base, adminToken, 'POST', '/api/users', { name, roles: ['ops'], groups });
    if (!res || res.status !== 201) throw new Error(`creating user ${name}: ${JSON.stringify(res)}`);
    tokens[name] = res.json.token as string;
  }
  return tokens;
}

/**
 * The shapes of claim the tests report, with the path the shipped rules give them (demo policies, a loss
 * yesterday): all below the adjusters' authority limit and low or medium fraud risk.
 * - auto: glass 3,000 on policy 1: simple, paid automatically (no task)
 * - review: water 12,000 on policy 1: complex, an adjuster reviews; approve pays 11,500
 * - survey: water 18,000 on policy 1: complex with a survey; approve, then the survey of 15,000 pays 14,500
 * - uncovered: theft on policy 2, which does not cover theft: rejected at once
 */
export type ClaimShape = 'auto' | 'review' | 'survey' | 'uncovered';

/**
 * The body of POST /api/claims for claim number `index` of a test (`index` is kept in the description). With
 * `demo.copies`, claim `index` is on its own copy of policy 1 or 2 (PolicyCopies), else on the demo policy.
 */
export function claimReport(demo: ClaimsDemo, shape: ClaimShape, index: number, now = Date.now()): Record<string, unknown> {
  const lossDate = new Date(now - 86_400_000).toISOString().slice(0, 10);
  const own = (list: string[] | undefined, fallback: string) => (list?.length ? list[index % list.length] : fallback);
  const p1 = own(demo.copies?.covered, demo.policies[0].policyNo);
  const p2 = own(demo.copies?.uncovered, demo.policies[1].policyNo);
  const common = { channel: 'phone', lossDate, description: `Test claim #${index} (${shape})` };
  switch (shape) {
    case 'auto':
      return { ...common, policyNo: p1, peril: 'glass', claimedAmount: 3000 };
    case 'review':
      return { ...common, policyNo: p1, peril: 'water', claimedAmount: 12000 };
    case 'survey':
      return { ...common, policyNo: p1, peril: 'water', claimedAmount: 18000 };
    case 'uncovered':
      return { ...common, policyNo: p2, peril: 'theft', claimedAmount: 4000 };
  }
}

/** The claim index a description written by claimReport carries, or null. */
export function claimIndexOf(description: unknown): number | null {
  const m = typeof description === 'string' ? /^Test claim #(\d+) /.exec(description) : null;
  return m ? Number(m[1]) : null;
}

/** Review form data: an approval, or a rejection with its reason. */
export function reviewForm(decision: 'approve' | 'reject'): Record<string, unknown> {
  return decision === 'approve' ? { reviewDecision: 'approve', reviewNotes: 'Plumber invoice checks out' } : { reviewDecision: 'reject', rejectionReason: 'Gradual leak over months: not a sudden escape of water' };
}

/** Survey form data: a loss estimate of 15,000. */
export function surveyForm(now = Date.now()): Record<string, unknown> {
  return { surveyDate: new Date(now).toISOString().slice(0, 10), surveyLossEstimate: 15000, surveyFindings: 'Kitchen floor and cabinets', surveyPhotoRefs: ['photo://kitchen/1'] };
}

/** The review decision an instance's committed history took: by the flow leaving Gateway_ReviewDecision. */
export async function reviewPathOf(db: import('knex').Knex, instanceId: string): Promise<'approve' | 'reject' | 'documents' | null> {
  const flows = (await db('history_events').where({ chain_id: instanceId, type: 'flow.taken' }).whereIn('activity_id', ['Flow_ReviewApproved', 'Flow_ReviewRejected', 'Flow_DocumentsMissing']).select('activity_id')).map((r: any) => r.activity_id as string);
  if (flows.length !== 1) return null;
  return flows[0] === 'Flow_ReviewApproved' ? 'approve' : flows[0] === 'Flow_ReviewRejected' ? 'reject' : 'documents';
}
