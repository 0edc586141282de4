import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  parseDmn,
  evaluateDecision,
  DecisionRegistry,
  DecisionError,
  DmnInvalidError,
  type DecisionTable,
  type DmnProblem,
} from '../src/decisions/dmn.ts';
import { InsureflowError } from '../src/errors.ts';
import { aggregateFraudScore, fraudInputs } from '../src/processes/claims/rules.ts';

const DECISIONS_DIR = fileURLToPath(new URL('../processes/decisions/', import.meta.url));
const DMN_NS = 'https://www.omg.org/spec/DMN/20191111/MODEL/';

// ------------------------------------------------------------------------------------------ helpers

const registry = new DecisionRegistry();
const fired = new Set<string>();

/** Evaluates a deployed decision and remembers which rules fired, to check every row is tested. */
function run(id: string, context: Record<string, unknown>) {
  const out = registry.evaluate(id, context);
  out.matchedRules.forEach((r) => fired.add(r));
  return out;
}

function expectRow(id: string, context: Record<string, unknown>, rule: string, result: unknown) {
  const out = run(id, context);
  assert.equal(out.matchedRules, [rule], `${id} ${JSON.stringify(context)}: rules`);
  assert.equal(out.result, result, `${id} ${JSON.stringify(context)}: result`);
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface InlineTable {
  id?: string;
  hitPolicy?: string;
  aggregation?: string;
  inputs?: { expr: string; typeRef?: string }[];
  outputs?: { name?: string; typeRef?: string; values?: string }[];
  rules: { id: string; in: string[]; out: string[] }[];
}

/** A one-decision DMN document built from a compact description. */
function dmn(t: InlineTable): string {
  const id = t.id ?? 'Inline';
  const inputs = (t.inputs ?? [])
    .map(
      (i, n) =>
        `<input id="${id}_in${n}" label="${xmlEscape(i.expr)}"><inputExpression id="${id}_ie${n}" typeRef="${i.typeRef ?? 'number'}"><text>${xmlEscape(i.expr)}</text></inputExpression></input>`,
    )
    .join('');
  const outputs = (t.outputs ?? [{ name: 'out' }])
    .map(
      (o, n) =>
        `<output id="${id}_out${n}"${o.name ? ` name="${o.name}"` : ''} typeRef="${o.typeRef ?? 'string'}">${o.values ? `<outputValues><text>${xmlEscape(o.values)}</text></outputValues>` : ''}</output>`,
    )
    .join('');
  const rules = t.rules
    .map(
      (r) =>
        `<rule id="${r.id}">${r.in.map((e) => `<inputEntry><text>${xmlEscape(e)}</text></inputEntry>`).join('')}${r.out
          .map((e) => `<outputEntry><text>${xmlEscape(e)}</text></outputEntry>`)
          .join('')}</rule>`,
    )
    .join('');
  const attrs = `${t.hitPolicy ? ` hitPolicy="${t.hitPolicy}"` : ''}${t.aggregation ? ` aggregation="${t.aggregation}"` : ''}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="${DMN_NS}" id="defs_${id}" name="Inline" namespace="http://example.test">
  <decision id="${id}" name="${id} decision"><decisionTable id="${id}_table"${attrs}>${inputs}${outputs}${rules}</decisionTable></decision>
</definitions>`;
}

async function one(t: InlineTable): Promise<DecisionTable> {
  const tables = await parseDmn(dmn(t), 'inline.dmn');
  assert.is(tables.length, 1);
  return tables[0];
}

async function problemsOf(xml: string, resourceName = 'broken.dmn'): Promise<DmnProblem[]> {
  try {
    await parseDmn(xml, resourceName);
  } catch (err) {
    assert.instance(err, DmnInvalidError);
    return (err as DmnInvalidError).problems;
  }
  assert.unreachable('parseDmn should have thrown DmnInvalidError');
  return [];
}

function decisionError(fn: () => unknown): DecisionError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DecisionError);
    return err as DecisionError;
  }
  assert.unreachable('expected a DecisionError');
  throw new Error('unreachable');
}

// ------------------------------------------------------------------------------------------ the rule library

test('the rule library parses and deploys', async () => {
  const files = readdirSync(DECISIONS_DIR).filter((f) => f.endsWith('.dmn')).sort();
  assert.equal(files, ['cancellation-terms.dmn', 'claim-classification.dmn', 'claim-reserves.dmn', 'complaint-classification.dmn', 'credit-grade-factor.dmn', 'discount-authority.dmn', 'endorsement-approval.dmn', 'fraud-indicators.dmn', 'payment-authority.dmn', 'risk-assessment.dmn']);
  for (const file of files) registry.add(await parseDmn(readFileSync(DECISIONS_DIR + file, 'utf8'), file));
  assert.equal(registry.ids(), ['CancellationTerms', 'ClaimClassification', 'ClaimReserves', 'ComplaintClassification', 'CreditGradeFactor', 'DiscountAuthority', 'EndorsementApproval', 'FraudIndicators', 'PaymentAuthority', 'RiskFactor']);
  assert.is(registry.get('ClaimClassification')!.hitPolicy, 'FIRST');
  assert.is(registry.get('FraudIndicators')!.hitPolicy, 'COLLECT');
  assert.is(registry.get('FraudIndicators')!.aggregation, undefined);
  assert.is(registry.get('CreditGradeFactor')!.hitPolicy, 'UNIQUE');
  assert.is(registry.get('RiskFactor')!.hitPolicy, 'FIRST');
  assert.is(registry.get('RiskFactor')!.resourceName, 'risk-assessment.dmn');
  // plain data: survives JSON and still evaluates the same
  const copy = JSON.parse(JSON.stringify(registry.get('ClaimClassification'))) as DecisionTable;
  assert.equal(copy, registry.get('ClaimClassification'));
});

const claim = (claimedAmount: number, peril: string, injuries = false, thirdPartyInvolved = false) => ({
  claimedAmount,
  peril,
  injuries,
  thirdPartyInvolved,
});
const cc = (complexity: string, autoApprovalLimit: number, surveyRequired: boolean) => ({ complexity, autoApprovalLimit, surveyRequired });

