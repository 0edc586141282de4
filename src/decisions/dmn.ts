/**
 * DMN 1.3 decisions: parse a DMN file into plain, serializable decision tables (validated up front, every
 * problem reported at once) and evaluate them with FEEL (feelin). Decision tables and literal-expression
 * decisions are supported; a decision's required decisions (information requirements) are evaluated first
 * and their results put into the context under their variable names.
 *
 * Two ways to hold decisions:
 * - DecisionVersions: what the engine uses. One entry per deployed (decision key, version), immutable, holding
 *   the decisions of the DMN resource it came from (required decisions are taken from that same resource
 *   version, never from a newer deployment). Adding an entry that is already there is a no-op.
 * - DecisionRegistry: an unversioned map by decision id for embedding and tests; refuses an id it has.
 */
import { evaluate, unaryTest } from 'feelin';
// dmn-moddle ships no type declarations; the small surface used here is typed by ModdleLike below.
// Its only export is the named factory `DmnModdle` (there is no default export).
// @ts-ignore -- untyped module
import { DmnModdle as createDmnModdle } from 'dmn-moddle';
import { InsureflowError } from '../errors.ts';
import type { DecisionCall, DecisionEvaluator, DecisionOutcome } from '../engine/runtime.ts';

// ---------------------------------------------------------------------------------------------------------
// Public types

export type HitPolicy = 'UNIQUE' | 'FIRST' | 'PRIORITY' | 'ANY' | 'COLLECT' | 'RULE ORDER' | 'OUTPUT ORDER';
export type Aggregation = 'SUM' | 'MIN' | 'MAX' | 'COUNT';
/** A literal value listed in an output's "output values" (its allowed values, in priority order). */
export type OutputValue = string | number | boolean | null;

export interface DecisionInput {
  id: string;
  label: string;
  /** FEEL expression evaluated against the context, e.g. `claimedAmount` */
  expression: string;
  typeRef: string | null;
}

export interface DecisionOutput {
  id: string;
  /** key of this output in multi-output results */
  name: string;
  label: string;
  typeRef: string | null;
  /** allowed values in decreasing priority (used by PRIORITY and OUTPUT ORDER) */
  outputValues?: OutputValue[];
}

export interface DecisionRule {
  id: string;
  /** FEEL unary tests, one per input ('-' or '' matches anything) */
  inputEntries: string[];
  /** FEEL expressions, one per output ('' yields null) */
  outputEntries: string[];
  description?: string;
}

export interface DecisionTable {
  /** the decision's id (what a business rule task references) */
  id: string;
  name: string;
  /** a literal-expression decision is stored as a one-rule table without inputs */
  kind: 'decisionTable' | 'literalExpression';
  hitPolicy: HitPolicy;
  aggregation?: Aggregation;
  inputs: DecisionInput[];
  outputs: DecisionOutput[];
  rules: DecisionRule[];
  /** name under which this decision's result is visible to decisions that require it */
  variableName: string;
  /** ids of decisions whose results this decision reads (evaluated first) */
  requiredDecisions?: string[];
  resourceName?: string;
  /**
   * The version tag of the decision (`camunda:versionTag="..."` in Camunda 7, `<zeebe:versionTag value="..."/>`
   * in Camunda 8), used by the `versionTag` binding of business rule tasks.
   */
  versionTag?: string;
}

export interface DecisionResult {
  decisionId: string;
  /**
   * Single-output tables give the output value, multi-output tables an object keyed by output name.
   * UNIQUE/FIRST/PRIORITY/ANY: one such value or null. COLLECT/RULE ORDER/OUTPUT ORDER: a list.
   * COLLECT with COUNT: the number of matching rules; with SUM/MIN/MAX: a number (null when nothing matched).
   */
  result: unknown;
  /** ids of the rules whose outputs make up the result, in result order (required decisions' rules first) */
  matchedRules: string[];
  /** FEEL warnings (missing variables...) and input type mismatches, for the audit trail */
  warnings: string[];
}

/**
 * What an evaluation looked at and produced, for the audit trail (filled when passed to evaluateDecision):
 * the value of every input column, and the outputs of every matched rule (by output name), in result order.
 */
export interface DecisionTrace {
  inputs: { id: string; label: string; value: unknown }[];
  outputs: { ruleId: string; values: Record<string, unknown> }[];
}

export interface DmnProblem {
  /** id of the element at fault (decision, input, output or rule id), or the resource name */
  element: string;
  message: string;
}

