/**
 * Demo data for a first run (`insureflow demo seed`): three customers, three active home policies and the HOME
 * product launched in the catalogue, so a new user can report a claim or quote a policy at once. Each policy's
 * annual premium is in the ledger as a completed premium payment (idempotency key `demo:premium:<policyNo>`,
 * reference `DEMO-<policyNo>`), so a cancellation refunds the unearned part. Idempotent: seeding twice changes
 * nothing, and the number sequences are moved past the seeded numbers.
 */
import type { Knex } from 'knex';
import { systemClock, type Clock } from '../engine/clock.ts';
import { InsuranceStore } from '../persistence/insurance.ts';
import { policyNumber } from './sales/rules.ts';

const DAY_MS = 86_400_000;

export interface DemoSummary {
  customers: { id: string; name: string; email: string | null; creditGrade: string | null }[];
  policies: { policyNo: string; customerId: string; startDate: string; endDate: string; sumInsured: number; perils: string[] }[];
  products: { productCode: string; version: number; baseRate: number }[];
}

export const DEMO_PRODUCT = {
  productCode: 'HOME',
  version: 1,
  name: 'Home and contents',
  line: 'property',
  baseRate: 0.0025,
  parameters: {
    perils: ['fire', 'water', 'theft', 'storm', 'glass'],
    sumInsuredMin: 50_000,
    sumInsuredMax: 5_000_000,
    deductible: 500,
    coinsurance: 1,
    policyTermMonths: 12,
    exclusions: ['wear and tear', 'intentional damage', 'war and nuclear risks'],
    pricing: { expectedLossCost: 0.0017, expenseLoading: 0.25, profitLoading: 0.07, baseRate: 0.0025 },
  },
  status: 'launched',
};

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export async function seedDemo(db: Knex, clock: Clock = systemClock): Promise<DemoSummary> {
  const now = clock.now();
  const store = new InsuranceStore(db, () => now);
  const customers = [
    { id: 'CUST-000001', name: 'Li Wei', email: 'li.wei@example.com', phone: '+86 138 0000 0001', creditGrade: 'B' },
    { id: 'CUST-000002', name: 'Wang Fang', email: 'wang.fang@example.com', phone: '+86 138 0000 0002', creditGrade: 'C' },
    { id: 'CUST-000003', name: 'Zhang Trading Co.', email: 'claims@zhang-trading.example.com', phone: '+86 21 0000 0003', creditGrade: 'A' },
  ];
  for (const c of customers) await store.insertCustomer(c);

  await store.seedProduct(DEMO_PRODUCT);

  const period = (startDaysAgo: number) => {
    const start = now - startDaysAgo * DAY_MS;
    return { startDate: day(start), endDate: day(start + 364 * DAY_MS) };
  };
  const policies = [
    { policyNo: policyNumber('HOME', 1, new Date(now)), customerId: 'CUST-000001', ...period(200), sumInsured: 800_000, deductible: 500, coinsurance: 1, perils: ['fire', 'water', 'theft', 'storm', 'glass'], premium: 2_000 },
    { policyNo: policyNumber('HOME', 2, new Date(now)), customerId: 'CUST-000002', ...period(120), sumInsured: 300_000, deductible: 1_000, coinsurance: 0.8, perils: ['fire', 'water', 'storm'], premium: 900 },
    { policyNo: policyNumber('HOME', 3, new Date(now)), customerId: 'CUST-000003', ...period(20), sumInsured: 2_000_000, deductible: 2_000, coinsurance: 1, perils: ['fire', 'water', 'theft', 'storm', 'glass', 'other'], premium: 5_000 },
  ];
  for (const p of policies) {
    await store.insertPolicy({
      ...p,
      productCode: 'HOME',
      productVersion: 1,
      status: 'active',
      coverChangedAt: null,
      quoteNo: null,
      schedule: { policyNo: p.policyNo, product: 'HOME v1', period: { startDate: p.startDate, endDate: p.endDate }, sumInsured: p.sumInsured, deductible: p.deductible, coinsurance: p.coinsurance, perils: p.perils, premium: p.premium },
      processInstanceId: null,
    });
    // the premium the customer paid for the term (no process issued these policies: no instance on the row)
    const paid = await store.recordPayment({ idempotencyKey: `demo:premium:${p.policyNo}`, direction: 'premium', policyNo: p.policyNo, amount: p.premium, counterparty: p.customerId, processInstanceId: null });
    if (paid.status !== 'completed') await store.completePayment(paid.id, `DEMO-${p.policyNo}`);
  }
  // numbers handed out later must not collide with the seeded ones
  for (const [name, min] of [['customer', customers.length], ['policy', policies.length]] as const) {
    await db('insurance_sequences').where({ name }).andWhere('value', '<', min).update({ value: min });
  }
  return {
    customers: customers.map(({ id, name, email, creditGrade }) => ({ id, name, email, creditGrade })),
    policies: policies.map(({ policyNo, customerId, startDate, endDate, sumInsured, perils }) => ({ policyNo, customerId, startDate, endDate, sumInsured, perils })),
    products: [{ productCode: DEMO_PRODUCT.productCode, version: DEMO_PRODUCT.version, baseRate: DEMO_PRODUCT.baseRate }],
  };
}