test('ClaimClassification: row by row (FIRST)', () => {
  const D = 'ClaimClassification';
  expectRow(D, claim(1_000, 'glass', true), 'ClaimClassification_Injuries', cc('complex', 0, true));
  expectRow(D, claim(80_000, 'fire', true, true), 'ClaimClassification_Injuries', cc('complex', 0, true));
  expectRow(D, claim(60_000, 'water', false, true), 'ClaimClassification_VeryLarge', cc('complex', 0, true));
  expectRow(D, claim(50_001, 'other'), 'ClaimClassification_VeryLarge', cc('complex', 0, true));
  expectRow(D, claim(8_000, 'theft', false, true), 'ClaimClassification_ThirdParty', cc('complex', 0, false));
  expectRow(D, claim(50_000, 'glass', false, true), 'ClaimClassification_ThirdParty', cc('complex', 0, false));
  expectRow(D, claim(5_000, 'glass'), 'ClaimClassification_SmallGlass', cc('simple', 5_000, false));
  expectRow(D, claim(120, 'glass'), 'ClaimClassification_SmallGlass', cc('simple', 5_000, false));
  expectRow(D, claim(20_001, 'fire'), 'ClaimClassification_LargeFireStorm', cc('complex', 0, true));
  expectRow(D, claim(45_000, 'storm'), 'ClaimClassification_LargeFireStorm', cc('complex', 0, true));
  expectRow(D, claim(10_001, 'theft'), 'ClaimClassification_LargeTheft', cc('complex', 0, true));
  expectRow(D, claim(15_001, 'water'), 'ClaimClassification_LargeWater', cc('complex', 0, true));
  expectRow(D, claim(10_000, 'other'), 'ClaimClassification_Small', cc('simple', 2_500, false));
  expectRow(D, claim(5_001, 'glass'), 'ClaimClassification_Small', cc('simple', 2_500, false));
  expectRow(D, claim(10_000, 'theft'), 'ClaimClassification_Small', cc('simple', 2_500, false));
  expectRow(D, claim(20_000, 'fire'), 'ClaimClassification_Otherwise', cc('complex', 0, false));
  expectRow(D, claim(15_000, 'water'), 'ClaimClassification_Otherwise', cc('complex', 0, false));
  expectRow(D, claim(50_000, 'other'), 'ClaimClassification_Otherwise', cc('complex', 0, false));
});

test('FraudIndicators: one rule per indicator (COLLECT), boundaries', () => {
  const D = 'FraudIndicators';
  const clean = { daysSinceInception: 400, claimsLast12Months: 0, amountToSumInsuredRatio: 0.1, reportDelayDays: 1, policyChangedRecently: false };
  assert.equal(run(D, clean).result, []);
  assert.equal(run(D, clean).matchedRules, []);
  expectRow(D, { ...clean, daysSinceInception: 30 }, 'FraudIndicators_EarlyClaim', [{ indicator: 'EARLY_CLAIM', weight: 30 }]);
  expectRow(D, { ...clean, daysSinceInception: -3 }, 'FraudIndicators_EarlyClaim', [{ indicator: 'EARLY_CLAIM', weight: 30 }]);
  assert.equal(run(D, { ...clean, daysSinceInception: 31 }).result, []);
  expectRow(D, { ...clean, claimsLast12Months: 3 }, 'FraudIndicators_FrequentClaims', [{ indicator: 'FREQUENT_CLAIMS', weight: 25 }]);
  assert.equal(run(D, { ...clean, claimsLast12Months: 2 }).result, []);
  expectRow(D, { ...clean, amountToSumInsuredRatio: 0.9 }, 'FraudIndicators_HighAmountRatio', [{ indicator: 'HIGH_AMOUNT_RATIO', weight: 25 }]);
  expectRow(D, { ...clean, amountToSumInsuredRatio: 1.2 }, 'FraudIndicators_HighAmountRatio', [{ indicator: 'HIGH_AMOUNT_RATIO', weight: 25 }]);
  assert.equal(run(D, { ...clean, amountToSumInsuredRatio: 0.89 }).result, []);
  expectRow(D, { ...clean, reportDelayDays: 31 }, 'FraudIndicators_LateReport', [{ indicator: 'LATE_REPORT', weight: 20 }]);
  assert.equal(run(D, { ...clean, reportDelayDays: 30 }).result, []);
  expectRow(D, { ...clean, policyChangedRecently: true }, 'FraudIndicators_RecentCoverIncrease', [{ indicator: 'RECENT_COVER_INCREASE', weight: 15 }]);
  const all = run(D, { daysSinceInception: 5, claimsLast12Months: 4, amountToSumInsuredRatio: 0.95, reportDelayDays: 45, policyChangedRecently: true });
  assert.equal(all.matchedRules, [
    'FraudIndicators_EarlyClaim',
    'FraudIndicators_FrequentClaims',
    'FraudIndicators_HighAmountRatio',
    'FraudIndicators_LateReport',
    'FraudIndicators_RecentCoverIncrease',
  ]);
});

test('FraudIndicators + fraudInputs + aggregateFraudScore end to end', () => {
  const inputs = fraudInputs({
    policyStart: '2026-03-01',
    lossDate: '2026-03-20',
    reportDate: '2026-03-21',
    claimsLast12Months: 0,
    claimedAmount: 95_000,
    sumInsured: 100_000,
    coverChangedAt: '2026-03-10',
  });
  const { result } = run('FraudIndicators', inputs as unknown as Record<string, unknown>);
  assert.equal(aggregateFraudScore(result as { indicator: string; weight: number }[]), {
    score: 70,
    level: 'high',
    indicators: ['EARLY_CLAIM', 'HIGH_AMOUNT_RATIO', 'RECENT_COVER_INCREASE'],
  });
});

