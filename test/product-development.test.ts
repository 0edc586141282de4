/**
 * Product development through the HTTP API (parallel reviews, send-back with comments, parallel build and
 * training, actuarial pricing, publication to the catalogue used by sales), and the diagram interchange of every
 * BPMN file under processes/.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-ignore -- untyped module
import { BpmnModdle } from 'bpmn-moddle';
import { domain, noIncidents, processesDir, type Domain } from './insurance.ts';

const DESIGN = { perils: ['fire', 'storm', 'water'], sumInsuredMin: 100_000, sumInsuredMax: 10_000_000, deductible: 2_000, coinsurance: 0.9, policyTermMonths: 12, exclusions: ['flood'] };
const PRICING = { expectedLossCost: 0.0018, expenseLoading: 0.25, profitLoading: 0.05, pricingBasis: 'Five years of SME property losses' };

type Ctx = { d: Domain };
const pd = suite<Ctx>('product development');
pd.before(async (ctx) => {
  ctx.d = await domain();
});
pd.after(async (ctx) => ctx.d.close());

async function start(d: Domain, productCode: string) {
  const res = await d.call<any>('pm', 'POST', '/api/process-definitions/product-development/start', {
    businessKey: `PRODUCT-${productCode}`,
    variables: { productCode, productName: `${productCode} property cover`, line: 'property', targetMarket: 'Small and medium businesses' },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  await d.complete('pm', res.body.id, 'Task_MarketResearch', { targetSegment: 'Retail shops', competitors: ['Insurer A shop cover'], customerNeeds: 'Cover for stock and fittings', researchSummary: 'Demand confirmed' });
  await d.complete('pm', res.body.id, 'Task_DesignProduct', DESIGN);
  return res.body.id as string;
}

async function buildAndPrice(d: Domain, id: string) {
  await d.complete('it', id, 'Task_BuildSystems', { testsPassed: false, releaseRef: 'R-1' }, 400);
  await d.complete('it', id, 'Task_BuildSystems', { testsPassed: true, releaseRef: 'R-2026.02', testSummary: 'Policy, claims and billing tested' });
  let inst = await d.instance(id);
  assert.equal(inst.openTasks.map((t: any) => t.activityId), ['Task_TrainStaff'], 'pricing waits for the training too');
  await d.complete('trainer', id, 'Task_TrainStaff', { staffTrained: 42, trainingCompletedOn: '2026-01-20' });
  await d.complete('actuary', id, 'Task_PriceProduct', { ...PRICING, expenseLoading: 0.95 }, 400);
  await d.complete('actuary', id, 'Task_PriceProduct', PRICING);
  inst = await d.instance(id);
  assert.is(inst.variables.baseRate, 0.002571, '0.0018 / (1 - 0.25 - 0.05)');
}

pd('approved at once: reviews in parallel, build and training in parallel, priced, signed off and launched', async ({ d }) => {
  const id = await start(d, 'SHOP');
  let inst = await d.instance(id);
  assert.equal(inst.openTasks.map((t: any) => t.activityId).sort(), ['Task_LegalReview', 'Task_RiskReview']);
  const draft = (await d.store.productDraftOf(id))!;
  assert.is(draft.status, 'draft');
  assert.is(draft.version, 1);
  assert.equal(draft.parameters.perils, DESIGN.perils);
  assert.is((await d.store.launchedProduct('SHOP')), null, 'a draft cannot be quoted');
  await d.complete('legal', id, 'Task_LegalReview', { legalDecision: 'approve' });
  await d.complete('risk', id, 'Task_RiskReview', { riskDecision: 'approve' });
  inst = await d.instance(id);
  assert.equal(inst.openTasks.map((t: any) => t.activityId).sort(), ['Task_BuildSystems', 'Task_TrainStaff']);
  await buildAndPrice(d, id);
  await d.complete('actuary', id, 'Task_SignOffPricing', { pricingSignOff: 'revise', actuaryName: 'Chen Jing', signOffNotes: 'Check expense loading' });
  await d.complete('actuary', id, 'Task_PriceProduct', { ...PRICING, expenseLoading: 0.2 });
  assert.is((await d.instance(id)).variables.baseRate, 0.0024);
  await d.complete('actuary', id, 'Task_SignOffPricing', { pricingSignOff: 'signed-off', actuaryName: 'Chen Jing' });
  inst = await d.instance(id);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
  const product = (await d.store.launchedProduct('SHOP'))!;
  assert.is(product.version, 1);
  assert.is(product.baseRate, 0.0024);
  assert.is(product.parameters.coinsurance, 0.9);
  assert.equal((product.parameters.pricing as any).expenseLoading, 0.2);
  const news = await d.store.notifications({ businessRef: 'SHOP', topic: 'product-launched' });
  assert.is(news.length, 1);
  assert.is(news[0].recipient, 'sales-agents');
});

pd('a rejected review sends the design back with both reviewers\' comments, then it is approved', async ({ d }) => {
  const id = await start(d, 'CARGO1');
  await d.complete('risk', id, 'Task_RiskReview', { riskDecision: 'reject' }, 400);
  await d.complete('risk', id, 'Task_RiskReview', { riskDecision: 'reject', riskComments: 'Flood exposure not priced: exclude flood zones' });
  await d.complete('legal', id, 'Task_LegalReview', { legalDecision: 'approve', legalComments: 'Wording fine' });
  let inst = await d.instance(id);
  assert.equal(inst.openTasks.map((t: any) => t.activityId), ['Task_DesignProduct']);
  assert.equal(inst.variables.reviewComments, [
    { reviewer: 'risk management', decision: 'reject', comment: 'Flood exposure not priced: exclude flood zones' },
    { reviewer: 'legal and compliance', decision: 'approve', comment: 'Wording fine' },
  ]);
  await d.complete('pm', id, 'Task_DesignProduct', { ...DESIGN, exclusions: ['flood', 'property in flood zones'], designNotes: 'Flood zones excluded as risk asked' });
  inst = await d.instance(id);
  assert.equal(inst.openTasks.map((t: any) => t.activityId).sort(), ['Task_LegalReview', 'Task_RiskReview'], 'both review again');
  assert.is((await d.store.productDraftOf(id))!.version, 1, 'the same draft version is revised');
  assert.equal((await d.store.productDraftOf(id))!.parameters.exclusions, ['flood', 'property in flood zones']);
  await d.complete('risk', id, 'Task_RiskReview', { riskDecision: 'approve' });
  await d.complete('legal', id, 'Task_LegalReview', { legalDecision: 'approve' });
  await buildAndPrice(d, id);
  await d.complete('actuary', id, 'Task_SignOffPricing', { pricingSignOff: 'signed-off', actuaryName: 'Chen Jing' });
  assert.is((await d.instance(id)).status, 'completed');
  assert.is((await d.store.launchedProduct('CARGO1'))!.baseRate, 0.002571);
});

pd('the catalogue drives sales: no quote before launch, quotes from the launched version after, a new version supersedes', async ({ d }) => {
  const lead = async (key: string) => {
    const res = await d.call<any>('agent', 'POST', '/api/process-definitions/sales/start', { businessKey: key, variables: { leadSource: 'branch', customerName: 'Shop owner', agent: 'agent', agentLevel: 'senior' } });
    assert.is(res.status, 201);
    return res.body.id as string;
  };
  const needs = { productCode: 'BAKERY', sumInsured: 400_000, propertyType: 'commercial', constructionClass: 'masonry', claimsLast3Years: 0 };
  const early = await lead('LEAD-BAKERY-1');
  await d.complete('agent', early, 'Task_NeedsAnalysis', needs);
  let inst = await d.instance(early);
  noIncidents(inst);
  assert.equal(inst.openTasks.map((t: any) => t.activityId), ['Task_NeedsAnalysis'], 'back to the needs analysis');
  assert.match(inst.variables.quoteProblem, /BAKERY is not on sale/);

  const launch = async () => {
    const id = await start(d, 'BAKERY');
    await d.complete('risk', id, 'Task_RiskReview', { riskDecision: 'approve' });
    await d.complete('legal', id, 'Task_LegalReview', { legalDecision: 'approve' });
    await buildAndPrice(d, id);
    await d.complete('actuary', id, 'Task_SignOffPricing', { pricingSignOff: 'signed-off', actuaryName: 'Chen Jing' });
    return id;
  };
  await launch();
  await d.complete('agent', early, 'Task_NeedsAnalysis', needs);
  inst = await d.instance(early);
  noIncidents(inst);
  assert.is(inst.variables.productVersion, 1);
  assert.is(inst.variables.baseRate, 0.002571);
  assert.is(inst.variables.grossPremium, 1182.66, '400,000 x 0.002571 x 1.15 (commercial masonry) x 1.0 (grade C)');
  assert.equal(inst.openTasks.map((t: any) => t.activityId), ['Task_Negotiate']);
  const outOfRange = await lead('LEAD-BAKERY-2');
  await d.complete('agent', outOfRange, 'Task_NeedsAnalysis', { ...needs, sumInsured: 50_000 });
  assert.match((await d.instance(outOfRange)).variables.quoteProblem, /from 100,000\.00/);

  const v2 = await launch();
  assert.is((await d.store.productDraftOf(v2))!.version, 2);
  assert.is((await d.store.productVersion('BAKERY', 1))!.status, 'superseded');
  const later = await lead('LEAD-BAKERY-3');
  await d.complete('agent', later, 'Task_NeedsAnalysis', needs);
  assert.is((await d.instance(later)).variables.productVersion, 2);
});

pd.run();

// ------------------------------------------------------------------------------------------------ diagrams

const require = createRequire(import.meta.url);
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height;

const di = suite('diagram interchange');
const files = readdirSync(processesDir).filter((f) => f.endsWith('.bpmn'));

di('the flows are there', () => {
  assert.equal(files.sort(), ['claims.bpmn', 'complaint.bpmn', 'consultation.bpmn', 'dispute.bpmn', 'policy-cancellation.bpmn', 'policy-change.bpmn', 'policy-renewal.bpmn', 'product-development.bpmn', 'sales.bpmn']);
});

for (const file of files) {
  di(`${file}: every flow node and flow has DI, lanes have shapes, nothing overlaps`, async () => {
    const moddle = new BpmnModdle({ camunda });
    const { rootElement: defs, warnings } = await moddle.fromXML(readFileSync(join(processesDir, file), 'utf8'));
    assert.equal(warnings.map((w: any) => w.message), [], 'parses without warnings');
    const shapes = new Map<string, any>();
    const edges = new Map<string, any>();
    const planes = new Set<string>();
    for (const d of defs.diagrams) {
      planes.add(d.plane.bpmnElement.id);
      for (const el of d.plane.planeElement ?? []) {
        if (el.$type === 'bpmndi:BPMNShape') shapes.set(el.bpmnElement.id, el);
        if (el.$type === 'bpmndi:BPMNEdge') {
          edges.set(el.bpmnElement.id, el);
          assert.ok(el.waypoint.length >= 2, `${el.bpmnElement.id} has waypoints`);
        }
      }
    }
    const process = defs.rootElements.find((e: any) => e.$type === 'bpmn:Process' && e.isExecutable);
    const collaboration = defs.rootElements.find((e: any) => e.$type === 'bpmn:Collaboration');
    assert.ok(collaboration && planes.has(collaboration.id), 'the main plane shows the pool');
    assert.ok(shapes.has(collaboration.participants[0].id), 'the pool has a shape');
    const walk = (container: any) => {
      for (const el of container.flowElements ?? []) {
        if (el.$type === 'bpmn:SequenceFlow') assert.ok(edges.has(el.id), `${file}: ${el.id} has an edge`);
        else assert.ok(shapes.has(el.id), `${file}: ${el.id} has a shape`);
        if (el.$type === 'bpmn:SubProcess') {
          assert.ok(planes.has(el.id) || shapes.get(el.id).isExpanded, `${file}: ${el.id} can be opened`);
          walk(el);
        }
      }
    };
    walk(process);
    const lanes: any[] = process.laneSets[0].lanes;
    assert.ok(lanes.length >= 2, 'a lane per department (a consultation has two: customer service and the hand-over)');
    const laneBoxes = lanes.map((l) => {
      assert.ok(shapes.has(l.id), `${l.id} has a shape`);
      return shapes.get(l.id).bounds as Box;
    });
    for (let i = 0; i < laneBoxes.length; i++) for (let j = i + 1; j < laneBoxes.length; j++) assert.not.ok(overlaps(laneBoxes[i], laneBoxes[j]), `${lanes[i].id} / ${lanes[j].id}`);
    const top = process.flowElements.filter((e: any) => e.$type !== 'bpmn:SequenceFlow');
    for (const n of top) {
      const lane = lanes.findIndex((l) => (l.flowNodeRef ?? []).includes(n));
      assert.ok(lane >= 0, `${n.id} is in a lane`);
      if (n.$type !== 'bpmn:BoundaryEvent') assert.ok(inside(shapes.get(n.id).bounds, laneBoxes[lane]), `${n.id} is drawn inside ${lanes[lane].id}`);
    }
    const hosts = top.filter((n: any) => n.$type !== 'bpmn:BoundaryEvent');
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        assert.not.ok(overlaps(shapes.get(hosts[i].id).bounds, shapes.get(hosts[j].id).bounds), `${hosts[i].id} overlaps ${hosts[j].id}`);
      }
    }
    for (const n of top.filter((e: any) => e.$type === 'bpmn:BoundaryEvent')) {
      assert.ok(overlaps(shapes.get(n.id).bounds, shapes.get(n.attachedToRef.id).bounds), `${n.id} sits on ${n.attachedToRef.id}`);
    }
    assert.not.ok(/scriptTask|camunda:script|language="javascript"/i.test(readFileSync(join(processesDir, file), 'utf8')), 'no code in diagrams');
  });
}

di.run();
