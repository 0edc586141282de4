/**
 * Deployment checks of a parsed BPMN document against what this engine can run and what is registered.
 * Every problem is reported at once, each with the id of the element to fix and a sentence an analyst
 * understands.
 *
 * Scope: structural checks (element kinds the engine cannot run, unresolved references, misspelt elements or
 * attributes) cover the whole file, because bpmn-engine loads the whole file. Binding, form, expression and timer
 * checks cover executable processes and the processes their call activities call; a non-executable pool that
 * only documents a partner is not checked for handlers.
 *
 * Forms are looked up by the form key exactly as written in the diagram (`camunda:formKey`, else
 * `camunda:formRef`; `zeebe:formDefinition formKey`, else `formId`): a prefix such as `embedded:app:` or
 * `camunda-forms:` is part of the key, so register the schema under that very key.
 *
 * Version bindings (`camunda:decisionRefBinding`, `camunda:formRefBinding`, `camunda:calledElementBinding`,
 * zeebe `bindingType`): a malformed one is a problem; one that names a version, tag or deployment that does not
 * resolve is a problem when the caller gives `checkBinding` (the deployment knows what is deployed and what the
 * bundle holds).
 */
import * as Elements from 'bpmn-elements';
import { parseExpression, evaluate as evaluateFeel } from 'feelin';
import { parseExpression as classifyExpression } from '../engine/expression-syntax.ts';
import { evaluateJuel, juelProblem, juelVariables, type JuelCheckOptions } from '../engine/juel.ts';
import { durationOrDateAt, isDuration, parseCycle, parseDateTime } from '../engine/iso.ts';
import {
  calledElementOf,
  calledElementBindingOf,
  decisionBindingOf,
  formBindingOf,
  UNDESCRIBED_BINDING_ATTRIBUTES,
  type ResourceBinding,
  decisionRefOf,
  extAttr,
  extensionElementsOf,
  handlerBindingOf,
  isExpressionValue,
  messageSubscriptionOf,
  retryCycleProblemOf,
  userTaskSpecOf,
  camundaAttr,
} from './bindings.ts';
import { formReference } from '../engine/form-js.ts';
import { formDataOf } from '../engine/form-data.ts';
import { callActivityProblems, ioMappingProblems, loopProblems } from './validate-data.ts';
import {
  bodyLanguage,
  describeElement,
  moddleWarningProblems,
  problemElementId,
  type Dialect,
  type ModdleWarning,
  type ParsedBpmn,
  type Problem,
} from './parse.ts';
import { eventProblems } from './event-rules.ts';
import { elementRuns, supportProblems } from './support.ts';
import { cyclePeriodProblem } from './limits.ts';
import { DEFAULT_LIMITS } from '../engine/limits.ts';

export type { Problem } from './parse.ts';

export interface ValidationContext {
  /** names of the registered service handlers */
  handlers: Set<string>;
  /** form keys that have a schema */
  forms: Set<string>;
  /** ids of the deployed decisions */
  decisions: Set<string>;
  /**
   * Whether a decision or form binding resolves: null when it does, else why not (a sentence fragment such as
   * 'version 7 of decision "X" is not deployed'). Only called for well-formed bindings of known keys.
   */
  checkBinding?: (kind: 'decision' | 'form', key: string, binding: ResourceBinding) => string | null;
  /**
   * Keys of the processes a call activity may call besides those of the file: deployed ones and those of the same
   * deployment (absent: only the file's own).
   */
  processes?: Set<string>;
  /** the stored versions of a process key, ascending (checks `version` bindings of call activities) */
  processVersions?: (key: string) => number[];
  /** whether this deployment holds a process of that key */
  inDeployment?: (key: string) => boolean;
  /** the shortest period of a timer cycle, ms (default: src/engine/limits.ts) */
  minTimerCycleMs?: number;
}