test('FraudIndicators: five or more earlier claims in 12 months make the risk high; a possible duplicate is an indicator', () => {
  const D = 'FraudIndicators';
  const clean = { daysSinceInception: 400, claimsLast12Months: 0, amountToSumInsuredRatio: 0.1, reportDelayDays: 1, policyChangedRecently: false, possibleDuplicate: false };
  assert.equal(run(D, clean).result, []);
  assert.equal(run(D, { ...clean, claimsLast12Months: 4 }).matchedRules, ['FraudIndicators_FrequentClaims'], 'four earlier claims: frequent, not excessive');
  const fifth = run(D, { ...clean, claimsLast12Months: 5 });
  assert.equal(fifth.matchedRules, ['FraudIndicators_FrequentClaims', 'FraudIndicators_ExcessiveFrequency']);
  assert.equal(aggregateFraudScore(fifth.result as { indicator: string; weight: number }[]), { score: 75, level: 'high', indicators: ['FREQUENT_CLAIMS', 'EXCESSIVE_CLAIM_FREQUENCY'] });
  // the case of issue 12: 25 claims in 12 months stayed "medium" and was paid automatically
  assert.is(aggregateFraudScore(run(D, { ...clean, claimsLast12Months: 24 }).result as { indicator: string; weight: number }[]).level, 'high');
  expectRow(D, { ...clean, possibleDuplicate: true }, 'FraudIndicators_PossibleDuplicate', [{ indicator: 'POSSIBLE_DUPLICATE', weight: 20 }]);
  const { possibleDuplicate: _absent, ...older } = clean;
  assert.equal(run(D, older).result, [], 'without the variable (instances started before it existed) no duplicate indicator');
});

test('CreditGradeFactor: row by row (UNIQUE), unknown grade gives null', () => {
  const D = 'CreditGradeFactor';
  expectRow(D, { creditGrade: 'A' }, 'CreditGradeFactor_GradeA', 0.9);
  expectRow(D, { creditGrade: 'B' }, 'CreditGradeFactor_GradeB', 0.95);
  expectRow(D, { creditGrade: 'C' }, 'CreditGradeFactor_GradeC', 1.0);
  expectRow(D, { creditGrade: 'D' }, 'CreditGradeFactor_GradeD', 1.15);
  expectRow(D, { creditGrade: 'E' }, 'CreditGradeFactor_GradeE', 1.3);
  assert.equal(run(D, { creditGrade: 'F' }), { decisionId: D, result: null, matchedRules: [], warnings: [] });
  assert.is(run(D, { creditGrade: 'a' }).result, null);
  const missing = run(D, {});
  assert.is(missing.result, null);
  assert.match(missing.warnings.join('\n'), /creditGrade/);
});

const authority = (approvalRequired: boolean, approverGroup: string | null) => ({ approvalRequired, approverGroup });

test('DiscountAuthority: row by row (UNIQUE)', () => {
  const D = 'DiscountAuthority';
  expectRow(D, { discountPercent: 0, agentLevel: 'junior' }, 'DiscountAuthority_UpTo5', authority(false, null));
  expectRow(D, { discountPercent: 5, agentLevel: 'junior' }, 'DiscountAuthority_UpTo5', authority(false, null));
  expectRow(D, { discountPercent: 5.5, agentLevel: 'senior' }, 'DiscountAuthority_UpTo10Senior', authority(false, null));
  expectRow(D, { discountPercent: 10, agentLevel: 'manager' }, 'DiscountAuthority_UpTo10Senior', authority(false, null));
  expectRow(D, { discountPercent: 5.5, agentLevel: 'junior' }, 'DiscountAuthority_UpTo10Junior', authority(true, 'sales-managers'));
  expectRow(D, { discountPercent: 8, agentLevel: 'trainee' }, 'DiscountAuthority_UpTo10Junior', authority(true, 'sales-managers'));
  expectRow(D, { discountPercent: 10.5, agentLevel: 'manager' }, 'DiscountAuthority_UpTo20Manager', authority(false, null));
  expectRow(D, { discountPercent: 20, agentLevel: 'manager' }, 'DiscountAuthority_UpTo20Manager', authority(false, null));
  expectRow(D, { discountPercent: 15, agentLevel: 'senior' }, 'DiscountAuthority_UpTo20Agent', authority(true, 'sales-managers'));
  expectRow(D, { discountPercent: 20, agentLevel: 'junior' }, 'DiscountAuthority_UpTo20Agent', authority(true, 'sales-managers'));
  expectRow(D, { discountPercent: 20.5, agentLevel: 'manager' }, 'DiscountAuthority_Above20', authority(true, 'underwriting-managers'));
  expectRow(D, { discountPercent: 45, agentLevel: 'junior' }, 'DiscountAuthority_Above20', authority(true, 'underwriting-managers'));
});

test('DiscountAuthority: exactly one rule for every discount and level (no UNIQUE gaps or overlaps)', () => {
  for (const agentLevel of ['junior', 'senior', 'manager', 'unknown']) {
    for (let d = 0; d <= 30; d += 0.25) {
      const out = registry.evaluate('DiscountAuthority', { discountPercent: d, agentLevel });
      assert.is(out.matchedRules.length, 1, `${agentLevel} ${d}%`);
    }
  }
});

