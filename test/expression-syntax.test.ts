/**
 * One parser decides what an expression is (src/engine/expression-syntax.ts), for deployment
 * (src/definitions/validate.ts, bindings.ts) and for run time (src/engine/expressions.ts). The cases below are
 * those on which the two used to disagree: each is either evaluated the same way at run time as validated at
 * deploy time, or refused at deploy with the element id and what to write instead; never accepted and then
 * mis-evaluated.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { feelBodyOf, isExpressionValue, parseExpression, type ParsedExpression } from '../src/engine/expression-syntax.ts';
import { createEngineExpressions, evaluateFeel, feelBody, resolveValue } from '../src/engine/expressions.ts';
import { expressionBody } from '../src/definitions/bindings.ts';
import { parseBpmn } from '../src/definitions/parse.ts';
import { validateBpmn, type Problem } from '../src/definitions/validate.ts';

const unsupported = (e: ParsedExpression) => {
  assert.is(e.kind, 'unsupported', JSON.stringify(e));
  return e as Extract<ParsedExpression, { kind: 'unsupported' }>;
};

test('Classification: FEEL (=), JUEL (${ } and #{ }), service, literal; a FEEL language makes ${ } and plain text FEEL', () => {
  assert.equal(parseExpression('=amount > 1000'), { kind: 'feel', body: 'amount > 1000', syntax: '=' });
  assert.equal(parseExpression('  = amount > 1000 '), { kind: 'feel', body: 'amount > 1000', syntax: '=' });
  assert.equal(parseExpression('${amount > 1000}'), { kind: 'juel', body: 'amount > 1000', syntax: '${' });
  assert.equal(parseExpression('#{amount > 1000}'), { kind: 'juel', body: 'amount > 1000', syntax: '#{' });
  assert.equal(parseExpression('${ {a: 1}.a }'), { kind: 'juel', body: '{a: 1}.a', syntax: '${' }, 'braces inside');
  assert.equal(parseExpression('${ "}" + x }'), { kind: 'juel', body: '"}" + x', syntax: '${' }, 'a brace in a string');
  assert.equal(parseExpression("${ a['}'] }"), { kind: 'juel', body: "a['}']", syntax: '${' }, "a brace in a JUEL '...' string");
  assert.equal(parseExpression('${amount > 1000}', { language: 'feel' }), { kind: 'feel', body: 'amount > 1000', syntax: '${' });
  assert.equal(parseExpression('amount > 1000', { language: 'feel' }), { kind: 'feel', body: 'amount > 1000', syntax: '' });
  assert.equal(parseExpression('=amount > 1000', { language: 'juel' }), { kind: 'feel', body: 'amount > 1000', syntax: '=' });
  assert.equal(parseExpression('${environment.services.payClaim}'), { kind: 'service', name: 'payClaim' });
  assert.equal(parseExpression('adjusters'), { kind: 'literal', text: 'adjusters' });
  assert.equal(parseExpression('costs $5 {net}'), { kind: 'literal', text: 'costs $5 {net}' });
  assert.ok(!isExpressionValue('adjusters') && isExpressionValue('=x') && isExpressionValue('${x}') && isExpressionValue('a ${x}'));
});

test('Disagreement 1: "${a} and ${b}" (a JUEL template of two expressions) is no FEEL at run time and refused at deploy', () => {
  const e = unsupported(parseExpression('${a} and ${b}'));
  assert.match(e.problem, /mixes text and 2 expressions/);
  assert.is(e.conditionSuggestion, '=a and b');
  assert.is(e.suggestion, '=string(a) + " and " + string(b)');
  // run time: not evaluated as the FEEL "a} and ${b" (what the old runtime regex extracted)
  assert.is(feelBody('${a} and ${b}'), null);
  assert.is(resolveValue('${a} and ${b}', { a: true, b: false }), '${a} and ${b}');
  // bindings agree (a literal for handler/decision names, so they count as dynamic, never as FEEL)
  assert.equal(expressionBody('${a} and ${b}'), { kind: 'literal', body: '${a} and ${b}' });
  // the suggestions mean what the author meant
  assert.is(evaluateFeel(e.conditionSuggestion!.slice(1), { a: true, b: false }).value, false);
  assert.is(evaluateFeel(e.conditionSuggestion!.slice(1), { a: true, b: true }).value, true);
  assert.is(evaluateFeel(e.suggestion!.slice(1), { a: 'Ann', b: 'Bob' }).value, 'Ann and Bob');
});

test('Disagreement 2: templates with text around one expression', () => {
  const e = unsupported(parseExpression('Claim ${claimNo} (${"urgent"})'));
  assert.is(e.suggestion, '="Claim " + string(claimNo) + " (" + string("urgent") + ")"');
  assert.is(evaluateFeel(e.suggestion!.slice(1), { claimNo: 'CLM-1' }).value, 'Claim CLM-1 (urgent)');
  const days = unsupported(parseExpression('P${days}D'));
  assert.is(evaluateFeel(days.suggestion!.slice(1), { days: 3 }).value, 'P3D');
  const quoted = unsupported(parseExpression('say "hi" \\ ${x}'));
  assert.is(evaluateFeel(quoted.suggestion!.slice(1), { x: 1 }).value, 'say "hi" \\ 1', 'quotes and backslashes of the text are escaped');
});

test('Disagreement 3: what counts as FEEL: bpmn-engine paths are not FEEL and are refused, with the FEEL to write', () => {
  const path = unsupported(parseExpression('${environment.variables.amount > 1000}'));
  assert.is(path.suggestion, '=amount > 1000');
  assert.is(feelBody('${environment.variables.amount > 1000}'), null, 'the runtime never evaluates it as FEEL');
  const content = unsupported(parseExpression('${content.output.x}'));
  assert.is(content.suggestion, null);
  assert.match(content.problem, /by name/);
  // `=` always means FEEL, whatever follows
  assert.equal(parseExpression('=${a}'), { kind: 'feel', body: '${a}', syntax: '=' });
});

test('An unclosed ${ is refused, with where it starts', () => {
  const e = unsupported(parseExpression('${amount > 1000'));
  assert.match(e.problem, /"\$\{" at character 1 is never closed/);
  assert.match(unsupported(parseExpression('ok ${a} then #{b')).problem, /"#\{" at character 14/);
});

test('Run time evaluates FEEL (=) and JUEL (${ }, #{ }), each as deploy classified it', () => {
  const engine = createEngineExpressions();
  const from = { environment: { variables: { amount: 1500, risk: 'high' } } };
  for (const raw of ['=amount > 1000 and risk = "high"', "${amount > 1000 && risk == 'high'}", "#{amount gt 1000 and risk eq 'high'}"]) {
    assert.is(engine.resolveExpression(raw, from), true, raw);
    assert.is(resolveValue(raw, from.environment.variables), true, raw);
    assert.ok(engine.isExpression(raw));
  }
  assert.is(feelBodyOf('=amount > 1000'), 'amount > 1000');
  assert.is(feelBodyOf('${amount > 1000}'), null, 'JUEL is not FEEL');
  // the same body means different things: FEEL "=" compares, in JUEL it is not an operator (refused at deploy)
  assert.is(resolveValue('=risk = "high"', from.environment.variables), true);
  assert.throws(() => resolveValue('${risk = "high"}', from.environment.variables), /not an operator|unexpected "="/);
  assert.is(resolveValue('adjusters', {}), 'adjusters');
  // a timer date without an offset is handed to bpmn-engine as UTC
  assert.is(engine.resolveExpression('2030-01-31T09:00', {}), '2030-01-31T09:00Z');
  assert.is(engine.resolveExpression('2030-01-31T09:00+01:00', {}), '2030-01-31T09:00+01:00');
});

/** A Camunda 7 process: an exclusive gateway whose flows and a user task carry the given expressions. */
function processXml(conditions: string[], task: { assignee?: string; candidateGroups?: string; dueDate?: string }, timer?: string): string {
  const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const flows = conditions
    .map(
      (c, i) =>
        `<bpmn:sequenceFlow id="Flow_${i}" sourceRef="Gw" targetRef="Task"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${esc(c)}</bpmn:conditionExpression></bpmn:sequenceFlow>`,
    )
    .join('\n');
  const attrs = Object.entries(task)
    .map(([k, v]) => ` camunda:${k}="${esc(v as string)}"`)
    .join('');
  const timerEl = timer
    ? `<bpmn:intermediateCatchEvent id="Wait"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">${esc(timer)}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://insureflow.test">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Gw" />
    <bpmn:exclusiveGateway id="Gw" default="Flow_default" />
    ${flows}
    <bpmn:sequenceFlow id="Flow_default" sourceRef="Gw" targetRef="Task" />
    <bpmn:userTask id="Task"${attrs} />
    ${timerEl}
  </bpmn:process>
</bpmn:definitions>`;
}