/** The DMN file cannot be deployed; `problems` lists everything found, not just the first. */
export class DmnInvalidError extends InsureflowError {
  readonly problems: DmnProblem[];
  constructor(problems: DmnProblem[], resourceName?: string) {
    const what = resourceName ? `DMN resource "${resourceName}"` : 'DMN resource';
    const list = problems.map((p) => `[${p.element}] ${p.message}`).join('; ');
    super('DMN_INVALID', `${what} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${list}`, {
      problems,
    });
    this.name = 'DmnInvalidError';
    this.problems = problems;
  }
}

export type DecisionErrorCode = 'DMN_UNIQUE_CONFLICT' | 'DMN_ANY_CONFLICT' | 'DMN_EVALUATION_FAILED' | 'DMN_CYCLE';

/** A decision could not produce a result at run time (conflicting rules, a FEEL error...). */
export class DecisionError extends Error {
  readonly code: DecisionErrorCode;
  readonly statusCode = 422;
  readonly decisionId: string;
  readonly ruleIds: string[];
  constructor(code: DecisionErrorCode, decisionId: string, message: string, ruleIds: string[] = []) {
    super(message);
    this.name = 'DecisionError';
    this.code = code;
    this.decisionId = decisionId;
    this.ruleIds = ruleIds;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

const HIT_POLICIES: HitPolicy[] = ['UNIQUE', 'FIRST', 'PRIORITY', 'ANY', 'COLLECT', 'RULE ORDER', 'OUTPUT ORDER'];
const AGGREGATIONS: Aggregation[] = ['SUM', 'MIN', 'MAX', 'COUNT'];
const DMN13_NS = 'https://www.omg.org/spec/DMN/20191111/MODEL/';
const OLD_DMN_NS: Record<string, string> = {
  'http://www.omg.org/spec/DMN/20151101/dmn.xsd': '1.1',
  'http://www.omg.org/spec/DMN/20180521/MODEL/': '1.2',
};

interface ModdleElement {
  $type: string;
  id?: string;
  name?: string;
  label?: string;
  text?: string;
  typeRef?: string;
  [key: string]: any;
}
interface ModdleLike {
  fromXML(xml: string): Promise<{ rootElement: ModdleElement; warnings: Error[] }>;
}

let moddle: ModdleLike | null = null;
const getModdle = (): ModdleLike => (moddle ??= (createDmnModdle as () => ModdleLike)());

/**
 * Parse and validate a DMN 1.3 file. Throws DmnInvalidError listing every problem found (not well-formed,
 * not DMN 1.3, a decision without logic, invalid FEEL, unsupported hit policy...). DOCTYPE/ENTITY declarations
 * are refused outright.
 */
export async function parseDmn(xml: string, resourceName?: string): Promise<DecisionTable[]> {
  const fileElement = resourceName ?? 'definitions';
  if (typeof xml !== 'string' || xml.trim() === '') {
    throw new DmnInvalidError([{ element: fileElement, message: 'The file is empty.' }], resourceName);
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new DmnInvalidError(
      [{ element: fileElement, message: 'The file contains a DOCTYPE or ENTITY declaration, which is refused for security reasons; remove it.' }],
      resourceName,
    );
  }

  let root: ModdleElement;
  let warnings: Error[];
  try {
    ({ rootElement: root, warnings } = await getModdle().fromXML(xml));
  } catch (err) {
    throw new DmnInvalidError([{ element: fileElement, message: unreadableMessage(xml, err) }], resourceName);
  }

  const problems: DmnProblem[] = [];
  for (const w of warnings ?? []) problems.push(describeWarning(w, fileElement));

  const decisions = (root.drgElement ?? []).filter((e: ModdleElement) => e.$type === 'dmn:Decision') as ModdleElement[];
  if (decisions.length === 0) problems.push({ element: fileElement, message: 'The file contains no decision.' });

  const tables: DecisionTable[] = [];
  decisions.forEach((decision, index) => {
    const table = readDecision(decision, index, problems);
    if (table) {
      if (resourceName) table.resourceName = resourceName;
      tables.push(table);
    }
  });

  if (problems.length) throw new DmnInvalidError(problems, resourceName);
  return tables;
}

function unreadableMessage(xml: string, err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  if (/failed to parse document as/.test(text)) {
    const ns = /<(?:\w+:)?definitions\b[^>]*\bxmlns(?::\w+)?="([^"]+)"/.exec(xml)?.[1];
    if (ns && OLD_DMN_NS[ns]) {
      return `The file is written in DMN ${OLD_DMN_NS[ns]}; only DMN 1.3 (namespace ${DMN13_NS}) is supported. Save it as DMN 1.3 in the modeler.`;
    }
    return `The file is not a DMN 1.3 document: expected a <definitions> root element in the namespace ${DMN13_NS}.`;
  }
  return `The file is not well-formed XML: ${describeXmlError(err)}.`;
}