test('RiskFactor: row by row (FIRST)', () => {
  const D = 'RiskFactor';
  const risk = (propertyType: string, constructionClass: string, claimsLast3Years: number) => ({ propertyType, constructionClass, claimsLast3Years });
  expectRow(D, risk('industrial', 'frame', 0), 'RiskFactor_IndustrialFrame', 2.0);
  expectRow(D, risk('industrial', 'frame', 5), 'RiskFactor_IndustrialFrame', 2.0);
  expectRow(D, risk('industrial', 'masonry', 3), 'RiskFactor_IndustrialClaims', 1.9);
  expectRow(D, risk('industrial', 'fire-resistive', 2), 'RiskFactor_Industrial', 1.5);
  expectRow(D, risk('commercial', 'frame', 4), 'RiskFactor_CommercialClaims', 1.6);
  expectRow(D, risk('commercial', 'frame', 2), 'RiskFactor_CommercialFrame', 1.35);
  expectRow(D, risk('commercial', 'masonry', 0), 'RiskFactor_Commercial', 1.15);
  expectRow(D, risk('residential', 'masonry', 3), 'RiskFactor_ResidentialClaims', 1.4);
  expectRow(D, risk('residential', 'frame', 1), 'RiskFactor_ResidentialFrameClaims', 1.25);
  expectRow(D, risk('residential', 'frame', 0), 'RiskFactor_ResidentialFrame', 1.1);
  expectRow(D, risk('residential', 'fire-resistive', 2), 'RiskFactor_ResidentialSomeClaims', 1.05);
  expectRow(D, risk('residential', 'fire-resistive', 0), 'RiskFactor_ResidentialFireResistive', 0.9);
  expectRow(D, risk('residential', 'masonry', 0), 'RiskFactor_ResidentialMasonry', 1.0);
  assert.is(run(D, risk('agricultural', 'masonry', 0)).result, null, 'unknown property types are not priced');
  for (const p of ['residential', 'commercial', 'industrial'])
    for (const c of ['fire-resistive', 'masonry', 'frame'])
      for (let n = 0; n <= 6; n++) assert.type(registry.evaluate(D, risk(p, c, n)).result, 'number', `${p}/${c}/${n}`);
});

test('ComplaintClassification: row by row (FIRST): regulator referrals and threats high in 5 days, money medium in 10, the rest low in 15', () => {
  const D = 'ComplaintClassification';
  const flags = { legalThreat: false, mediaThreat: false, regulatorMentioned: false, vulnerableCustomer: false };
  const c = (category: string, channel: string, more: Partial<typeof flags> = {}) => ({ category, channel, ...flags, ...more });
  const high = { severity: 'high', responseDays: 5, handlingGroup: 'complaints-senior' };
  const medium = { severity: 'medium', responseDays: 10, handlingGroup: 'complaints-handlers' };
  const low = { severity: 'low', responseDays: 15, handlingGroup: 'complaints-handlers' };
  expectRow(D, c('policy-service', 'regulator'), 'ComplaintClassification_RegulatorReferral', high);
  expectRow(D, c('other', 'phone', { legalThreat: true, vulnerableCustomer: true }), 'ComplaintClassification_LegalThreat', high);
  expectRow(D, c('other', 'email', { regulatorMentioned: true }), 'ComplaintClassification_RegulatorMentioned', high);
  expectRow(D, c('staff-conduct', 'app', { mediaThreat: true }), 'ComplaintClassification_MediaThreat', high);
  expectRow(D, c('privacy', 'branch'), 'ComplaintClassification_Privacy', high);
  expectRow(D, c('policy-service', 'phone', { vulnerableCustomer: true }), 'ComplaintClassification_Vulnerable', medium);
  for (const category of ['claim-handling', 'claim-delay', 'claim-amount', 'sales-practice', 'premium-billing']) expectRow(D, c(category, 'email'), 'ComplaintClassification_MoneyMatters', medium);
  for (const category of ['policy-service', 'staff-conduct', 'other']) expectRow(D, c(category, 'app'), 'ComplaintClassification_Otherwise', low);
});

test('EndorsementApproval: row by row (FIRST): more than 20% or 1,000 CNY of premium, or half again the sum insured, needs an underwriter', () => {
  const D = 'EndorsementApproval';
  const change = (premiumChangeAbsPercent: number, proRataDifferenceAbs: number, sumInsuredChangePercent: number) => ({ premiumChangeAbsPercent, proRataDifferenceAbs, sumInsuredChangePercent });
  const uw = (approvalReason: string) => ({ approvalRequired: true, approverGroup: 'underwriters', approvalReason });
  expectRow(D, change(20.01, 10, 0), 'EndorsementApproval_PremiumPercent', uw('the annual premium changes by more than 20%'));
  expectRow(D, change(76, 2000, 60), 'EndorsementApproval_PremiumPercent', uw('the annual premium changes by more than 20%'));
  expectRow(D, change(20, 1000.01, 0), 'EndorsementApproval_ProRataAmount', uw('the premium for the rest of the term changes by more than 1,000 CNY'));
  expectRow(D, change(0, 0, 50.5), 'EndorsementApproval_SumInsured', uw('the sum insured rises by more than 50%'));
  expectRow(D, change(20, 1000, 50), 'EndorsementApproval_WithinLimits', { approvalRequired: false, approverGroup: null, approvalReason: 'within the limits' });
  expectRow(D, change(0, 0, -40), 'EndorsementApproval_WithinLimits', { approvalRequired: false, approverGroup: null, approvalReason: 'within the limits' });
});

test('CancellationTerms: row by row (FIRST): cooling-off, surrender charge, pro rata, the insurer\'s notice', () => {
  const D = 'CancellationTerms';
  const terms = (refundBasis: string, refundShare: number, noticeDays: number) => ({ refundBasis, refundShare, noticeDays });
  expectRow(D, { cancelledBy: 'customer', reason: 'request', daysInForce: 15 }, 'CancellationTerms_CoolingOff', terms('premium', 1, 0));
  expectRow(D, { cancelledBy: 'customer', reason: 'surrender', daysInForce: 0 }, 'CancellationTerms_CoolingOff', terms('premium', 1, 0));
  expectRow(D, { cancelledBy: 'customer', reason: 'surrender', daysInForce: 16 }, 'CancellationTerms_Surrender', terms('unearned', 0.9, 0));
  expectRow(D, { cancelledBy: 'customer', reason: 'request', daysInForce: 59 }, 'CancellationTerms_CustomerRequest', terms('unearned', 1, 0));
  expectRow(D, { cancelledBy: 'insurer', reason: 'non-payment', daysInForce: 3 }, 'CancellationTerms_NonPayment', terms('unearned', 1, 15));
  expectRow(D, { cancelledBy: 'insurer', reason: 'misrepresentation', daysInForce: 200 }, 'CancellationTerms_Insurer', terms('unearned', 1, 30));
  expectRow(D, { cancelledBy: 'insurer', reason: 'risk-change', daysInForce: 10 }, 'CancellationTerms_Insurer', terms('unearned', 1, 30));
  assert.is(run(D, { cancelledBy: 'broker', reason: 'request', daysInForce: 40 }).result, null, 'nobody else cancels');
});