function bindingLabel(b: ResourceBinding): string {
  if (b.type === 'version') return `binding "version" ${b.version}`;
  if (b.type === 'versionTag') return `binding "versionTag" "${b.versionTag}"`;
  return `binding "${b.type}"`;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* FEEL                                                                                                           */
/* ------------------------------------------------------------------------------------------------------------ */

function withoutStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/**
 * Why a FEEL expression (without its `=` or `${ }`) does not parse, as a phrase; null when it parses. Also
 * catches `==`, which parses but never compares equal in FEEL.
 */
export function feelSyntaxError(expression: string): string | null {
  const body = String(expression ?? '');
  if (!body.trim()) return 'the expression is empty';
  const bare = withoutStrings(body);
  const hints: string[] = [];
  if (/&&|\|\|/.test(bare)) hints.push('FEEL writes "and" and "or" instead of && and ||');
  if (/'/.test(bare)) hints.push('FEEL strings use double quotes');
  if (/(^|[^<>!=])!(?!=)/.test(bare)) hints.push('FEEL writes not(x) instead of !x');
  if (/[A-Za-z_]\w*\.\w+\s*\(/.test(bare)) hints.push('method calls such as a.b(...) (JUEL) do not run here: write the FEEL expression');

  let first: { from: number; to: number } | null = null;
  try {
    const tree = parseExpression(body, {}, undefined);
    tree.iterate({
      enter(node) {
        if (!first && node.type.isError) first = { from: node.from, to: node.to };
        return !first;
      },
    });
  } catch (err: any) {
    return `it could not be parsed (${String(err?.message ?? err)})`;
  }
  const hint = hints.length ? `; ${hints.join('; ')}` : '';
  if (first) {
    const { from, to } = first as { from: number; to: number };
    if (from >= body.trimEnd().length) return `it ends too early${hint}`;
    const snippet = body.slice(from, Math.max(to, from + 1));
    return `unexpected "${snippet}" at character ${from + 1}${hint}`;
  }
  if (/={2,}/.test(bare.replace(/[<>!]=/g, ''))) {
    return 'FEEL compares with a single "=": "==" is never true';
  }
  return methodCall(body) ?? neverEvaluates(body);
}

/**
 * A call on a path (`execution.getVariable("x")`, `amount.compareTo(5)`) parses as FEEL but FEEL has no methods:
 * it evaluates to null, so a gateway would route wrong and an assignee would be empty. JUEL method calls and
 * bean lookups never run here; refuse them with what to write instead.
 */
function methodCall(body: string): string | null {
  let found: string | null = null;
  parseExpression(body, {}, undefined).iterate({
    enter(node) {
      if (found || node.type.name !== 'FunctionInvocation') return !found;
      const callee = node.node.firstChild;
      if (callee?.type.name === 'PathExpression') found = body.slice(callee.from, callee.to);
      return !found;
    },
  });
  if (!found) return null;
  const what = found as string;
  const variable = /^execution\.getVariable$/.test(what) ? ' (for execution.getVariable("x") write the variable name x)' : '';
  return `it calls the method ${what}(...): FEEL has no methods and JUEL method calls or bean lookups do not run here; write the FEEL expression instead${variable}, e.g. amount > 5 for amount.compareTo(5) > 0`;
}

/**
 * Why a FEEL expression that parses fails whatever its variables hold (e.g. `amount >> 1000`, read as a
 * comparison with the unary test `> 1000`), as a phrase; null when it evaluates for some input. Tried with the
 * variables unset, all 1 and all "a": an expression that throws for all three is refused (a missing variable or
 * property only gives null, so a real expression does not throw for them).
 */
function neverEvaluates(body: string): string | null {
  const names = new Set<string>();
  try {
    const tree = parseExpression(body, {}, undefined);
    tree.iterate({ enter(node) { if (node.type.name === 'VariableName') names.add(body.slice(node.from, node.to).trim()); } });
  } catch { return null; }
  let last = '';
  for (const value of [undefined, 1, 'a']) {
    const context = Object.fromEntries([...names].map((n) => [n, value]));
    try {
      evaluateFeel(body, value === undefined ? {} : context);
      return null;
    } catch (err) {
      last = String((err as Error)?.message ?? err);
    }
  }
  return `it cannot be evaluated for any value of its variables (${last})`;
}

/** Why a JUEL body without variables fails when evaluated (e.g. `1 % 0`), null when it evaluates. */
function juelFailure(body: string): string | null {
  try {
    evaluateJuel(body, {});
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* ISO 8601 timer values                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

// durations, dates and cycles are read by src/engine/iso.ts, as the runtime reads them

function looksLikeCron(value: string): boolean {
  const parts = value.trim().split(/\s+/);
  return parts.length >= 5 && parts.length <= 7 && parts.every((p) => /^[\d*?/,LW#A-Z-]+$/i.test(p));
}

/* ------------------------------------------------------------------------------------------------------------ */
/* validation                                                                                                     */
/* ------------------------------------------------------------------------------------------------------------ */

/** Types moddle-context-serializer resolves without bpmn-elements having a behaviour of the same name. */
const SPECIALLY_RESOLVED = new Set(['bpmn:DataObjectReference', 'bpmn:Error', 'bpmn:DataObject', 'bpmn:DataStoreReference']);
const CONTAINERS = new Set(['bpmn:SubProcess', 'bpmn:Transaction', 'bpmn:AdHocSubProcess']);

function isRunnableType(type: string): boolean {
  if (SPECIALLY_RESOLVED.has(type)) return true;
  const local = type.startsWith('bpmn:') ? type.slice(5) : null;
  return local !== null && typeof (Elements as Record<string, unknown>)[local] === 'function';
}

function list(values: Iterable<string>, max = 25): string {
  const sorted = [...values].sort((a, b) => a.localeCompare(b));
  if (sorted.length <= max) return sorted.join(', ');
  return `${sorted.slice(0, max).join(', ')} and ${sorted.length - max} more`;
}

function registered(values: Set<string>, plural: string): string {
  return values.size ? `Registered ${plural}: ${list(values)}.` : `No ${plural} are registered.`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function q(value: string): string {
  return JSON.stringify(value);
}

class Validator {
  readonly problems: Problem[] = [];
  private readonly unresolvedMessageRefs = new Set<unknown>();
  /** expressions in a language that is not evaluated, by element id (parse.ts languageProblems) */
  private readonly languageProblems = new Map<string | null, Problem[]>();
  private readonly processIds: Set<string>;

  constructor(
    private readonly parsed: ParsedBpmn,
    private readonly ctx: ValidationContext,
  ) {
    const warnings: ModdleWarning[] = parsed.moddleContext?.warnings ?? [];
    for (const w of warnings) {
      if (w.property === 'bpmn:messageRef' && String(w.message).startsWith('unresolved reference')) {
        this.unresolvedMessageRefs.add(w.element);
      }
    }
    this.processIds = new Set(parsed.processes.map((p) => p.id));
  }

  private get dialect(): Dialect {
    return this.parsed.dialect;
  }

  private add(el: any, message: string): void {
    this.problems.push({ element: problemElementId(el), message });
  }

  run(): Problem[] {
    const root = this.parsed.moddleContext?.rootElement;
    const rootElements: any[] = root?.rootElements ?? [];

    const warnings: ModdleWarning[] = this.parsed.moddleContext?.warnings ?? [];
    const described = (warnings.length ? { ...this.parsed, moddleContext: { ...this.parsed.moddleContext, warnings: warnings.filter((w) => !(String(w.message ?? '').startsWith('unknown attribute') && UNDESCRIBED_BINDING_ATTRIBUTES.has(String(w.property ?? /<([^>]+)>/.exec(String(w.message))?.[1] ?? '')))) } } : this.parsed);
    for (const p of moddleWarningProblems(described)) this.problems.push(p);

    if (!this.parsed.processes.some((p) => p.isExecutable)) {
      const ids = this.parsed.processes.map((p) => p.id);
      this.problems.push({
        element: typeof root?.id === 'string' ? root.id : null,
        message: ids.length
          ? `The diagram has no executable process: mark the process that should run as executable ` +
            `(isExecutable="true"; "Executable" in the modeler). Processes in the file: ${list(ids)}.`
          : 'The diagram contains no process at all.',
      });
    }

    for (const el of rootElements) {
      const type: string = el?.$type ?? '';
      if (type === 'bpmn:Process' || type === 'bpmn:Collaboration') continue;
      if (!isRunnableType(type) && !elementRuns(type)) this.unsupported(el);
    }

    const processes = rootElements.filter((e) => e?.$type === 'bpmn:Process');
    const checked = this.processesToCheck(processes);
    // XPath and unknown expression languages (parse.ts bodyLanguage), in the processes that run: reported in the
    // walk at their element, those the walk does not reach after it
    for (const { processId, ...p } of this.parsed.languageProblems ?? []) {
      if (processId !== null && !checked.has(processId)) continue;
      this.languageProblems.set(p.element, [...(this.languageProblems.get(p.element) ?? []), p]);
    }
    for (const p of processes) {
      for (const m of supportProblems(p)) this.add(p, m);
      this.walk(p, checked.has(p.id));
    }
    for (const rest of this.languageProblems.values()) this.problems.push(...rest);

    return this.problems;
  }

  /** Executable processes, plus those their call activities call (transitively). */
  private processesToCheck(processes: any[]): Set<string> {
    const byId = new Map<string, any>(processes.map((p) => [p.id, p]));
    const result = new Set<string>();
    const queue = processes.filter((p) => p.isExecutable === true).map((p) => p.id as string);
    while (queue.length) {
      const id = queue.pop()!;
      if (result.has(id)) continue;
      result.add(id);
      const visit = (container: any) => {
        for (const el of container?.flowElements ?? []) {
          if (el.$type === 'bpmn:CallActivity') {
            const called = calledElementOf(el);
            if (called?.processId && byId.has(called.processId)) queue.push(called.processId);
          }
          if (CONTAINERS.has(el.$type)) visit(el);
        }
      };
      visit(byId.get(id));
    }
    return result;
  }

  private unsupported(el: any): void {
    this.add(el, `${describeElement(el)} is a kind of element the engine cannot run (${el.$type}); remove it or replace it.`);
  }

  private walk(container: any, check: boolean): void {
    const elements: any[] = container.flowElements ?? [];
    const outgoing = new Map<string, any[]>();
    const incoming = new Map<string, any[]>();
    for (const f of elements) {
      if (f.$type !== 'bpmn:SequenceFlow') continue;
      if (f.sourceRef?.id) outgoing.set(f.sourceRef.id, [...(outgoing.get(f.sourceRef.id) ?? []), f]);
      if (f.targetRef?.id) incoming.set(f.targetRef.id, [...(incoming.get(f.targetRef.id) ?? []), f]);
    }

    for (const el of elements) {
      // the support table (support.ts) decides which element kinds, events and extensions run
      const before = this.problems.length;
      if (check && this.languageProblems.has(el.id)) {
        this.problems.push(...this.languageProblems.get(el.id)!);
        this.languageProblems.delete(el.id);
      }
      if (check) this.checkElement(el, outgoing.get(el.id) ?? [], incoming.get(el.id) ?? []);
      const id = problemElementId(el);
      if (!this.problems.slice(before).some((p) => p.element === id)) for (const m of supportProblems(el)) this.add(el, m);
      if (CONTAINERS.has(el.$type) && elementRuns(el.$type)) this.walk(el, check);
    }
    for (const a of container.artifacts ?? []) {
      if (!elementRuns(a.$type)) for (const m of supportProblems(a)) this.add(a, m);
    }
  }

  private checkElement(el: any, outgoing: any[], incoming: any[]): void {
    switch (el.$type) {
      case 'bpmn:ServiceTask':
      case 'bpmn:SendTask':
        this.checkHandler(el);
        break;
      case 'bpmn:BusinessRuleTask':
        this.checkBusinessRule(el);
        break;
      case 'bpmn:UserTask':
        this.checkUserTask(el);
        break;
      case 'bpmn:StartEvent':
        this.checkForm(el);
        break;
      case 'bpmn:ScriptTask':
        this.checkScriptTask(el);
        break;
      case 'bpmn:ExclusiveGateway':
        this.checkGatewayConditions(el, outgoing);
        break;
      case 'bpmn:InclusiveGateway':
        // a converging inclusive gateway waits for every token that can still arrive (src/engine/runtime/joins.ts)
        this.checkGatewayConditions(el, outgoing);
        break;
      case 'bpmn:SequenceFlow':
        if (el.conditionExpression) this.checkCondition(el, el.conditionExpression, 'condition');
        break;
      case 'bpmn:CallActivity':
        this.checkCallActivity(el);
        break;
      case 'bpmn:ReceiveTask':
        this.checkMessage(el, el.messageRef, el);
        break;
    }

    const eventDefinitions: any[] = Array.isArray(el.eventDefinitions) ? el.eventDefinitions : [];
    const catching = ['bpmn:StartEvent', 'bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent'].includes(el.$type);
    for (const ed of eventDefinitions) {
      switch (ed?.$type) {
        case 'bpmn:TimerEventDefinition':
          this.checkTimer(el, ed);
          break;
        case 'bpmn:MessageEventDefinition':
          if (catching) this.checkMessage(el, ed.messageRef, ed);
          break;
        case 'bpmn:ConditionalEventDefinition':
          if (ed.condition) this.checkCondition(el, ed.condition, 'event condition');
          else this.add(el, `${describeElement(el)} is a conditional event without a condition: write one in FEEL (for example =amount > 1000).`);
          break;
      }
    }

    this.checkLoop(el);
    this.checkDataAssociations(el);
    this.checkIoMappings(el);
    for (const message of eventProblems(el)) this.add(el, message);
    const retryProblem = retryCycleProblemOf(el);
    if (retryProblem) this.add(el, `${describeElement(el)} has a retry time cycle (camunda:failedJobRetryTimeCycle) that cannot be used: ${retryProblem}.`);
  }

  /* -- expressions -------------------------------------------------------------------------------------------- */

  /**
   * Checks `raw` with the parser the runtime uses (src/engine/expression-syntax.ts): a literal is left alone, FEEL
   * (`=x`) must parse, JUEL (`${x}`, `#{x}`) must be the subset src/engine/juel.ts runs (`checkJuel`), and a form
   * the runtime would not evaluate as its author means it (a template such as `${a} and ${b}`,
   * `${environment.variables.x}`, an unclosed `${`, a service reference) is refused with
   * what to write instead. `condition`: suggest a boolean expression rather than a text.
   */
  private checkExpression(el: any, what: string, raw: unknown, condition = false): void {
    if (typeof raw !== 'string' || !raw.trim()) return;
    const d = describeElement(el);
    const e = classifyExpression(raw);
    switch (e.kind) {
      case 'literal':
        return;
      case 'service':
        this.add(
          el,
          `${d}: the ${what} ${q(raw.trim())} refers to the service "${e.name}", which only a task's implementation ` +
            `can do: write a FEEL expression (e.g. =${e.name}) or a plain value.`,
        );
        return;
      case 'unsupported': {
        const instead = condition ? e.conditionSuggestion : e.suggestion;
        this.add(
          el,
          `${d}: the ${what} ${q(raw.trim())} cannot be evaluated: ${e.problem}. ` +
            (instead ? `Write one FEEL expression instead: ${instead}` : 'Write one expression (FEEL =... or JUEL ${...}) or a plain value instead') +
            '.',
        );
        return;
      }
      case 'feel': {
        const error = feelSyntaxError(e.body);
        if (error) this.add(el, `${d}: the expression ${q(raw)} (${what}) is not valid FEEL: ${error}.`);
        return;
      }
      case 'juel':
        this.checkJuel(el, what, raw, e.body);
    }
  }

  /**
   * A Camunda 7 `${...}` / `#{...}` body must be JUEL that src/engine/juel.ts runs (the parser the runtime uses):
   * refused when it does not parse, calls a method or function, or reads the engine's beans, naming the element
   * and saying what to write instead (the FEEL `=` form when the body is valid FEEL, or the translated form).
   */
  private checkJuel(el: any, what: string, raw: string, body: string): void {
    // a call activity hands its own business key to the called process as execution.processBusinessKey
    const options: JuelCheckOptions = what.startsWith('business key') ? { execution: ['processBusinessKey'] } : {};
    const found = juelProblem(body, options);
    if (!found) return;
    const feel = found.feel ?? (feelSyntaxError(body) === null ? `=${body}` : null);
    const instead = [feel && `${feel} (FEEL)`, found.juel && `${found.juel} (JUEL)`].filter(Boolean).join(' or ');
    const d = describeElement(el);
    this.add(
      el,
      found.syntax
        ? `${d}: the expression ${q(raw.trim())} (${what}) is not valid JUEL: ${found.problem}.${instead ? ` Write ${instead} instead.` : ' Write the JUEL expression (e.g. ${amount > 1000 && risk == \'high\'}) or the FEEL one with a leading = (e.g. =amount > 1000 and risk = "high").'}`
        : `${d}: the expression ${q(raw.trim())} (${what}) cannot run: ${found.problem}.${instead ? ` Write ${instead} instead.` : ''}`,
    );
  }

  private checkCondition(el: any, expr: any, what: string): void {
    const body: string = typeof expr.body === 'string' ? expr.body : '';
    const d = describeElement(el);
    // a language the engine does not evaluate is reported from parse.ts (languageProblems), naming the element
    if (typeof bodyLanguage(expr, this.parsed.moddleContext?.rootElement) === 'object') return;
    if (!body.trim()) {
      this.add(el, `${d} has an empty ${what}: write it in FEEL (for example =amount > 1000), or remove it.`);
      return;
    }
    const e = classifyExpression(body);
    if (e.kind === 'literal') {
      this.add(
        el,
        `${d} has the ${what} ${q(body.trim())}, which is plain text rather than an expression, so it would always ` +
          `count as true: write it as =${body.trim()} (or \${${body.trim()}}).`,
      );
      return;
    }
    if (e.kind === 'service') {
      this.add(el, `${d} has ${article(what)} ${what} that refers to the service "${e.name}"; it must be a FEEL expression.`);
      return;
    }
    this.checkExpression(el, what, body, true);
  }

  private checkGatewayConditions(gateway: any, outgoing: any[]): void {
    if (outgoing.length < 2) return;
    const defaultId = gateway.default?.id;
    for (const flow of outgoing) {
      if (flow.id === defaultId || flow.conditionExpression) continue;
      this.add(
        flow,
        `${describeElement(flow)} leaves ${lowerFirst(describeElement(gateway))} without a condition and is not the gateway's ` +
          'default flow: add a condition (e.g. =amount > 1000) or make it the default flow.',
      );
    }
  }

  /* -- tasks ---------------------------------------------------------------------------------------------------- */

  private howToBind(): string {
    switch (this.dialect) {
      case 'camunda':
        return 'set its implementation to "External" with a topic that names a registered handler (camunda:type="external" camunda:topic="...")';
      case 'zeebe':
        return 'set its job type to the name of a registered handler (<zeebe:taskDefinition type="..."/>)';
      default:
        return 'set implementation="${environment.services.<handler>}" to the name of a registered handler';
    }
  }

  private checkHandler(el: any): void {
    const d = describeElement(el);
    const handlers = registered(this.ctx.handlers, 'handlers');
    const binding = handlerBindingOf(el);
    if (!binding) {
      this.add(el, `${d} is not bound to any handler, so the engine would not know what to call: ${this.howToBind()}. ${handlers}`);
      return;
    }
    switch (binding.kind) {
      case 'java-class':
        this.add(
          el,
          `${d} calls the Java class ${q(binding.raw ?? '')} (camunda:class). Java delegates cannot run in this ` +
            `engine: ${this.howToBind()}. ${handlers}`,
        );
        return;
      case 'java-expression':
        this.add(
          el,
          `${d} calls the Java expression ${q(binding.raw ?? '')} (camunda:expression). Java expressions cannot run ` +
            `in this engine: ${this.howToBind()}. ${handlers}`,
        );
        return;
      case 'connector':
        this.add(el, `${d} uses the Camunda connector ${q(binding.raw ?? '')}, which this engine does not support: ${this.howToBind()}. ${handlers}`);
        return;
      case 'dynamic':
        this.add(
          el,
          `${d} computes the handler to call with the expression ${q(binding.raw ?? '')}. The handler must be named ` +
            `literally so that it can be checked before deployment. ${handlers}`,
        );
        return;
    }
    if (!binding.name) {
      this.add(el, `${d} has an empty handler name: ${this.howToBind()}. ${handlers}`);
      return;
    }
    if (!this.ctx.handlers.has(binding.name)) {
      // a topic or job type no handler serves is an external task: a worker does it (deploy warns, src/engine/external-tasks.ts)
      if (binding.kind === 'external-topic' || binding.kind === 'zeebe-job') return;
      this.add(el, `${d} calls handler ${q(binding.name)}, which is not registered. ${handlers}`);
    }
  }

  private checkBusinessRule(el: any): void {
    const d = describeElement(el);
    const decision = decisionRefOf(el);
    const decisions = this.ctx.decisions.size
      ? `Deployed decisions: ${list(this.ctx.decisions)}.`
      : 'No decisions are deployed.';
    if (decision) {
      if (isExpressionValue(decision.decisionId)) {
        this.add(
          el,
          `${d} chooses its decision with the expression ${q(decision.decisionId)}. The decision must be named ` +
            `literally so that it can be checked before deployment. ${decisions}`,
        );
      } else if (!this.ctx.decisions.has(decision.decisionId)) {
        this.add(el, `${d} evaluates decision ${q(decision.decisionId)}, which is not deployed. ${decisions}`);
      } else {
        this.checkResourceBinding(el, 'decision', decision.decisionId, decisionBindingOf(el));
      }
      return;
    }
    if (!handlerBindingOf(el)) {
      const how =
        this.dialect === 'zeebe'
          ? 'choose the decision it evaluates (<zeebe:calledDecision decisionId="..." resultVariable="..."/>)'
          : 'choose the decision it evaluates (camunda:decisionRef, with camunda:resultVariable)';
      this.add(
        el,
        `${d} is bound neither to a decision nor to a handler: ${how}, or bind it to a handler. ${decisions} ` +
          registered(this.ctx.handlers, 'handlers'),
      );
      return;
    }
    this.checkHandler(el);
  }

  private checkScriptTask(el: any): void {
    const zeebeScript = extensionElementsOf(el, 'zeebe:Script')[0];
    const format: string | null =
      typeof el.scriptFormat === 'string' && el.scriptFormat.trim() ? el.scriptFormat.trim() : zeebeScript ? 'FEEL' : null;
    this.add(
      el,
      `${describeElement(el)} runs ${format ? `a ${format}` : 'a'} script. Diagrams never run code: move this ` +
        'logic into a registered handler (a service task) or a decision (a business rule task).',
    );
  }

  private checkForm(el: any): void {
    const { formKey } = userTaskSpecOf(el);
    if (!formKey) return;
    const d = describeElement(el);
    const forms = registered(this.ctx.forms, 'forms');
    if (isExpressionValue(formKey)) {
      this.add(el, `${d} chooses its form with the expression ${q(formKey)}. The form must be named literally so that it can be checked before deployment. ${forms}`);
    } else if (formReference(formKey).kind === 'deploymentFile') {
      // camunda-forms:deployment:<file>.form: the deployment resolves the file among the resources it holds
      this.checkResourceBinding(el, 'form', formKey, formBindingOf(el));
    } else if (!this.ctx.forms.has(formKey)) {
      // a form outside the deployment (app:, embedded:app:, camunda-forms:app:, a URL) is the client's: accepted
      if (formReference(formKey).kind !== 'external') this.add(el, `${d} uses form ${q(formKey)}, but no form schema is registered under that key. ${forms}`);
    } else {
      this.checkResourceBinding(el, 'form', formKey, formBindingOf(el));
    }
  }

  /** A version binding: well-formed, and (when the deployment can tell) resolvable. */
  private checkResourceBinding(el: any, kind: 'decision' | 'form', key: string, binding: ResourceBinding): void {
    const d = describeElement(el);
    const what = kind === 'decision' ? `evaluates decision ${q(key)}` : `uses form ${q(key)}`;
    if (binding.problem) {
      this.add(el, `${d} ${what}, but its version binding cannot be used: ${binding.problem}.`);
      return;
    }
    const why = this.ctx.checkBinding?.(kind, key, binding) ?? null;
    if (why) this.add(el, `${d} ${what} with ${bindingLabel(binding)}, which does not resolve: ${why}.`);
  }

  private checkUserTask(el: any): void {
    this.checkForm(el);
    for (const p of formDataOf(el).problems) this.add(el, `${describeElement(el)}: camunda:formData: ${p}.`);
    const spec = userTaskSpecOf(el);
    this.checkExpression(el, 'assignee', spec.assignee);
    this.checkExpression(el, 'candidate users', spec.candidateUsers);
    this.checkExpression(el, 'candidate groups', spec.candidateGroups);
    this.checkExpression(el, 'due date', spec.dueDate);
    if (spec.dueDate && !isExpressionValue(spec.dueDate) && durationOrDateAt(spec.dueDate, 0) === null) {
      this.add(
        el,
        `${describeElement(el)} has the due date ${q(spec.dueDate)}, which is neither an ISO 8601 duration from the ` +
          'task\'s creation (e.g. P3D, PT4H) nor an ISO 8601 date (e.g. 2030-01-31 or 2030-01-31T09:00:00Z; no offset = UTC).',
      );
    }
    this.checkExpression(el, 'follow-up date', spec.followUpDate);
    if (typeof spec.priority === 'string') {
      if (isExpressionValue(spec.priority)) this.checkExpression(el, 'priority', spec.priority);
      else this.add(el, `${describeElement(el)} has the priority ${q(spec.priority)}, which is not a whole number.`);
    }
  }

  private checkCallActivity(el: any): void {
    const known = { inFile: this.processIds, deployed: this.ctx.processes ?? new Set<string>(), versions: this.ctx.processVersions, inDeployment: this.ctx.inDeployment };
    for (const p of callActivityProblems(el, known, (what, raw) => this.checkExpression(el, what, raw))) this.add(el, p);
  }

  /* -- events --------------------------------------------------------------------------------------------------- */

  private checkMessage(el: any, messageRef: any, holder: any): void {
    const d = describeElement(el);
    if (!messageRef) {
      if (!this.unresolvedMessageRefs.has(holder)) {
        this.add(el, `${d} waits for a message but does not say which one: choose the message it waits for.`);
      }
      return;
    }
    const sub = messageSubscriptionOf(messageRef);
    if (!sub?.messageName) {
      this.add(
        el,
        `${d} waits for message ${messageRef.id ?? ''}, which has no name: give the message a name so that ` +
          'incoming messages can be matched to it.',
      );
      return;
    }
    this.checkExpression(el, 'message name', sub.messageName);
    // the runtime evaluates a correlation key as FEEL even when written without "=" (as Camunda 8 does): check it so
    const key = sub.correlationKey;
    this.checkExpression(el, 'correlation key', key && !isExpressionValue(key) ? `=${key}` : key);
  }

  private checkTimer(el: any, ed: any): void {
    const d = describeElement(el);
    if (el.$type === 'bpmn:StartEvent' && el.$parent?.triggeredByEvent) {
      // timer event sub-processes are armed by the runtime (src/engine/runtime.ts), only directly in a process
      const scope = el.$parent;
      if (scope.$parent?.$type !== 'bpmn:Process') {
        this.add(
          el,
          `${d} starts an event sub-process with a timer inside ${describeElement(scope.$parent)}. Timer event ` +
            'sub-processes are only supported directly in a process: move it to the process level, or use a timer ' +
            'boundary event on the sub-process (cancelActivity="false" for a reminder).',
        );
        return;
      }
      const starts = (Array.isArray(scope.flowElements) ? scope.flowElements : []).filter((f: any) => f.$type === 'bpmn:StartEvent');
      if (starts.length > 1) {
        this.add(el, `${d} starts an event sub-process with a timer, but ${describeElement(scope)} has ${starts.length} start events: a timer event sub-process must have exactly one.`);
        return;
      }
    }
    const kinds = (['timeDuration', 'timeDate', 'timeCycle'] as const).filter((k) => ed[k]);
    if (!kinds.length) {
      this.add(el, `${d} is a timer without a time: set a duration (e.g. PT15M), a date (e.g. 2030-01-31T09:00:00Z) or a cycle (e.g. R3/PT1H).`);
      return;
    }
    for (const kind of kinds) {
      const raw: string = typeof ed[kind]?.body === 'string' ? ed[kind].body : '';
      const label = kind === 'timeDuration' ? 'timer duration' : kind === 'timeDate' ? 'timer date' : 'timer cycle';
      if (!raw.trim()) {
        this.add(el, `${d} has an empty ${label}.`);
        continue;
      }
      if (isExpressionValue(raw)) {
        this.checkExpression(el, label, raw); // FEEL must parse; a template or other form is refused there
        const e = classifyExpression(raw);
        if (e.kind === 'juel' && el.$type === 'bpmn:StartEvent' && !el.$parent?.triggeredByEvent && !juelProblem(e.body)) {
          // evaluated when the process is deployed, before any instance (and any variable) exists
          const read = juelVariables(e.body);
          const fails = read.length ? null : juelFailure(e.body);
          if (read.length) {
            this.add(el, `${d} has the ${label} ${q(raw.trim())}, which reads the variable ${read[0]}: a timer start event is armed when the process is deployed, when no variable is set; write the time itself (e.g. PT1H).`);
          } else if (fails) {
            this.add(el, `${d} has the ${label} ${q(raw.trim())}, which cannot be evaluated: ${fails}; write the time itself (e.g. PT1H).`);
          }
        }
        continue;
      }
      const value = raw;
      const spaces = value !== value.trim() ? ' Remove the spaces or line breaks around it.' : '';
      if (looksLikeCron(value.trim())) {
        this.add(
          el,
          `${d} uses the cron expression ${q(value.trim())} as its ${label}. Cron is not supported: write an ISO 8601 ` +
            'cycle instead, e.g. R/P1D for every day, or R/2030-01-01T08:00:00Z/P1D for every day at 08:00 UTC.',
        );
        continue;
      }
      // spaces around the value: bpmn-engine reads it as written, so they are refused even though iso.ts trims
      if (kind === 'timeDuration') {
        if (spaces || !isDuration(value)) {
          this.add(el, `${d} has the ${label} ${q(value)}, which is not an ISO 8601 duration (e.g. PT15M, PT2H, P3D).${spaces}`);
        }
      } else if (kind === 'timeDate') {
        // a date-time without an offset is read as UTC (documented), never as the server's local time
        if (spaces || parseDateTime(value) === null) {
          this.add(el, `${d} has the ${label} ${q(value)}, which is not an ISO 8601 date and time (e.g. 2030-01-31T09:00:00Z).${spaces}`);
        }
      } else {
        if (spaces || !parseCycle(value)) {
          this.add(
            el,
            `${d} has the ${label} ${q(value)}, which is not an ISO 8601 repeating interval: write R<count>/<duration> ` +
              '(e.g. R3/PT1H; R/PT1H repeats forever) or R<count>/<start>/<duration> (e.g. R/2030-01-01T08:00:00Z/P1D).' +
              spaces,
          );
        } else {
          const tooOften = cyclePeriodProblem(value, this.ctx.minTimerCycleMs ?? DEFAULT_LIMITS.minTimerCycleMs);
          if (tooOften) this.add(el, `${d} has the ${label} ${q(value)}: ${tooOften}.`);
        }
      }
    }
  }

  /* -- other expressions ---------------------------------------------------------------------------------------- */

  private checkLoop(el: any): void {
    const loop = el.loopCharacteristics;
    if (!loop) return;
    if (loop.$type === 'bpmn:MultiInstanceLoopCharacteristics') {
      for (const p of loopProblems(el, this.dialect, (what, raw) => this.checkExpression(el, what, raw))) this.add(el, p);
    } else if (loop.$type === 'bpmn:StandardLoopCharacteristics') {
      this.checkExpression(el, 'loop condition', loop.loopCondition?.body);
    }
  }

  /**
   * Data input/output associations are documentation (support table) while they only connect data objects and
   * stores; one that maps values (an assignment or a transformation) would be ignored, so it is refused.
   */
  private checkDataAssociations(el: any): void {
    for (const a of [...(el.dataInputAssociations ?? []), ...(el.dataOutputAssociations ?? [])]) {
      if (!(Array.isArray(a?.assignment) && a.assignment.length) && !a?.transformation) continue;
      const how = this.dialect === 'zeebe' ? 'input and output mappings (zeebe:ioMapping)' : 'input and output parameters (camunda:inputOutput)';
      this.add(
        el,
        `${describeElement(el)} maps data with the ${a.$type === 'bpmn:DataInputAssociation' ? 'data input' : 'data output'} association ` +
          `${a.id ?? ''} (${a.transformation ? 'a transformation' : 'an assignment'}), which the engine does not evaluate: write the mapping as ${how}.`,
      );
    }
  }

  private checkIoMappings(el: any): void {
    for (const p of ioMappingProblems(el, this.dialect, (what, raw) => this.checkExpression(el, what, raw))) this.add(el, p);
  }
}

/**
 * Every problem of a parsed document at once (empty when it can be deployed). See the module comment for the
 * scope; the rules: an executable process exists; service/send tasks call a registered handler (Camunda 7 Java
 * bindings refused); business-rule tasks evaluate a deployed decision or call a handler; forms of user tasks and
 * start events have a schema; every FEEL expression parses and every JUEL one is the subset src/engine/juel.ts
 * runs; no script tasks and no non-FEEL condition languages;
 * ISO 8601 timers (no cron, dates with a time zone); conditions on every
 * non-default flow out of an exclusive/inclusive gateway that splits; call activities call a process of the same
 * file; awaited messages have a name; every element kind is one bpmn-engine can run.
 */
export function validateBpmn(parsed: ParsedBpmn, ctx: ValidationContext): Problem[] {
  return new Validator(parsed, ctx).run();
}