/** A moddle-xml import warning: content it would silently drop (unknown element or attribute, duplicate id). */
function describeWarning(w: Error & { element?: ModdleElement; property?: string; error?: Error }, fileElement: string): DmnProblem {
  const text = String(w.message ?? w);
  const nested = String(w.error?.message ?? /nested error: ([^\n]*)/.exec(text)?.[1] ?? '');
  const position = /line: (\d+)\s*\n\s*column: (\d+)/.exec(text);
  const at = position ? ` (line ${Number(position[1]) + 1}, column ${Number(position[2]) + 1})` : '';
  const tag = /^unparsable content (<[^>]*>)/.exec(text)?.[1] ?? 'an element';
  const duplicate = /duplicate ID <([^>]+)>/.exec(nested);
  if (duplicate) {
    return { element: duplicate[1], message: `The id "${duplicate[1]}" is used more than once; ids must be unique (the second ${tag}${at} would be ignored).` };
  }
  if (/unknown type/.test(nested)) {
    return { element: fileElement, message: `${tag}${at} is not a DMN 1.3 element and would be ignored; check its spelling or remove it.` };
  }
  if (w.element && w.property) {
    return { element: clean(w.element.id) || fileElement, message: `The attribute "${w.property}" is not part of DMN 1.3 and would be ignored; check its spelling or remove it.` };
  }
  return { element: fileElement, message: `Part of the file was not understood and would be ignored: ${describeXmlError(w)}.` };
}

/** moddle-xml errors read "unparsable content <x> detected\n\tline: 0\n\tcolumn: 83\n\tnested error: ..." */
function describeXmlError(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  const m = /^([^\n]*)\n\s*line: (\d+)\s*\n\s*column: (\d+)\s*\n\s*nested error: ([^\n]*)/.exec(text);
  if (!m) return text.split('\n')[0];
  const what = m[1].replace(/^unparsable content\s*/, '').replace(/\s*detected$/, '').trim();
  return `${m[4]}${what ? ` at ${what}` : ''} (line ${Number(m[2]) + 1}, column ${Number(m[3]) + 1})`;
}

function clean(text: unknown): string {
  return typeof text === 'string' ? text.trim() : '';
}

/**
 * The version tag of a decision: the Camunda 7 attribute `camunda:versionTag` (any prefix bound to an extension
 * namespace: moddle keeps unknown attributes in `$attrs`), or the Camunda 8 extension element
 * `<zeebe:versionTag value="..."/>`. Empty when none.
 */
function versionTagOf(decision: ModdleElement): string {
  const attrs = (decision.$attrs ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(attrs)) {
    if (/(^|:)versionTag$/.test(name) && clean(value)) return clean(value);
  }
  for (const ext of (decision.extensionElements?.values ?? []) as ModdleElement[]) {
    if (typeof ext?.$type === 'string' && /(^|:)versionTag$/i.test(ext.$type)) {
      const v = clean(ext.value) || clean((ext.$attrs as Record<string, unknown> | undefined)?.value);
      if (v) return v;
    }
  }
  return '';
}