test('ClaimReserves: row by row (FIRST), a row for every peril and amount', () => {
  const D = 'ClaimReserves';
  const r = (reserveFactor: number, reserveMinimum: number) => ({ reserveFactor, reserveMinimum });
  expectRow(D, { peril: 'fire', claimedAmount: 50000.01 }, 'ClaimReserves_LargeFire', r(1.2, 10000));
  expectRow(D, { peril: 'fire', claimedAmount: 50000 }, 'ClaimReserves_FireStorm', r(1.1, 2000));
  expectRow(D, { peril: 'storm', claimedAmount: 900000 }, 'ClaimReserves_FireStorm', r(1.1, 2000));
  expectRow(D, { peril: 'water', claimedAmount: 12000 }, 'ClaimReserves_Water', r(1, 1000));
  expectRow(D, { peril: 'theft', claimedAmount: 300 }, 'ClaimReserves_Theft', r(0.85, 500));
  expectRow(D, { peril: 'glass', claimedAmount: 800 }, 'ClaimReserves_Glass', r(1, 0));
  expectRow(D, { peril: 'other', claimedAmount: 10 }, 'ClaimReserves_Otherwise', r(1, 500));
  for (const peril of ['fire', 'water', 'theft', 'storm', 'glass', 'other'])
    for (const claimedAmount of [0, 0.01, 49999.99, 50000, 50000.01, 1e9]) assert.type((registry.evaluate(D, { peril, claimedAmount }).result as any)?.reserveFactor, 'number', `${peril} ${claimedAmount}`);
});

test('PaymentAuthority: one row per level (UNIQUE), the director unlimited', () => {
  const D = 'PaymentAuthority';
  expectRow(D, { approvalLevel: 0 }, 'PaymentAuthority_Automatic', { group: 'automatic', limit: 5000 });
  expectRow(D, { approvalLevel: 1 }, 'PaymentAuthority_Adjusters', { group: 'adjusters', limit: 20000 });
  expectRow(D, { approvalLevel: 2 }, 'PaymentAuthority_Supervisors', { group: 'claims-supervisors', limit: 100000 });
  expectRow(D, { approvalLevel: 3 }, 'PaymentAuthority_Managers', { group: 'claims-managers', limit: 500000 });
  expectRow(D, { approvalLevel: 4 }, 'PaymentAuthority_Director', { group: 'claims-director', limit: null });
  expectRow(D, { approvalLevel: 7 }, 'PaymentAuthority_Director', { group: 'claims-director', limit: null });
});

test('every rule of the library is exercised by the tests above', () => {
  const missing: string[] = [];
  for (const id of registry.ids()) for (const rule of registry.get(id)!.rules) if (!fired.has(rule.id)) missing.push(rule.id);
  assert.equal(missing, []);
});

// ------------------------------------------------------------------------------------------ hit policies

const scoreInput = [{ expr: 'score' }];

test('UNIQUE: one match, no match, conflict', async () => {
  const t = await one({
    id: 'Uniq',
    inputs: scoreInput,
    rules: [
      { id: 'low', in: ['< 10'], out: ['"low"'] },
      { id: 'mid', in: ['[10..20]'], out: ['"mid"'] },
      { id: 'overlap', in: ['[15..30)'], out: ['"overlap"'] },
    ],
  });
  assert.is(t.hitPolicy, 'UNIQUE', 'the default');
  assert.equal(evaluateDecision(t, { score: 3 }), { decisionId: 'Uniq', result: 'low', matchedRules: ['low'], warnings: [] });
  assert.equal(evaluateDecision(t, { score: 99 }).result, null);
  const err = decisionError(() => evaluateDecision(t, { score: 17 }));
  assert.is(err.code, 'DMN_UNIQUE_CONFLICT');
  assert.is(err.decisionId, 'Uniq');
  assert.equal(err.ruleIds, ['mid', 'overlap']);
  assert.match(err.message, /Uniq/);
  assert.match(err.message, /mid, overlap/);
});

test('FIRST: first matching rule only', async () => {
  const t = await one({
    hitPolicy: 'FIRST',
    inputs: scoreInput,
    rules: [
      { id: 'a', in: ['> 10'], out: ['"a"'] },
      { id: 'b', in: ['> 5'], out: ['"b"'] },
      { id: 'c', in: ['-'], out: ['"c"'] },
    ],
  });
  assert.equal(evaluateDecision(t, { score: 11 }).matchedRules, ['a']);
  assert.is(evaluateDecision(t, { score: 6 }).result, 'b');
  assert.is(evaluateDecision(t, { score: 0 }).result, 'c');
});

test('PRIORITY: highest output value wins, by the output values order', async () => {
  const t = await one({
    hitPolicy: 'PRIORITY',
    inputs: scoreInput,
    outputs: [{ name: 'risk', values: '"high","medium","low"' }],
    rules: [
      { id: 'low', in: ['-'], out: ['"low"'] },
      { id: 'medium', in: ['> 10'], out: ['"medium"'] },
      { id: 'high', in: ['> 50'], out: ['"high"'] },
    ],
  });
  assert.equal(evaluateDecision(t, { score: 60 }), { decisionId: 'Inline', result: 'high', matchedRules: ['high'], warnings: [] });
  assert.equal(evaluateDecision(t, { score: 20 }).matchedRules, ['medium']);
  assert.is(evaluateDecision(t, { score: 1 }).result, 'low');
  assert.equal(t.outputs[0].outputValues, ['high', 'medium', 'low']);
});

