/**
 * Deploy-time checks of what a diagram says about variables (src/definitions/io-mappings.ts): input/output
 * mappings and multi-instance loop characteristics. Anything the runtime would ignore or could not run is a
 * problem naming the element and what to write instead; expressions are checked by the caller's checker (the
 * same FEEL rules as everywhere, src/definitions/validate.ts).
 */
import { calledElementBindingOf, calledElementOf, camundaAttr, extensionElementsOf } from './bindings.ts';
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

/**
 * Problems of a call activity: what it calls (a process of this file, of this deployment or deployed before,
 * named literally), how it binds the version (no version tags on processes here), and what it passes in and out
 * (Camunda 7 `camunda:in` / `camunda:out`: a source or an expression with a target, or variables="all"; no Java
 * variable mapping, no case calls).
 */
export function callActivityProblems(
  el: any,
  known: {
    inFile: Set<string>;
    deployed: Set<string> | null;
    /** the stored versions of a process key (ascending) */
    versions?: (key: string) => number[];
    /** whether the deployment being checked holds the key (its version is only known when it is planned) */
    inDeployment?: (key: string) => boolean;
  },
  check: ExpressionChecker,
): string[] {
  const d = describeElement(el);
  const problems: string[] = [];
  const where = [...known.inFile].sort().join(', ') || 'none';
  const called = calledElementOf(el);
  if (!called) {
    problems.push(`${d} does not say which process it calls: set the called process to the id of a process (calledElement, or <zeebe:calledElement processId="..."/>). Processes in this file: ${where}.`);
  } else if (called.dynamic || !called.processId) {
    problems.push(`${d} chooses the process to call with the expression ${q(called.raw ?? '')}. The process must be named literally so that it can be checked before deployment. Processes in this file: ${where}.`);
  } else if (!known.inFile.has(called.processId) && known.deployed && !known.deployed.has(called.processId)) {
    problems.push(`${d} calls process ${q(called.processId)}, which is neither in this file nor deployed: deploy its file first or in the same deployment, or call a process of this file. Processes in this file: ${where}.`);
  } else {
    const binding = calledElementBindingOf(el);
    if (binding.problem) problems.push(`${d} calls process ${q(called.processId)}, but its version binding cannot be used: ${binding.problem}.`);
    else if (binding.type === 'version' && binding.version !== null && known.versions && !known.inDeployment?.(called.processId) && !known.inFile.has(called.processId)) {
      const versions = known.versions(called.processId);
      if (!versions.includes(binding.version)) {
        problems.push(`Call activity ${el.name ? `"${el.name}" (${el.id})` : el.id} calls process ${q(called.processId)} with the binding "version", which does not resolve: version ${binding.version} of process ${q(called.processId)} is not deployed (deployed versions: ${versions.length ? versions.join(', ') : 'none'}).`);
      }
    } else if (binding.type === 'versionTag') {
      problems.push(`${d} calls process ${q(called.processId)} with the binding "versionTag", but process versions carry no version tag in this engine: use the binding "latest" (the default), "deployment" or "version".`);
    }
  }
  for (const attr of ['variableMappingClass', 'variableMappingDelegateExpression', 'calledElementTenantId', 'caseRef']) {
    const v = camundaAttr(el, attr);
    if (v !== null && v.trim()) {
      problems.push(
        attr === 'caseRef'
          ? `${d} calls a CMMN case (camunda:caseRef), which the engine cannot run: call a BPMN process instead.`
          : `${d} sets camunda:${attr}, which the engine does not support: ${attr.startsWith('variableMapping') ? 'pass variables with camunda:in / camunda:out instead' : 'remove it (there are no tenants)'}.`,
      );
    }
  }
  const zeebeCalled = extensionElementsOf(el, 'zeebe:CalledElement')[0];
  const businessId = zeebeCalled ? (zeebeCalled.businessId ?? zeebeCalled.$attrs?.businessId) : null;
  if (businessId !== null && businessId !== undefined && String(businessId).trim()) {
    problems.push(`${d} sets a business id for the called process (zeebe:calledElement businessId), which the engine does not support: remove it.`);
  }
  for (const [type, label] of [['camunda:In', 'camunda:in'], ['camunda:Out', 'camunda:out']] as const) {
    for (const m of extensionElementsOf(el, type)) {
      const variables = m.variables ?? m.$attrs?.variables;
      const businessKey = m.businessKey ?? m.$attrs?.businessKey;
      if (businessKey !== undefined && businessKey !== null) {
        if (label === 'camunda:out') problems.push(`${d} has a camunda:out with a business key, which only camunda:in can pass: remove it.`);
        else check('business key passed to the called process', String(businessKey));
        continue;
      }
      if (variables !== undefined && variables !== null && String(variables).trim() !== 'all') {
        problems.push(`${d} has a ${label} with variables=${q(String(variables))}: the only value is "all" (every variable).`);
        continue;
      }
      if (variables !== undefined && variables !== null) continue;
      const source = m.source ?? m.$attrs?.source;
      const sourceExpression = m.sourceExpression ?? m.$attrs?.sourceExpression;
      const target = m.target ?? m.$attrs?.target;
      if ((!source && !sourceExpression) || !target) {
        problems.push(`${d} has a ${label} without ${!target ? 'a target' : 'a source'}: write source="..." (or sourceExpression="\${...}") and target="...", or variables="all".`);
        continue;
      }
      if (!NAME.test(String(target))) problems.push(`${d} has a ${label} to ${q(String(target))}, which is not a variable name.`);
      if (source && !NAME.test(String(source))) problems.push(`${d} has a ${label} from ${q(String(source))}, which is not a variable name: use sourceExpression for an expression.`);
      if (sourceExpression) check(`${label} to ${q(String(target))}`, String(sourceExpression));
    }
  }
  return problems;
}