function readDecision(decision: ModdleElement, index: number, problems: DmnProblem[]): DecisionTable | null {
  const id = clean(decision.id);
  const element = id || `decision #${index + 1}`;
  const title = decision.name ? `"${decision.name}" (${element})` : `"${element}"`;
  const before = problems.length;
  const problem = (el: string, message: string) => problems.push({ element: el, message });

  if (!id) problem(element, `Decision ${title} has no id; every decision needs one so processes can reference it.`);

  const requiredDecisions = (decision.informationRequirement ?? [])
    .map((r: ModdleElement) => clean(r.requiredDecision?.href).replace(/^#/, ''))
    .filter(Boolean) as string[];
  const variableName = clean(decision.variable?.name) || clean(decision.name) || id;
  const logic: ModdleElement | undefined = decision.decisionLogic;

  const versionTag = versionTagOf(decision);
  const base = {
    id,
    name: clean(decision.name) || id,
    variableName,
    ...(requiredDecisions.length ? { requiredDecisions } : {}),
    ...(versionTag ? { versionTag } : {}),
  };

  if (!logic) {
    problem(element, `Decision ${title} has no decision table; add a decision table (or a literal expression) to it.`);
    return null;
  }

  if (logic.$type === 'dmn:LiteralExpression') {
    const text = clean(logic.text);
    if (!text) problem(element, `Decision ${title} has an empty literal expression.`);
    else checkFeel(text, 'expression', (msg) => problem(element, `The literal expression of decision ${title} is not valid FEEL (${text}): ${msg}.`));
    const outputName = clean(decision.variable?.name) || id;
    const table: DecisionTable = {
      ...base,
      kind: 'literalExpression',
      hitPolicy: 'UNIQUE',
      inputs: [],
      outputs: [{ id: clean(decision.variable?.id) || `${id}_output`, name: outputName, label: outputName, typeRef: clean(decision.variable?.typeRef || logic.typeRef) || null }],
      rules: [{ id: clean(logic.id) || `${id}_literal`, inputEntries: [], outputEntries: [text] }],
    };
    return problems.length > before ? null : table;
  }

  if (logic.$type !== 'dmn:DecisionTable') {
    const kind = logic.$type.replace(/^dmn:/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    problem(element, `Decision ${title} is defined by a ${kind}, which is not supported; only decision tables and literal expressions are.`);
    return null;
  }

  // hit policy and aggregation
  const hitPolicy = (clean(logic.hitPolicy) || 'UNIQUE').toUpperCase() as HitPolicy;
  if (!HIT_POLICIES.includes(hitPolicy)) {
    problem(element, `Decision ${title} uses the hit policy "${logic.hitPolicy}", which is not supported; use one of ${HIT_POLICIES.join(', ')}.`);
  }
  const aggregationText = clean(logic.aggregation).toUpperCase();
  let aggregation: Aggregation | undefined;
  if (aggregationText) {
    if (!AGGREGATIONS.includes(aggregationText as Aggregation)) {
      problem(element, `Decision ${title} uses the aggregation "${logic.aggregation}", which is not supported; use SUM, MIN, MAX or COUNT.`);
    } else if (hitPolicy !== 'COLLECT') {
      problem(element, `Decision ${title} has the aggregation ${aggregationText}, but an aggregation is only allowed with the hit policy COLLECT.`);
    } else {
      aggregation = aggregationText as Aggregation;
    }
  }

  // inputs
  const inputs: DecisionInput[] = (logic.input ?? []).map((input: ModdleElement, i: number) => {
    const inputId = clean(input.id) || `${element}_input${i + 1}`;
    const expression = clean(input.inputExpression?.text);
    const label = clean(input.label) || expression || inputId;
    if (!expression) {
      problem(inputId, `Input "${label}" of decision ${title} has no expression; say which variable (or FEEL expression) it reads.`);
    } else {
      checkFeel(expression, 'expression', (msg) =>
        problem(inputId, `Input "${label}" of decision ${title} has an expression that is not valid FEEL (${expression}): ${msg}.`),
      );
    }
    return { id: inputId, label, expression, typeRef: clean(input.inputExpression?.typeRef) || null };
  });

  // outputs
  const rawOutputs: ModdleElement[] = logic.output ?? [];
  if (rawOutputs.length === 0) problem(element, `Decision ${title} has no output column.`);
  const seenNames = new Set<string>();
  const outputs: DecisionOutput[] = rawOutputs.map((output, i) => {
    const outputId = clean(output.id) || `${element}_output${i + 1}`;
    let name = clean(output.name);
    const label = clean(output.label) || name || outputId;
    if (!name) {
      if (rawOutputs.length > 1) problem(outputId, `Output "${label}" of decision ${title} has no name; when a table has several outputs each needs a name.`);
      name = variableName || outputId;
    } else if (seenNames.has(name)) {
      problem(outputId, `Decision ${title} has two outputs named "${name}"; output names must be unique.`);
    }
    seenNames.add(name);
    const result: DecisionOutput = { id: outputId, name, label, typeRef: clean(output.typeRef) || null };
    const valuesText = clean(output.outputValues?.text);
    if (valuesText) {
      const values = literalList(valuesText);
      if (values) result.outputValues = values;
      else problem(outputId, `Output "${label}" of decision ${title} lists output values that are not a comma-separated list of literal values (${valuesText}).`);
    }
    return result;
  });

  if ((hitPolicy === 'PRIORITY' || hitPolicy === 'OUTPUT ORDER') && rawOutputs.length && !outputs.some((o) => o.outputValues)) {
    problem(element, `Decision ${title} uses the hit policy ${hitPolicy}, which ranks results by the output values, but no output lists its output values; list them in decreasing priority.`);
  }
  if (aggregation && aggregation !== 'COUNT' && outputs.length > 1) {
    problem(element, `Decision ${title} uses the aggregation ${aggregation}, which needs exactly one output column, but it has ${outputs.length}.`);
  }

  // rules
  const rawRules: ModdleElement[] = logic.rule ?? [];
  if (rawRules.length === 0) problem(element, `Decision ${title} has no rules.`);
  const rules: DecisionRule[] = rawRules.map((rule, r) => {
    const ruleId = clean(rule.id) || `${element}_rule${r + 1}`;
    const where = `Rule ${r + 1} (${ruleId}) of decision ${title}`;
    const inputEntries: string[] = (rule.inputEntry ?? []).map((e: ModdleElement) => clean(e.text));
    const outputEntries: string[] = (rule.outputEntry ?? []).map((e: ModdleElement) => clean(e.text));
    if (inputEntries.length !== inputs.length) {
      problem(ruleId, `${where} has ${inputEntries.length} input condition(s) but the table has ${inputs.length} input(s).`);
    }
    if (outputEntries.length !== outputs.length) {
      problem(ruleId, `${where} has ${outputEntries.length} output value(s) but the table has ${outputs.length} output(s).`);
    }
    inputEntries.forEach((entry, i) => {
      if (entry === '' || entry === '-') return;
      const label = inputs[i]?.label ?? `#${i + 1}`;
      checkFeel(entry, 'unaryTests', (msg) =>
        problem(ruleId, `${where}: the condition "${entry}" for input "${label}" is not valid FEEL unary tests: ${msg}.`),
      );
    });
    outputEntries.forEach((entry, i) => {
      if (entry === '') return;
      const output = outputs[i];
      const label = output?.label ?? `#${i + 1}`;
      const ok = checkFeel(entry, 'expression', (msg) =>
        problem(ruleId, `${where}: the result "${entry}" for output "${label}" is not valid FEEL: ${msg}.`),
      );
      // a constant result must be one of the output's listed values
      if (ok && output?.outputValues) {
        const constant = constantValue(entry);
        if (constant.isConstant && !output.outputValues.some((v) => v === constant.value)) {
          problem(ruleId, `${where}: the result ${entry} for output "${label}" is not one of its listed output values (${output.outputValues.map((v) => JSON.stringify(v)).join(', ')}).`);
        }
      }
    });
    const description = clean(rule.description);
    return { id: ruleId, inputEntries, outputEntries, ...(description ? { description } : {}) };
  });

  if (problems.length > before) return null;
  return { ...base, kind: 'decisionTable', hitPolicy, ...(aggregation ? { aggregation } : {}), inputs, outputs, rules };
}

/**
 * feelin's parse functions return a tree with error nodes instead of throwing, and some errors only show at
 * evaluation (`>> 3` parses but cannot be evaluated); evaluating in an empty context catches both. Missing
 * variables only produce warnings, so valid expressions never throw here.
 */
function checkFeel(text: string, kind: 'expression' | 'unaryTests', onError: (message: string) => void): boolean {
  try {
    if (kind === 'expression') evaluate(text, {});
    else unaryTest(text, { '?': null });
    return true;
  } catch (err) {
    onError(String((err as Error)?.message ?? err).split('\n')[0]);
    return false;
  }
}

/** `"high","medium","low"` -> ['high','medium','low']; null when not a list of literals. */
function literalList(text: string): OutputValue[] | null {
  try {
    const { value, warnings } = evaluate(`[${text}]`, {});
    if (warnings.length || !Array.isArray(value)) return null;
    if (!value.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))) return null;
    return value as OutputValue[];
  } catch {
    return null;
  }
}

/** The value of an output entry that reads no variable (a literal or a constant computation). */
function constantValue(text: string): { isConstant: boolean; value?: unknown } {
  try {
    const { value, warnings } = evaluate(text, {});
    return warnings.length ? { isConstant: false } : { isConstant: true, value };
  } catch {
    return { isConstant: false };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

const NUMBER_TYPES = new Set(['number', 'integer', 'long', 'double']);

/**
 * Evaluate one decision table against the context (process variables). Pure: no I/O, no shared state. When
 * `trace` is given, the input values and the matched rules' outputs are written into it (see DecisionTrace).
 */
export function evaluateDecision(table: DecisionTable, context: Record<string, unknown>, trace?: DecisionTrace): DecisionResult {
  const warnings: string[] = [];
  const note = (where: string, list: { message: string }[]) => {
    for (const w of list) {
      const text = `${where}: ${w.message}`;
      if (!warnings.includes(text)) warnings.push(text);
    }
  };
  const fail = (message: string, ruleIds: string[] = []): never => {
    throw new DecisionError('DMN_EVALUATION_FAILED', table.id, `Decision "${table.id}": ${message}`, ruleIds);
  };

  // 1. input values, each evaluated once; a context per input with '?' bound to its value
  const testContexts = table.inputs.map((input) => {
    let value: unknown;
    try {
      const out = evaluate(input.expression, context);
      value = out.value;
      note(`input "${input.label}"`, out.warnings);
    } catch (err) {
      fail(`input "${input.label}" (${input.expression}) could not be evaluated: ${(err as Error).message}`);
    }
    const mismatch = typeMismatch(input.typeRef, value);
    if (mismatch) warnings.push(`input "${input.label}": expected a ${input.typeRef} but got ${mismatch}`);
    trace?.inputs.push({ id: input.id, label: input.label, value: toPlain(value) ?? null });
    return { ...context, '?': value };
  });

  // 2. matching rules (FIRST stops at the first)
  const matches: DecisionRule[] = [];
  for (const rule of table.rules) {
    let matched = true;
    for (let i = 0; i < table.inputs.length && matched; i++) {
      const entry = rule.inputEntries[i] ?? '';
      if (entry === '' || entry === '-') continue;
      try {
        const out = unaryTest(entry, testContexts[i]);
        note(`rule ${rule.id}`, out.warnings);
        matched = out.value === true;
      } catch (err) {
        fail(`the condition "${entry}" of rule ${rule.id} could not be evaluated: ${(err as Error).message}`, [rule.id]);
      }
    }
    if (matched) {
      matches.push(rule);
      if (table.hitPolicy === 'FIRST') break;
    }
  }

  // 3. outputs of the matching rules
  const single = table.outputs.length === 1;
  const outputsOf = (rule: DecisionRule): Record<string, unknown> => {
    const values: Record<string, unknown> = {};
    table.outputs.forEach((output, i) => {
      const entry = rule.outputEntries[i] ?? '';
      if (entry === '') {
        values[output.name] = null;
        return;
      }
      try {
        const out = evaluate(entry, context);
        note(`rule ${rule.id}`, out.warnings);
        values[output.name] = toPlain(out.value);
      } catch (err) {
        fail(`the result "${entry}" of rule ${rule.id} could not be evaluated: ${(err as Error).message}`, [rule.id]);
      }
    });
    return values;
  };
  const shape = (values: Record<string, unknown>): unknown => (single ? values[table.outputs[0].name] : values);
  const done = (result: unknown, rules: DecisionRule[]): DecisionResult => {
    if (trace) for (const r of rules) trace.outputs.push({ ruleId: r.id, values: outputsOf(r) });
    return { decisionId: table.id, result, matchedRules: rules.map((r) => r.id), warnings };
  };

  switch (table.hitPolicy) {
    case 'UNIQUE': {
      if (matches.length > 1) {
        const ids = matches.map((r) => r.id);
        throw new DecisionError(
          'DMN_UNIQUE_CONFLICT',
          table.id,
          `Decision "${table.id}" has hit policy UNIQUE but ${ids.length} rules matched (${ids.join(', ')}); exactly one may match.`,
          ids,
        );
      }
      return matches.length ? done(shape(outputsOf(matches[0])), matches) : done(null, []);
    }
    case 'FIRST':
      return matches.length ? done(shape(outputsOf(matches[0])), matches) : done(null, []);
    case 'ANY': {
      if (!matches.length) return done(null, []);
      const all = matches.map(outputsOf);
      const first = JSON.stringify(all[0]);
      if (all.some((o) => JSON.stringify(o) !== first)) {
        const ids = matches.map((r) => r.id);
        throw new DecisionError(
          'DMN_ANY_CONFLICT',
          table.id,
          `Decision "${table.id}" has hit policy ANY but the matching rules (${ids.join(', ')}) give different results; with ANY all matching rules must agree.`,
          ids,
        );
      }
      return done(shape(all[0]), matches);
    }
    case 'PRIORITY': {
      if (!matches.length) return done(null, []);
      const ranked = rankByOutputValues(table, matches, outputsOf);
      return done(shape(ranked[0].values), [ranked[0].rule]);
    }
    case 'OUTPUT ORDER': {
      const ranked = rankByOutputValues(table, matches, outputsOf);
      return done(
        ranked.map((r) => shape(r.values)),
        ranked.map((r) => r.rule),
      );
    }
    case 'RULE ORDER':
      return done(matches.map((r) => shape(outputsOf(r))), matches);
    case 'COLLECT': {
      if (!table.aggregation) return done(matches.map((r) => shape(outputsOf(r))), matches);
      if (table.aggregation === 'COUNT') return done(matches.length, matches);
      const name = table.outputs[0].name;
      const numbers: number[] = [];
      for (const rule of matches) {
        const v = outputsOf(rule)[name];
        if (v === null || v === undefined) continue;
        if (typeof v !== 'number') fail(`rule ${rule.id} gives ${JSON.stringify(v)} for "${name}", which cannot be aggregated with ${table.aggregation}`, [rule.id]);
        numbers.push(v as number);
      }
      if (!numbers.length) return done(null, matches);
      const value =
        table.aggregation === 'SUM' ? numbers.reduce((a, b) => a + b, 0) : table.aggregation === 'MIN' ? Math.min(...numbers) : Math.max(...numbers);
      return done(value, matches);
    }
    default:
      return fail(`hit policy ${String(table.hitPolicy)} is not supported`);
  }
}

/** Stable sort of matching rules by their outputs' positions in the output values (first output first). */
function rankByOutputValues(
  table: DecisionTable,
  rules: DecisionRule[],
  outputsOf: (rule: DecisionRule) => Record<string, unknown>,
): { rule: DecisionRule; values: Record<string, unknown> }[] {
  const ranked = rules.map((rule, order) => {
    const values = outputsOf(rule);
    const rank = table.outputs
      .filter((o) => o.outputValues)
      .map((o) => {
        const i = o.outputValues!.indexOf(values[o.name] as OutputValue);
        return i === -1 ? o.outputValues!.length : i; // values not listed rank last
      });
    return { rule, values, rank, order };
  });
  ranked.sort((a, b) => {
    for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i] - b.rank[i];
    return a.order - b.order;
  });
  return ranked;
}

function typeMismatch(typeRef: string | null, value: unknown): string | null {
  if (!typeRef || value === null || value === undefined) return null;
  const t = typeRef.toLowerCase();
  const actual = Array.isArray(value) ? 'list' : typeof value;
  if (NUMBER_TYPES.has(t)) return typeof value === 'number' ? null : `${actual} ${JSON.stringify(value)}`;
  if (t === 'string' || t === 'boolean') return typeof value === t ? null : `${actual} ${JSON.stringify(value)}`;
  return null;
}

/** FEEL temporal values become ISO strings so results stay plain JSON (as in the engine's expressions). */
function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === 'object') {
    const v = value as any;
    if (typeof v.toISO === 'function') return v.toISO();
    if (value instanceof Date) return value.toISOString();
    if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
      return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, toPlain(x)]));
    }
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// Required decisions