test('PRIORITY: multiple outputs rank by the first output with values, then rule order', async () => {
  const t = await one({
    hitPolicy: 'PRIORITY',
    inputs: scoreInput,
    outputs: [
      { name: 'route', values: '"investigate","review","pay"' },
      { name: 'reason', typeRef: 'string' },
    ],
    rules: [
      { id: 'pay', in: ['-'], out: ['"pay"', '"default"'] },
      { id: 'review1', in: ['> 5'], out: ['"review"', '"first review"'] },
      { id: 'review2', in: ['> 6'], out: ['"review"', '"second review"'] },
    ],
  });
  assert.equal(evaluateDecision(t, { score: 10 }), {
    decisionId: 'Inline',
    result: { route: 'review', reason: 'first review' },
    matchedRules: ['review1'],
    warnings: [],
  });
});

test('ANY: matching rules must agree', async () => {
  const t = await one({
    hitPolicy: 'ANY',
    inputs: scoreInput,
    rules: [
      { id: 'big', in: ['> 10'], out: ['"yes"'] },
      { id: 'huge', in: ['> 100'], out: ['"yes"'] },
      { id: 'odd', in: ['999'], out: ['"no"'] },
    ],
  });
  assert.equal(evaluateDecision(t, { score: 500 }), { decisionId: 'Inline', result: 'yes', matchedRules: ['big', 'huge'], warnings: [] });
  assert.is(evaluateDecision(t, { score: 1 }).result, null);
  const err = decisionError(() => evaluateDecision(t, { score: 999 }));
  assert.is(err.code, 'DMN_ANY_CONFLICT');
  assert.equal(err.ruleIds, ['big', 'huge', 'odd']);
});

const collectRules = [
  { id: 'r1', in: ['> 0'], out: ['10'] },
  { id: 'r2', in: ['> 5'], out: ['30'] },
  { id: 'r3', in: ['> 7'], out: ['20'] },
];

test('COLLECT: list in rule order; multi-output lists objects', async () => {
  const t = await one({ hitPolicy: 'COLLECT', inputs: scoreInput, outputs: [{ name: 'n', typeRef: 'number' }], rules: collectRules });
  assert.equal(evaluateDecision(t, { score: 8 }), { decisionId: 'Inline', result: [10, 30, 20], matchedRules: ['r1', 'r2', 'r3'], warnings: [] });
  assert.equal(evaluateDecision(t, { score: 0 }).result, []);
  const multi = await one({
    hitPolicy: 'COLLECT',
    inputs: scoreInput,
    outputs: [{ name: 'code' }, { name: 'weight', typeRef: 'number' }],
    rules: [
      { id: 'a', in: ['> 0'], out: ['"A"', '1'] },
      { id: 'b', in: ['> 5'], out: ['"B"', 'score * 2'] },
    ],
  });
  assert.equal(evaluateDecision(multi, { score: 6 }).result, [
    { code: 'A', weight: 1 },
    { code: 'B', weight: 12 },
  ]);
});

test('COLLECT with SUM, MIN, MAX and COUNT', async () => {
  const agg = async (aggregation: string) =>
    one({ hitPolicy: 'COLLECT', aggregation, inputs: scoreInput, outputs: [{ name: 'n', typeRef: 'number' }], rules: collectRules });
  const sum = await agg('SUM');
  assert.equal(evaluateDecision(sum, { score: 8 }), { decisionId: 'Inline', result: 60, matchedRules: ['r1', 'r2', 'r3'], warnings: [] });
  assert.is(evaluateDecision(sum, { score: 1 }).result, 10);
  assert.is(evaluateDecision(sum, { score: -1 }).result, null, 'nothing to sum');
  assert.is(evaluateDecision(await agg('MIN'), { score: 8 }).result, 10);
  assert.is(evaluateDecision(await agg('MAX'), { score: 8 }).result, 30);
  const count = await agg('COUNT');
  assert.is(evaluateDecision(count, { score: 6 }).result, 2);
  assert.is(evaluateDecision(count, { score: -1 }).result, 0);
});

test('RULE ORDER and OUTPUT ORDER', async () => {
  const rules = [
    { id: 'low', in: ['-'], out: ['"low"'] },
    { id: 'high', in: ['> 50'], out: ['"high"'] },
    { id: 'medium', in: ['> 10'], out: ['"medium"'] },
  ];
  const outputs = [{ name: 'risk', values: '"high","medium","low"' }];
  const ruleOrder = await one({ hitPolicy: 'RULE ORDER', inputs: scoreInput, outputs, rules });
  assert.equal(evaluateDecision(ruleOrder, { score: 60 }).result, ['low', 'high', 'medium']);
  const outputOrder = await one({ hitPolicy: 'OUTPUT ORDER', inputs: scoreInput, outputs, rules });
  const out = evaluateDecision(outputOrder, { score: 60 });
  assert.equal(out.result, ['high', 'medium', 'low']);
  assert.equal(out.matchedRules, ['high', 'medium', 'low']);
});

test('entries: FEEL ranges, lists, negation, empty cells, expressions in outputs', async () => {
  const t = await one({
    hitPolicy: 'RULE ORDER',
    inputs: [{ expr: 'amount' }, { expr: 'peril', typeRef: 'string' }, { expr: 'amount / sumInsured' }],
    outputs: [{ name: 'hit' }, { name: 'value', typeRef: 'number' }],
    rules: [
      { id: 'range', in: ['[100..200)', '', '-'], out: ['"range"', 'amount * 2'] },
      { id: 'list', in: ['-', '"fire","storm"', '-'], out: ['"list"', ''] },
      { id: 'not', in: ['-', 'not("fire")', '-'], out: ['"not"', 'null'] },
      { id: 'ratio', in: ['-', '-', '>= 0.5'], out: ['"ratio"', 'round half up(amount / sumInsured, 2)'] },
    ],
  });
  assert.equal(evaluateDecision(t, { amount: 150, peril: 'fire', sumInsured: 1000 }).result, [
    { hit: 'range', value: 300 },
    { hit: 'list', value: null },
  ]);
  assert.equal(evaluateDecision(t, { amount: 200, peril: 'water', sumInsured: 300 }).result, [
    { hit: 'not', value: null },
    { hit: 'ratio', value: 0.67 },
  ]);
});

