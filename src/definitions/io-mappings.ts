/**
 * Reading what a diagram says about variables around one element, the same way at deploy time (validation) and
 * when a version is compiled (the runtime index): input/output mappings (`camunda:inputOutput`,
 * `zeebe:ioMapping`), multi-instance loop characteristics (Camunda 7 `loopCardinality`, `camunda:collection` +
 * `camunda:elementVariable`, `completionCondition`; Camunda 8 `zeebe:loopCharacteristics`) and what a call
 * activity passes to and takes from the process it calls (`camunda:in` / `camunda:out`, `zeebe:calledElement
 * propagateAllParentVariables / propagateAllChildVariables`). Pure: it reads moddle elements, never evaluates.
 *
 * Expressions stay as written (`=x`, `${x}`); a Camunda 7 value without an expression is a text literal.
 */
import { camundaAttr, extAttr, extensionElementsOf, unwrapElement, type BpmnElementLike } from './bindings.ts';

/** One input or output mapping: the variable it sets and where its value comes from. */
export interface IoMapping {
  /** the variable set (Camunda 8 may name a nested path such as `a.b`) */
  target: string;
  /**
   * - `expression`: `source` is an expression (`=...` or `${...}`), evaluated with FEEL;
   * - `literal`: `value` as written (a Camunda 7 text body, a Camunda 8 static source);
   * - `list` / `map`: a Camunda 7 `camunda:list` / `camunda:map`, whose items are each a literal or an expression;
   * - `script`: a Camunda 7 `camunda:script` (never run: refused at deploy);
   * - `empty`: no value at all (the variable is set to null).
   */
  kind: 'expression' | 'literal' | 'list' | 'map' | 'script' | 'empty';
  /** the raw source or body (expression or literal text); null for list / map / empty */
  source: string | null;
  /** list items or map entries (raw text each: literal or expression) */
  items?: { key?: string; source: string | null; nested?: boolean }[];
}

export interface IoMappings {
  /** where they were read from, for messages */
  source: 'camunda:inputOutput' | 'zeebe:ioMapping';
  inputs: IoMapping[];
  outputs: IoMapping[];
}