/**
 * Evaluates decision `id` found through `lookup`; its required decisions are evaluated first (through the same
 * lookup) and their results added to the context under their variable names. matchedRules lists the required
 * decisions' rules first. `trace` receives the inputs and outputs of decision `id` itself.
 * Errors: NOT_FOUND (InsureflowError) when a decision is missing, DecisionError DMN_CYCLE / DMN_* otherwise.
 */
export function evaluateWithRequired(
  lookup: (id: string) => DecisionTable | undefined,
  id: string,
  context: Record<string, unknown>,
  options: { known?: () => string[]; trace?: DecisionTrace } = {},
): DecisionResult {
  return evaluateChain(lookup, id, context, [], options);
}

function evaluateChain(
  lookup: (id: string) => DecisionTable | undefined,
  id: string,
  context: Record<string, unknown>,
  stack: string[],
  options: { known?: () => string[]; trace?: DecisionTrace },
): DecisionResult {
  const table = lookup(id);
  if (!table) {
    const known = options.known?.() ?? [];
    const hint = stack.length ? ` (required by decision "${stack[stack.length - 1]}")` : '';
    throw new InsureflowError('NOT_FOUND', `Decision ${JSON.stringify(id)} was not found${hint}; deployed decisions: ${known.length ? known.join(', ') : 'none'}.`);
  }
  if (stack.includes(id)) {
    throw new DecisionError('DMN_CYCLE', id, `Decisions require each other in a cycle: ${[...stack, id].join(' -> ')}.`);
  }
  const trace = stack.length === 0 ? options.trace : undefined;
  if (!table.requiredDecisions?.length) return evaluateDecision(table, context, trace);

  const enriched: Record<string, unknown> = { ...context };
  const matchedRules: string[] = [];
  const warnings: string[] = [];
  for (const req of table.requiredDecisions) {
    const sub = evaluateChain(lookup, req, context, [...stack, id], options);
    enriched[lookup(req)!.variableName] = sub.result;
    matchedRules.push(...sub.matchedRules);
    warnings.push(...sub.warnings.map((w) => `${req}: ${w}`));
  }
  const own = evaluateDecision(table, enriched, trace);
  return { ...own, matchedRules: [...matchedRules, ...own.matchedRules], warnings: [...warnings, ...own.warnings] };
}