test('literal-expression decisions', async () => {
  const [t] = await parseDmn(`<definitions xmlns="${DMN_NS}" id="d" name="d" namespace="x">
    <decision id="NetAmount" name="Net amount">
      <variable name="netAmount" typeRef="number"/>
      <literalExpression id="NetAmount_expr"><text>max(claimedAmount - deductible, 0)</text></literalExpression>
    </decision></definitions>`);
  assert.is(t.kind, 'literalExpression');
  assert.equal(evaluateDecision(t, { claimedAmount: 1200, deductible: 500 }), {
    decisionId: 'NetAmount',
    result: 700,
    matchedRules: ['NetAmount_expr'],
    warnings: [],
  });
});

test('warnings: missing variables and input type mismatches are reported, not thrown', async () => {
  const t = await one({ inputs: [{ expr: 'amount', typeRef: 'number' }], rules: [{ id: 'r', in: ['> 10'], out: ['"big"'] }] });
  const missing = evaluateDecision(t, {});
  assert.is(missing.result, null);
  assert.match(missing.warnings[0], /amount/);
  const wrongType = evaluateDecision(t, { amount: '50' });
  assert.ok(wrongType.warnings.some((w) => /expected a number but got string/.test(w)), wrongType.warnings.join('; '));
});

test('runtime FEEL failures become DecisionError naming the rule', () => {
  const table: DecisionTable = {
    id: 'Handmade',
    name: 'Handmade',
    kind: 'decisionTable',
    hitPolicy: 'UNIQUE',
    variableName: 'handmade',
    inputs: [{ id: 'i', label: 'x', expression: 'x', typeRef: 'number' }],
    outputs: [{ id: 'o', name: 'o', label: 'o', typeRef: 'string' }],
    rules: [{ id: 'broken', inputEntries: ['>> 3'], outputEntries: ['"x"'] }],
  };
  const err = decisionError(() => evaluateDecision(table, { x: 1 }));
  assert.is(err.code, 'DMN_EVALUATION_FAILED');
  assert.equal(err.ruleIds, ['broken']);
  assert.match(err.message, /broken/);
});

// ------------------------------------------------------------------------------------------ registry

test('DecisionRegistry: unknown ids, duplicates, replace', async () => {
  const reg = new DecisionRegistry();
  const t = await one({ id: 'Reg', inputs: scoreInput, rules: [{ id: 'any', in: ['-'], out: ['"v1"'] }] });
  reg.add([t]);
  assert.equal(reg.ids(), ['Reg']);
  assert.ok(reg.has('Reg'));
  assert.is(reg.evaluate('Reg', {}).result, 'v1');
  try {
    reg.evaluate('Nope', {});
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InsureflowError);
    assert.is((err as InsureflowError).code, 'NOT_FOUND');
    assert.match((err as Error).message, /"Nope".*Reg/);
  }
  assert.throws(() => reg.add(t), /already deployed/);
  const v2 = await one({ id: 'Reg', inputs: scoreInput, rules: [{ id: 'any', in: ['-'], out: ['"v2"'] }] });
  reg.add(v2, { replace: true });
  assert.is(reg.evaluate('Reg', {}).result, 'v2');
  assert.is(reg.get('Missing'), undefined);
});

test('DecisionRegistry: required decisions are evaluated first and feed their result by variable name', async () => {
  const tables = await parseDmn(`<definitions xmlns="${DMN_NS}" id="d" name="d" namespace="x">
    <decision id="Band" name="Band">
      <variable name="band"/>
      <decisionTable id="Band_t">
        <input id="Band_i"><inputExpression typeRef="number"><text>amount</text></inputExpression></input>
        <output id="Band_o" name="band" typeRef="string"/>
        <rule id="Band_small"><inputEntry><text>&lt; 1000</text></inputEntry><outputEntry><text>"small"</text></outputEntry></rule>
        <rule id="Band_large"><inputEntry><text>&gt;= 1000</text></inputEntry><outputEntry><text>"large"</text></outputEntry></rule>
      </decisionTable>
    </decision>
    <decision id="Route" name="Route">
      <informationRequirement id="ir1"><requiredDecision href="#Band"/></informationRequirement>
      <decisionTable id="Route_t">
        <input id="Route_i"><inputExpression typeRef="string"><text>band</text></inputExpression></input>
        <output id="Route_o" name="queue" typeRef="string"/>
        <rule id="Route_fast"><inputEntry><text>"small"</text></inputEntry><outputEntry><text>"fast-track"</text></outputEntry></rule>
        <rule id="Route_desk"><inputEntry><text>"large"</text></inputEntry><outputEntry><text>"desk"</text></outputEntry></rule>
      </decisionTable>
    </decision></definitions>`);
  assert.equal(tables.find((t) => t.id === 'Route')!.requiredDecisions, ['Band']);
  const reg = new DecisionRegistry().add(tables);
  assert.equal(reg.evaluate('Route', { amount: 50 }), {
    decisionId: 'Route',
    result: 'fast-track',
    matchedRules: ['Band_small', 'Route_fast'],
    warnings: [],
  });
  assert.is(reg.evaluate('Route', { amount: 5000 }).result, 'desk');
  // a required decision that is not deployed is a clear error
  const alone = new DecisionRegistry().add(tables.filter((t) => t.id === 'Route'));
  assert.throws(() => alone.evaluate('Route', {}), /"Band" was not found \(required by decision "Route"\)/);
});

// ------------------------------------------------------------------------------------------ invalid DMN

test('DOCTYPE and ENTITY declarations are refused', async () => {
  const xxe = `<?xml version="1.0"?><!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<definitions xmlns="${DMN_NS}" id="d" name="d" namespace="x"><decision id="a" name="&xxe;"/></definitions>`;
  const problems = await problemsOf(xxe, 'xxe.dmn');
  assert.is(problems.length, 1);
  assert.is(problems[0].element, 'xxe.dmn');
  assert.match(problems[0].message, /DOCTYPE or ENTITY/);
  await problemsOf(`<!ENTITY x "y"><definitions xmlns="${DMN_NS}"/>`);
  await problemsOf(`<!doctype definitions><definitions xmlns="${DMN_NS}"/>`);
});

