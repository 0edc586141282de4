/**
 * Deploy-time checks of what a diagram says about variables (src/definitions/io-mappings.ts): input/output
 * mappings and multi-instance loop characteristics. Anything the runtime would ignore or could not run is a
 * problem naming the element and what to write instead; expressions are checked by the caller's checker (the
 * same FEEL rules as everywhere, src/definitions/validate.ts).
 */
import { camundaAttr, extensionElementsOf } from './bindings.ts';
import { ioMappingsOf, loopSpecOf, type IoMapping } from './io-mappings.ts';
import { describeElement, type Dialect } from './parse.ts';

/** Checks one expression (raw text, `=...` / `${...}` or a literal) and reports its problems itself. */
export type ExpressionChecker = (what: string, raw: string | null | undefined) => void;

const NAME = /^[A-Za-z_][\w]*$/;
const PATH = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/;

/** Element types whose mappings the runtime applies (when they start / when they complete). */
const MAPPABLE = new Set([
  'bpmn:Task', 'bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:BusinessRuleTask', 'bpmn:UserTask', 'bpmn:ManualTask',
  'bpmn:ReceiveTask', 'bpmn:ScriptTask', 'bpmn:SubProcess', 'bpmn:CallActivity', 'bpmn:IntermediateCatchEvent',
  'bpmn:IntermediateThrowEvent', 'bpmn:EndEvent',
]);

const q = (v: string) => JSON.stringify(v);

/** Problems of an element's input/output mappings (`camunda:inputOutput`, `zeebe:ioMapping`). */
export function ioMappingProblems(el: any, dialect: Dialect, check: ExpressionChecker): string[] {
  const io = ioMappingsOf(el);
  if (!io || (!io.inputs.length && !io.outputs.length)) return [];
  const d = describeElement(el);
  const problems: string[] = [];
  if (!MAPPABLE.has(el.$type)) {
    const where =
      el.$type === 'bpmn:StartEvent'
        ? 'start events have no variables of their own: map the variables in the activity that follows, or pass them when the instance starts'
        : el.$type === 'bpmn:BoundaryEvent'
          ? 'map them in the first activity after the boundary event'
          : 'gateways and this kind of element have no variables of their own: map them in an activity';
    problems.push(`${d} has ${io.source} mappings, which the engine cannot apply here: ${where}.`);
    return problems;
  }
  const one = (m: IoMapping, direction: 'input' | 'output') => {
    const label = `mapping to variable ${q(m.target)}`;
    if (!m.target) {
      problems.push(`${d} has an ${direction} mapping without a variable name (${io.source === 'zeebe:ioMapping' ? 'target' : 'name'}): name the variable it sets.`);
      return;
    }
    const ok = io.source === 'zeebe:ioMapping' ? PATH.test(m.target) : NAME.test(m.target);
    if (!ok) {
      problems.push(
        `${d} has an ${direction} mapping to ${q(m.target)}, which is not a variable name: use letters, digits and _, not ` +
          `starting with a digit${io.source === 'zeebe:ioMapping' ? ' (a nested property as a.b)' : ''}.`,
      );
    }
    switch (m.kind) {
      case 'script':
        problems.push(
          `${d} computes its ${label} with a script (camunda:script). Diagrams never run code: write a FEEL expression ` +
            '(${...}) or a plain value instead, or move the computation into a handler.',
        );
        return;
      case 'expression':
      case 'literal':
        check(label, m.source);
        return;
      case 'list':
      case 'map':
        for (const item of m.items ?? []) {
          if (item.nested) {
            problems.push(`${d} has an ${label} whose ${m.kind} contains another list, map or script, which the engine does not build: use one FEEL expression that builds the value instead (e.g. \${[a, [b, c]]}).`);
            return;
          }
          check(label, item.source);
        }
    }
  };
  for (const m of io.inputs) one(m, 'input');
  for (const m of io.outputs) one(m, 'output');
  return problems;
}

/** Problems of an activity's multi-instance loop characteristics. */
export function loopProblems(el: any, dialect: Dialect, check: ExpressionChecker): string[] {
  const loop = el.loopCharacteristics;
  if (!loop || loop.$type !== 'bpmn:MultiInstanceLoopCharacteristics') return [];
  const spec = loopSpecOf(el, dialect);
  if (!spec) return [];
  const d = describeElement(el);
  const problems: string[] = [];
  check('loop cardinality', spec.cardinality);
  check('completion condition', spec.completionCondition);
  if (spec.collection) {
    // Camunda 7 also accepts the bare name of a variable holding the collection
    if (!(spec.collectionSource === 'camunda:collection' && NAME.test(spec.collection))) check('collection', spec.collection);
    if (spec.collectionSource === 'camunda:collection' && !NAME.test(spec.collection) && !/^\s*[=$#]/.test(spec.collection)) {
      problems.push(`${d} iterates over the collection ${q(spec.collection)}, which is neither a variable name nor an expression: write the variable's name (e.g. approvers) or an expression (e.g. \${approvers}).`);
    }
  }
  if (!spec.cardinality && !spec.collection) {
    problems.push(
      `${d} is multi-instance but says neither how many instances to run nor over which collection: ` +
        (dialect === 'zeebe'
          ? 'set the input collection (<zeebe:loopCharacteristics inputCollection="=items" inputElement="item"/>).'
          : 'set a collection with its element variable (camunda:collection="${items}" camunda:elementVariable="item") or a loop cardinality.'),
    );
  }
  if (spec.elementVariable && !NAME.test(spec.elementVariable)) {
    problems.push(`${d} names its element variable ${q(spec.elementVariable)}, which is not a variable name: use letters, digits and _.`);
  }
  if (spec.elementVariable && !spec.collection) {
    problems.push(`${d} names an element variable (${q(spec.elementVariable)}) but no collection to take the elements from: set the collection too.`);
  }
  if (spec.outputCollection || spec.outputElement) {
    if (!spec.outputCollection || !spec.outputElement) {
      problems.push(`${d} sets ${spec.outputCollection ? 'an output collection without an output element' : 'an output element without an output collection'}: set both (outputCollection="results" outputElement="=result"), or neither.`);
    } else if (!NAME.test(spec.outputCollection)) {
      problems.push(`${d} names its output collection ${q(spec.outputCollection)}, which is not a variable name: use letters, digits and _.`);
    }
    check('output element', spec.outputElement);
  }
  for (const attr of ['asyncBefore', 'asyncAfter']) {
    const v = camundaAttr(loop, attr);
    if (v === 'true' || loop[attr] === true) {
      problems.push(`${d} sets camunda:${attr} on its multi-instance characteristics, which the engine does not support (the iterations run in the activity's transition): remove it, or set camunda:asyncBefore on the activity itself.`);
    }
  }
  if (extensionElementsOf(loop, 'camunda:FailedJobRetryTimeCycle').length) {
    problems.push(`${d} sets a retry time cycle on its multi-instance characteristics, which the engine does not read: set it on the activity.`);
  }
  return problems;
}