// ---------------------------------------------------------------------------------------------------------
// Versions (what the engine uses)

/** One deployed version of one decision key, with the decisions of the DMN resource version it came from. */
export interface DecisionVersion {
  key: string;
  version: number;
  versionTag: string | null;
  /** every decision of the resource (required decisions are looked up here) */
  tables: DecisionTable[];
}

/** The result of evaluating one decision version, as recorded in history (`decision.evaluated`). */
export interface VersionedDecisionResult extends DecisionResult {
  decisionKey: string;
  version: number;
  trace: DecisionTrace;
}

/**
 * Evaluate decision `version.key` of a deployed version: required decisions come from the same resource
 * version. Throws like evaluateWithRequired.
 */
export function evaluateVersion(version: DecisionVersion, context: Record<string, unknown>): VersionedDecisionResult {
  const byId = new Map(version.tables.map((t) => [t.id, t]));
  const trace: DecisionTrace = { inputs: [], outputs: [] };
  const r = evaluateWithRequired((id) => byId.get(id), version.key, context, { known: () => [...byId.keys()].sort(), trace });
  return { ...r, decisionKey: version.key, version: version.version, trace };
}

/**
 * A cache of deployed decision versions keyed by (key, version). Versions never change, so adding one that
 * is already there keeps the first (a no-op); it is filled only from committed rows by the engine.
 */