test('DmnInvalidError is an InsureflowError DMN_INVALID (422) carrying the problems', async () => {
  try {
    await parseDmn('<definitions', 'x.dmn');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InsureflowError);
    assert.is((err as InsureflowError).code, 'DMN_INVALID');
    assert.is((err as InsureflowError).statusCode, 422);
    assert.equal(((err as InsureflowError).details as { problems: DmnProblem[] }).problems, (err as DmnInvalidError).problems);
    assert.match((err as Error).message, /x\.dmn/);
  }
});

test('not well-formed, not DMN, old DMN, empty', async () => {
  const [broken] = await problemsOf(`<definitions xmlns="${DMN_NS}"><decision id="a"></definitions>`);
  assert.match(broken.message, /not well-formed XML/);
  assert.match(broken.message, /line 1/);
  const [bpmn] = await problemsOf('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="x"/>');
  assert.match(bpmn.message, /not a DMN 1\.3 document/);
  const [old] = await problemsOf('<definitions xmlns="http://www.omg.org/spec/DMN/20151101/dmn.xsd" id="x"><decision id="a"/></definitions>');
  assert.match(old.message, /DMN 1\.1/);
  const [empty] = await problemsOf('   ');
  assert.match(empty.message, /empty/);
  const [none] = await problemsOf(`<definitions xmlns="${DMN_NS}" id="d" name="d" namespace="x"/>`);
  assert.match(none.message, /no decision/);
});

test('invalid FEEL is reported with the rule id, and every problem at once', async () => {
  const problems = await problemsOf(
    dmn({
      id: 'Bad',
      inputs: [{ expr: 'amount +' }, { expr: 'peril', typeRef: 'string' }],
      rules: [
        { id: 'ok', in: ['> 1', '"fire"'], out: ['"a"'] },
        { id: 'badEntry', in: ['>> 3', '"fire"'], out: ['"b"'] },
        { id: 'badList', in: ['-', '"fire",'], out: ['"c"'] },
        { id: 'badOutput', in: ['-', '-'], out: ['"unterminated'] },
        { id: 'tooFew', in: ['-'], out: ['"d"'] },
      ],
    }),
  );
  const by = (el: string) => problems.filter((p) => p.element === el);
  assert.is(by('Bad_in0').length, 1, 'input expression');
  assert.match(by('Bad_in0')[0].message, /Input "amount \+" of decision "Bad decision" \(Bad\) has an expression that is not valid FEEL/);
  assert.is(by('badEntry').length, 1);
  assert.match(by('badEntry')[0].message, /Rule 2 \(badEntry\).*condition ">> 3" for input "amount \+" is not valid FEEL unary tests/);
  assert.is(by('badList').length, 1);
  assert.match(by('badList')[0].message, /"fire",/);
  assert.match(by('badOutput')[0].message, /result "\\?"unterminated" for output "out" is not valid FEEL/);
  assert.match(by('tooFew')[0].message, /1 input condition\(s\) but the table has 2 input\(s\)/);
  assert.is(by('ok').length, 0);
  assert.is(problems.length, 5);
});

test('decision without a table, unsupported hit policy and aggregation misuse', async () => {
  const noTable = await problemsOf(`<definitions xmlns="${DMN_NS}" id="d" name="d" namespace="x"><decision id="Empty" name="Empty decision"/></definitions>`);
  assert.equal(noTable.map((p) => p.element), ['Empty']);
  assert.match(noTable[0].message, /has no decision table/);

  const rules = [{ id: 'r', in: ['-'], out: ['1'] }];
  const [hp] = await problemsOf(dmn({ id: 'Hp', hitPolicy: 'RANDOM', inputs: scoreInput, rules }));
  assert.is(hp.element, 'Hp');
  assert.match(hp.message, /hit policy "RANDOM", which is not supported/);

  const [agg] = await problemsOf(dmn({ id: 'Agg', hitPolicy: 'FIRST', aggregation: 'SUM', inputs: scoreInput, rules }));
  assert.match(agg.message, /only allowed with the hit policy COLLECT/);

  const [twoOutputs] = await problemsOf(
    dmn({ id: 'Two', hitPolicy: 'COLLECT', aggregation: 'MAX', inputs: scoreInput, outputs: [{ name: 'a' }, { name: 'b' }], rules: [{ id: 'r', in: ['-'], out: ['1', '2'] }] }),
  );
  assert.match(twoOutputs.message, /needs exactly one output column/);
});

test('PRIORITY without output values, and results outside the output values', async () => {
  const [noValues] = await problemsOf(
    dmn({ id: 'Prio', hitPolicy: 'PRIORITY', inputs: scoreInput, rules: [{ id: 'r', in: ['-'], out: ['"x"'] }] }),
  );
  assert.is(noValues.element, 'Prio');
  assert.match(noValues.message, /PRIORITY.*output values/);
  const [outside] = await problemsOf(
    dmn({
      id: 'Vals',
      inputs: scoreInput,
      outputs: [{ name: 'risk', values: '"high","low"' }],
      rules: [{ id: 'typo', in: ['-'], out: ['"hihg"'] }],
    }),
  );
  assert.is(outside.element, 'typo');
  assert.match(outside.message, /not one of its listed output values \("high", "low"\)/);
});

test('unknown elements and duplicate ids are problems, not silently dropped', async () => {
  const problems = await problemsOf(`<definitions xmlns="${DMN_NS}" id="d" name="d" namespace="x">
    <decision id="A" name="A"><decisionTable id="t"><output id="o" name="o"/><rule id="r"><outputEntry><text>1</text></outputEntry><oops/></rule></decisionTable></decision>
    <decision id="A" name="Again"/></definitions>`);
  assert.ok(problems.some((p) => /<oops\/> \(line 2, column \d+\) is not a DMN 1\.3 element/.test(p.message)), JSON.stringify(problems));
  assert.ok(problems.some((p) => p.element === 'A' && /id "A" is used more than once/.test(p.message)), JSON.stringify(problems));
});

test.run();