const hasExpression = (raw: string) => /^\s*=/.test(raw) || /[$#]\{/.test(raw);

function camundaParameter(p: any): IoMapping {
  const target = String(p?.name ?? '').trim();
  const def = p?.definition;
  if (def) {
    const type = String(def.$type ?? '');
    if (type === 'camunda:Script') return { target, kind: 'script', source: typeof def.value === 'string' ? def.value : null };
    if (type === 'camunda:List') {
      const items = ((def.items ?? []) as any[]).map((i) => ({ source: typeof i?.value === 'string' ? i.value : null, nested: Boolean(i && i.$type !== 'camunda:Value') }));
      return { target, kind: 'list', source: null, items };
    }
    if (type === 'camunda:Map') {
      const items = ((def.entries ?? []) as any[]).map((e) => ({ key: String(e?.key ?? ''), source: typeof e?.value === 'string' ? e.value : null, nested: Boolean(e?.definition) }));
      return { target, kind: 'map', source: null, items };
    }
  }
  const body = typeof p?.value === 'string' ? p.value : null;
  if (body === null || body === '') return { target, kind: 'empty', source: null };
  return { target, kind: hasExpression(body) ? 'expression' : 'literal', source: body };
}

function zeebeParameter(p: any): IoMapping {
  const target = String(extAttr(p, 'target') ?? '').trim();
  const source = extAttr(p, 'source');
  if (source === null || !source.trim()) return { target, kind: 'empty', source: null };
  return { target, kind: hasExpression(source) ? 'expression' : 'literal', source };
}

/**
 * The input/output mappings of an element, or null when it has none: `<camunda:inputOutput>` with
 * `camunda:inputParameter` / `camunda:outputParameter` (text, `${...}`, `camunda:list`, `camunda:map`,
 * `camunda:script`), or `<zeebe:ioMapping>` with `zeebe:input` / `zeebe:output` (source, target).
 */
export function ioMappingsOf(el: BpmnElementLike): IoMappings | null {
  const b = unwrapElement(el);
  if (!b) return null;
  const zeebe = extensionElementsOf(b, 'zeebe:IoMapping');
  if (zeebe.length) {
    return {
      source: 'zeebe:ioMapping',
      inputs: zeebe.flatMap((io) => (io.inputParameters ?? []).map(zeebeParameter)),
      outputs: zeebe.flatMap((io) => (io.outputParameters ?? []).map(zeebeParameter)),
    };
  }
  const camunda = extensionElementsOf(b, 'camunda:InputOutput');
  if (camunda.length) {
    return {
      source: 'camunda:inputOutput',
      inputs: camunda.flatMap((io) => (io.inputParameters ?? []).map(camundaParameter)),
      outputs: camunda.flatMap((io) => (io.outputParameters ?? []).map(camundaParameter)),
    };
  }
  return null;
}

/** Multi-instance loop characteristics as the runtime needs them (see LoopSpec). */
export interface LoopSpec {
  sequential: boolean;
  /** Camunda 7 `loopCardinality` (expression or number as written) */
  cardinality: string | null;
  /** the collection expression: `camunda:collection` or `zeebe:loopCharacteristics inputCollection` */
  collection: string | null;
  /** the variable holding each iteration's element: `camunda:elementVariable` / `inputElement` */
  elementVariable: string | null;
  completionCondition: string | null;
  /** Camunda 8: the variable collecting every iteration's output, in input order */
  outputCollection: string | null;
  /** Camunda 8: the expression giving one iteration's output */
  outputElement: string | null;
  /** Camunda 8 counts loopCounter from 1, Camunda 7 from 0 */
  dialect: 'camunda' | 'zeebe';
  /** which attribute the collection came from, for messages */
  collectionSource: 'camunda:collection' | 'zeebe:loopCharacteristics inputCollection' | null;
}

/** The multi-instance loop characteristics of an activity, or null when it has none (or a standard loop). */
export function loopSpecOf(el: BpmnElementLike, dialect: 'camunda' | 'zeebe' | 'plain'): LoopSpec | null {
  const b = unwrapElement(el);
  const loop = b?.loopCharacteristics;
  if (!loop || loop.$type !== 'bpmn:MultiInstanceLoopCharacteristics') return null;
  const body = (v: any): string | null => (typeof v?.body === 'string' && v.body.trim() ? v.body.trim() : null);
  const zeebe = extensionElementsOf(loop, 'zeebe:LoopCharacteristics')[0];
  const text = (v: string | null) => (v !== null && v.trim() ? v.trim() : null);
  if (zeebe) {
    return {
      sequential: loop.isSequential === true,
      cardinality: body(loop.loopCardinality),
      collection: text(extAttr(zeebe, 'inputCollection')),
      elementVariable: text(extAttr(zeebe, 'inputElement')),
      completionCondition: body(loop.completionCondition),
      outputCollection: text(extAttr(zeebe, 'outputCollection')),
      outputElement: text(extAttr(zeebe, 'outputElement')),
      dialect: 'zeebe',
      collectionSource: 'zeebe:loopCharacteristics inputCollection',
    };
  }
  const collection = text(camundaAttr(loop, 'collection'));
  return {
    sequential: loop.isSequential === true,
    cardinality: body(loop.loopCardinality),
    collection,
    elementVariable: text(camundaAttr(loop, 'elementVariable')),
    completionCondition: body(loop.completionCondition),
    outputCollection: null,
    outputElement: null,
    dialect: dialect === 'zeebe' ? 'zeebe' : 'camunda',
    collectionSource: collection ? 'camunda:collection' : null,
  };
}

/** One `camunda:in` / `camunda:out` of a call activity. */
export interface CallVariableMapping {
  /** `variables="all"`: every variable (of the parent for in, of the child for out) */
  all: boolean;
  /** `local="true"`: in: only the call activity's local variables; out: set as locals of the call activity */
  local: boolean;
  /** `source`: a variable name */
  source: string | null;
  /** `sourceExpression`: an expression */
  sourceExpression: string | null;
  target: string | null;
}

/** What a call activity passes to the called process and takes back from it. */
export interface CallSpec {
  dialect: 'camunda' | 'zeebe' | 'plain';
  /** Camunda 7 `camunda:in` (without businessKey ones) */
  ins: CallVariableMapping[];
  /** Camunda 7 `camunda:out` */
  outs: CallVariableMapping[];
  /** Camunda 7 `<camunda:in businessKey="..."/>`: the expression giving the child's business key */
  businessKey: string | null;
  /** Camunda 8: copy every visible variable to the child (default true) */
  propagateAllParentVariables: boolean;
  /** Camunda 8: merge every child variable back when it completes (default true) */
  propagateAllChildVariables: boolean;
}

function inOut(m: any): CallVariableMapping {
  const s = (v: string | null) => (v !== null && v.trim() ? v.trim() : null);
  const local = m?.local === true || extAttr(m, 'local') === 'true';
  return {
    all: (extAttr(m, 'variables') ?? '').trim() === 'all',
    local,
    source: s(extAttr(m, 'source')),
    sourceExpression: s(extAttr(m, 'sourceExpression')),
    target: s(extAttr(m, 'target')),
  };
}

/** The variable passing of a call activity (see CallSpec); null for other elements. */
export function callSpecOf(el: BpmnElementLike, dialect: 'camunda' | 'zeebe' | 'plain'): CallSpec | null {
  const b = unwrapElement(el);
  if (!b || b.$type !== 'bpmn:CallActivity') return null;
  const ins = extensionElementsOf(b, 'camunda:In');
  const outs = extensionElementsOf(b, 'camunda:Out');
  const zeebe = extensionElementsOf(b, 'zeebe:CalledElement')[0];
  const flag = (name: string, dflt: boolean) => {
    const v = zeebe ? (zeebe[name] ?? extAttr(zeebe, name)) : undefined;
    if (v === undefined || v === null || v === '') return dflt;
    return v === true || String(v).trim() === 'true';
  };
  const businessKeyIn = ins.find((m) => extAttr(m, 'businessKey') !== null);
  return {
    dialect,
    ins: ins.filter((m) => extAttr(m, 'businessKey') === null).map(inOut),
    outs: outs.map(inOut),
    businessKey: businessKeyIn ? extAttr(businessKeyIn, 'businessKey') : null,
    propagateAllParentVariables: flag('propagateAllParentVariables', true),
    propagateAllChildVariables: flag('propagateAllChildVariables', true),
  };
}

/**
 * The processes of a file that are not executable but are called by a call activity of an executable process of
 * the file (directly or through another such process): each is deployed as a definition of its own, so that a
 * call runs it as its own instance.
 */
export function calledProcessesInFile(rootElements: any[]): string[] {
  const processes = new Map<string, any>((rootElements ?? []).filter((e) => e?.$type === 'bpmn:Process').map((p) => [String(p.id), p]));
  const found = new Set<string>();
  const visit = (container: any) => {
    for (const el of container?.flowElements ?? []) {
      if (el.$type === 'bpmn:CallActivity') {
        const zeebe = extensionElementsOf(el, 'zeebe:CalledElement')[0];
        const id = (typeof el.calledElement === 'string' && el.calledElement.trim()) || (zeebe ? extAttr(zeebe, 'processId') : null);
        const target = id ? processes.get(id.trim().replace(/^=\s*"(.*)"$/, '$1')) : undefined;
        if (target && target.isExecutable !== true && !found.has(target.id)) {
          found.add(target.id);
          visit(target);
        }
      }
      if (el.flowElements) visit(el);
    }
  };
  for (const p of processes.values()) if (p.isExecutable === true) visit(p);
  return [...found];
}