export class DecisionVersions {
  private readonly versions = new Map<string, DecisionVersion>();
  private static id(key: string, version: number) {
    return `${key}\u0000${version}`;
  }
  /** Adds a version (no-op when present); returns the cached entry. */
  put(v: DecisionVersion): DecisionVersion {
    const id = DecisionVersions.id(v.key, v.version);
    const have = this.versions.get(id);
    if (have) return have;
    this.versions.set(id, v);
    return v;
  }
  get(key: string, version: number): DecisionVersion | undefined {
    return this.versions.get(DecisionVersions.id(key, version));
  }
  get size(): number {
    return this.versions.size;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Registry (unversioned)

/**
 * Decisions by decision id, unversioned: for embedding code and tests that evaluate tables directly
 * (`evaluate('Id', vars)`). The engine evaluates deployed versions instead: it attaches its versioned evaluator
 * with `useDeployed`, and `evaluate(call, vars)` with a DecisionCall (a business rule task's binding) goes there.
 */
export class DecisionRegistry {
  private readonly tables = new Map<string, DecisionTable>();
  private deployed: DecisionEvaluator | null = null;

  /** Adds decisions; an id already present is refused unless `replace` (redeploying a newer version). */
  add(tables: DecisionTable | DecisionTable[], options: { replace?: boolean } = {}): this {
    const list = Array.isArray(tables) ? tables : [tables];
    if (!options.replace) {
      const seen = new Set<string>();
      for (const t of list) {
        if (this.tables.has(t.id) || seen.has(t.id)) {
          throw new InsureflowError('DMN_INVALID', `Decision "${t.id}" is already deployed${t.resourceName ? ` (adding ${t.resourceName})` : ''}.`);
        }
        seen.add(t.id);
      }
    }
    for (const t of list) this.tables.set(t.id, t);
    return this;
  }

  get(id: string): DecisionTable | undefined {
    return this.tables.get(id);
  }

  has(id: string): boolean {
    return this.tables.has(id);
  }

  ids(): string[] {
    return [...this.tables.keys()].sort();
  }

  /** The engine's evaluator of deployed decision versions (set once per engine; replaces any earlier one). */
  useDeployed(evaluator: DecisionEvaluator): this {
    this.deployed = evaluator;
    return this;
  }

  /**
   * By id: evaluates a registered decision; its required decisions are evaluated first and their results added
   * to the context under their variable names (matchedRules lists their rules first).
   * By DecisionCall: evaluates the deployed version the call's binding names (see useDeployed).
   */
  evaluate(id: string, context: Record<string, unknown>): DecisionResult;
  evaluate(call: DecisionCall, context: Record<string, unknown>): Promise<DecisionOutcome>;
  evaluate(idOrCall: string | DecisionCall, context: Record<string, unknown>): DecisionResult | Promise<DecisionOutcome> {
    if (typeof idOrCall === 'string') return evaluateWithRequired((x) => this.tables.get(x), idOrCall, context, { known: () => this.ids() });
    const deployed = this.deployed;
    if (!deployed) return Promise.reject(new InsureflowError('NOT_FOUND', `no deployed decisions are available to evaluate "${idOrCall.decisionKey}"`));
    return Promise.resolve().then(() => deployed.evaluate(idOrCall, context));
  }
}