async function problems(xml: string): Promise<Problem[]> {
  return validateBpmn(await parseBpmn(xml), { handlers: new Set(), forms: new Set(), decisions: new Set() });
}

test('Deploy refuses each disagreeing form, naming the element and saying what to write', async () => {
  const found = await problems(
    processXml(
      ['${a} and ${b}', '${environment.variables.amount > 1000}', '${amount > 1000'],
      { assignee: '${first} ${last}', candidateGroups: '${environment.services.groups}' },
      'P${days}D',
    ),
  );
  const byId = (id: string) => found.filter((p) => p.element === id).map((p) => p.message).join('\n');
  assert.equal([...new Set(found.map((p) => p.element))].sort(), ['Flow_0', 'Flow_1', 'Flow_2', 'Task', 'Wait']);
  assert.match(byId('Flow_0'), /"\$\{a\} and \$\{b\}" cannot be evaluated: it mixes text and 2 expressions.*Write one FEEL expression instead: =a and b\./);
  assert.match(byId('Flow_1'), /reads bpmn-engine's internal path.*Write one FEEL expression instead: =amount > 1000\./);
  assert.match(byId('Flow_2'), /never closed/);
  assert.match(byId('Task'), /assignee "\$\{first\} \$\{last\}" cannot be evaluated.*=string\(first\) \+ " " \+ string\(last\)/);
  assert.match(byId('Task'), /candidate groups "\$\{environment.services.groups\}" refers to the service "groups"/);
  assert.match(byId('Wait'), /timer duration "P\$\{days\}D" cannot be evaluated.*="P" \+ string\(days\) \+ "D"/);
});

test('Deploy accepts the forms the runtime evaluates, and the runtime evaluates every one of them as FEEL, JUEL or a literal', async () => {
  const conditions = ['=amount > 1000', "${amount > 1000 and risk == 'high'}", '#{approved}'];
  const task = { assignee: '${initiator}', candidateGroups: 'adjusters, senior-adjusters', dueDate: '=now() + duration("P1D")' };
  assert.equal(await problems(processXml(conditions, task, '${reviewPeriod}')), []);
  const vars = { amount: 1500, risk: 'high', approved: true, initiator: 'ann', reviewPeriod: 'PT1H' };
  assert.equal([...conditions, task.assignee, '${reviewPeriod}'].map((raw) => resolveValue(raw, vars)), [true, true, true, 'ann', 'PT1H']);
  assert.is(resolveValue(task.candidateGroups, vars), 'adjusters, senior-adjusters');
});

test('Deploy refuses a ${ } body that is FEEL rather than JUEL, naming the element, with the = form to write', async () => {
  const found = await problems(processXml(['${amount > 1000 and risk = "high"}', '${x in [1, 2]}'], { assignee: '${string(owner)}' }));
  const byId = (id: string) => found.filter((p) => p.element === id).map((p) => p.message).join('\n');
  assert.equal([...new Set(found.map((p) => p.element))].sort(), ['Flow_0', 'Flow_1', 'Task']);
  assert.match(byId('Flow_0'), /is not valid JUEL: unexpected "=" at character 24.*Write =amount > 1000 and risk = "high" \(FEEL\) instead/);
  assert.match(byId('Flow_1'), /"in" is FEEL.*Write =x in \[1, 2\] \(FEEL\) instead/);
  assert.match(byId('Task'), /\(assignee\) cannot run: it calls the function string.*Write =string\(owner\) \(FEEL\) instead/);
});

test('A timer start event reading a variable in JUEL is refused (it is armed at deployment, when no variable is set)', async () => {
  const xml = (timer: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://insureflow.test">
  <bpmn:process id="P" isExecutable="true"><bpmn:startEvent id="Start"><bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">${timer}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
  <bpmn:sequenceFlow id="F" sourceRef="Start" targetRef="E" /><bpmn:endEvent id="E" /></bpmn:process>
</bpmn:definitions>`;
  const found = await problems(xml('${cycle}'));
  assert.equal(found.map((p) => p.element), ['Start']);
  assert.match(found[0].message, /reads the variable cycle: a timer start event is armed when the process is deployed/);
  assert.equal(await problems(xml("${'R/PT1H'}")), []);
  const broken = await problems(xml('${1 % 0}'));
  assert.equal(broken.map((p) => p.element), ['Start']);
  assert.match(broken[0].message, /cannot be evaluated: division by zero/);
});

test('A correlation key written without "=" is FEEL at run time, so deployment checks it as FEEL', async () => {
  const xml = (key: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D" targetNamespace="http://insureflow.test">
  <bpmn:message id="Msg" name="documents"><bpmn:extensionElements><zeebe:subscription correlationKey="${key}" /></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="P" isExecutable="true"><bpmn:startEvent id="S" /><bpmn:sequenceFlow id="F" sourceRef="S" targetRef="Wait" /><bpmn:receiveTask id="Wait" messageRef="Msg" /></bpmn:process>
</bpmn:definitions>`;
  assert.equal(await problems(xml('claimNo')), []);
  assert.equal(await problems(xml('=claimNo')), []);
  const found = await problems(xml('claimNo +'));
  assert.equal(found.map((p) => p.element), ['Wait']);
  assert.match(found[0].message, /"=claimNo \+" \(correlation key\) is not valid FEEL/);
  // the runtime's reading of the same key (src/engine/transition.ts wraps a literal key in "=")
  assert.is(resolveValue('=claimNo', { claimNo: 'CLM-1' }), 'CLM-1');
});

test.run();
