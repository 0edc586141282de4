/**
 * Safe parsing of BPMN 2.0 XML with the moddle extension of the dialect the document declares.
 *
 * Refused before any XML parser sees the text: empty input, more than 5 MB, any `<!DOCTYPE` or `<!ENTITY`
 * (no external entities, no entity-expansion bombs; BPMN never needs a DTD).
 *
 * Dialect choice (camunda-bpmn-moddle and zeebe-bpmn-moddle can never be loaded together, they both define
 * `modelerTemplate`): by the namespaces the document declares.
 * - `http://camunda.org/schema/1.0/bpmn` declared -> 'camunda' (Camunda 7);
 * - `http://camunda.org/schema/zeebe/1.0` declared -> 'zeebe' (Camunda 8);
 * - both declared: the one whose prefix the document actually uses; if both are used the document is refused
 *   (BpmnInvalidError saying so); if neither is used it is 'plain';
 * - none -> 'plain' (plain BPMN, bpmn-engine's own `implementation="${environment.services.x}"` bindings).
 */
import { createRequire } from 'node:module';
// bpmn-moddle 10 ships its types under 'bpmn-moddle/types' only, so the main entry has no declaration file.
// @ts-ignore -- untyped module; the shape we use is declared below
import { BpmnModdle as UntypedBpmnModdle } from 'bpmn-moddle';
import { InsureflowError } from '../errors.ts';

const require = createRequire(import.meta.url);
const camundaDescriptor: Record<string, unknown> = require('camunda-bpmn-moddle/resources/camunda.json');
const zeebeDescriptor: Record<string, unknown> = require('zeebe-bpmn-moddle/resources/zeebe.json');

export const BPMN_NS = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
export const CAMUNDA_NS = 'http://camunda.org/schema/1.0/bpmn';
export const ZEEBE_NS = 'http://camunda.org/schema/zeebe/1.0';
export const MAX_BPMN_BYTES = 5 * 1024 * 1024;

export type Dialect = 'camunda' | 'zeebe' | 'plain';

/** One finding about a diagram: the element it is about (its id) and a sentence an analyst understands. */
export type Problem = { element: string | null; message: string };

export interface ModdleWarning {
  message: string;
  element?: any;
  property?: string;
  value?: unknown;
  error?: unknown;
}

export interface ModdleContext {
  rootElement: any;
  elementsById: Record<string, any>;
  references: any[];
  warnings: ModdleWarning[];
}

export type ParsedBpmn = {
  /** the XML exactly as given */
  xml: string;
  dialect: Dialect;
  /** result of moddle.fromXML: { rootElement, elementsById, references, warnings } */
  moddleContext: any;
  processes: { id: string; name: string | null; isExecutable: boolean }[];
};

/** The document cannot be used; `problems` lists why, each with its element id when there is one. */
export class BpmnInvalidError extends InsureflowError {
  readonly problems: Problem[];
  constructor(problems: Problem[], message?: string) {
    const text =
      message ??
      (problems.length === 1
        ? problems[0].message
        : `The BPMN diagram has ${problems.length} problems: ${problems.map((p) => p.message).join(' ')}`);
    super('BPMN_INVALID', text, { problems });
    this.name = 'BpmnInvalidError';
    this.problems = problems;
  }
}

type BpmnModdleCtor = new (packages?: Record<string, unknown>) => {
  fromXML(xml: string, typeName?: string): Promise<ModdleContext>;
};
const BpmnModdle = UntypedBpmnModdle as BpmnModdleCtor;

/** The `moddleOptions` to give bpmn-engine (or `new BpmnModdle(...)`) for a dialect. */
export const moddleOptionsFor = (dialect: Dialect): Record<string, unknown> => {
  switch (dialect) {
    case 'camunda':
      return { camunda: camundaDescriptor };
    case 'zeebe':
      return { zeebe: zeebeDescriptor };
    default:
      return {};
  }
};

function refuse(message: string, element: string | null = null): never {
  throw new BpmnInvalidError([{ element, message }]);
}

/** Namespace declarations: prefix ('' for the default namespace) -> URI. */
function declaredNamespaces(xml: string): Map<string, string> {
  const result = new Map<string, string>();
  const re = /\sxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) result.set(m[1] ?? '', m[2] ?? m[3] ?? '');
  return result;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function prefixUsed(xml: string, prefix: string): boolean {
  if (prefix === '') return true;
  return new RegExp(`(?:<|\\s)${escapeRegExp(prefix)}:[A-Za-z_]`).test(xml);
}

/** Picks the dialect from declared namespaces (see the module comment); throws when both are in use. */
export function detectDialect(xml: string): Dialect {
  const ns = declaredNamespaces(xml);
  const camundaPrefixes = [...ns].filter(([, uri]) => uri === CAMUNDA_NS).map(([p]) => p);
  const zeebePrefixes = [...ns].filter(([, uri]) => uri === ZEEBE_NS).map(([p]) => p);
  if (camundaPrefixes.length && !zeebePrefixes.length) return 'camunda';
  if (zeebePrefixes.length && !camundaPrefixes.length) return 'zeebe';
  if (!camundaPrefixes.length && !zeebePrefixes.length) return 'plain';
  const camundaUsed = camundaPrefixes.some((p) => prefixUsed(xml, p));
  const zeebeUsed = zeebePrefixes.some((p) => prefixUsed(xml, p));
  if (camundaUsed && zeebeUsed) {
    refuse(
      'The diagram mixes Camunda 7 extensions (namespace http://camunda.org/schema/1.0/bpmn) and Camunda 8 ' +
        'extensions (namespace http://camunda.org/schema/zeebe/1.0). A diagram must be made for one of them: ' +
        'export it again from the modeler for a single platform.',
    );
  }
  if (camundaUsed) return 'camunda';
  if (zeebeUsed) return 'zeebe';
  return 'plain';
}

/** Saxen/moddle positions are 0-based; people count from 1. */
function position(message: string): { line: number; column: number } | null {
  const m = /line:\s*(\d+)\s+column:\s*(\d+)/.exec(message);
  return m ? { line: Number(m[1]) + 1, column: Number(m[2]) + 1 } : null;
}

function nestedError(message: string): string | null {
  const m = /nested error:\s*(.+)$/m.exec(message);
  return m ? m[1].trim() : null;
}

/** The id attribute of the tag at a (1-based) line/column of the document, if any. */
function idAt(xml: string, pos: { line: number; column: number } | null): string | null {
  if (!pos) return null;
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const lineBreak = /\r\n|\r|\n/g;
  let offset = 0;
  for (let line = 1; line < pos.line; line++) {
    const m = lineBreak.exec(text);
    if (!m) return null;
    offset = m.index + m[0].length;
  }
  const tagStart = text.indexOf('<', offset + pos.column - 1);
  if (tagStart < 0) return null;
  const tagEnd = text.indexOf('>', tagStart);
  const tag = text.slice(tagStart, tagEnd < 0 ? undefined : tagEnd);
  const m = /\sid\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(tag);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function describeRootError(xml: string): string {
  const root = /<([A-Za-z_][\w.:-]*)/.exec(xml.replace(/<\?[\s\S]*?\?>/g, '').replace(/<!--[\s\S]*?-->/g, ''));
  const found = root ? `its root element is <${root[1]}>` : 'it has no root element';
  return (
    `The document is not a BPMN diagram: ${found}, but a BPMN file must start with <bpmn:definitions> ` +
    `in the namespace ${BPMN_NS}.`
  );
}

const REFERENCE_LABELS: Record<string, string> = {
  'bpmn:sourceRef': 'its source',
  'bpmn:targetRef': 'its target',
  'bpmn:default': 'its default flow',
  'bpmn:messageRef': 'its message',
  'bpmn:signalRef': 'its signal',
  'bpmn:errorRef': 'its error',
  'bpmn:escalationRef': 'its escalation',
  'bpmn:attachedToRef': 'the activity it is attached to',
  'bpmn:processRef': 'its process',
  'bpmn:dataObjectRef': 'its data object',
  'bpmn:dataStoreRef': 'its data store',
};

/** References that only matter to the drawing or are redundant for execution. */
function ignoredReference(w: ModdleWarning): boolean {
  const p = w.property ?? '';
  const t: string = w.element?.$type ?? '';
  return (
    p.startsWith('bpmndi:') ||
    p.startsWith('di:') ||
    t.startsWith('bpmndi:') ||
    t.startsWith('di:') ||
    p === 'bpmn:incoming' ||
    p === 'bpmn:outgoing' ||
    p === 'bpmn:flowNodeRef'
  );
}

/**
 * How an element is named in a problem: `Service task "Assess claim" (Task_Assess)`, or `Service task Task_1`
 * when it has no name. An event definition is described through the event that holds it.
 */
export function describeElement(el: any): string {
  if (el && typeof el.$type === 'string' && el.$type.endsWith('EventDefinition') && el.$parent) el = el.$parent;
  const type = typeof el?.$type === 'string' ? el.$type.split(':').pop()! : 'Element';
  const words = type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const label = words.charAt(0).toUpperCase() + words.slice(1);
  const name = typeof el?.name === 'string' && el.name.trim() ? el.name.trim() : null;
  if (!el?.id) return name ? `${label} "${name}"` : label;
  return name ? `${label} "${name}" (${el.id})` : `${label} ${el.id}`;
}

/** The id a problem about this element should carry (an event definition's event). */
export function problemElementId(el: any): string | null {
  if (el && typeof el.$type === 'string' && el.$type.endsWith('EventDefinition') && el.$parent?.id) return el.$parent.id;
  return typeof el?.id === 'string' ? el.id : null;
}

/**
 * The moddle warnings that matter for execution, as problems: unresolved references (a flow pointing to no
 * element, a missing message...), content that could not be read and was dropped (a misspelt BPMN element, a
 * duplicate id, an unknown Camunda extension element), and unknown attributes on BPMN elements or in the
 * Camunda namespaces (a misspelt `camunda:candidateGroups` silently does nothing). References used only by the
 * drawing (bpmndi), `incoming`/`outgoing` and lane `flowNodeRef` lists are not reported.
 */
export function moddleWarningProblems(parsed: Pick<ParsedBpmn, 'xml' | 'moddleContext'>): Problem[] {
  const warnings: ModdleWarning[] = parsed.moddleContext?.warnings ?? [];
  const problems: Problem[] = [];
  for (const w of warnings) {
    const message = String(w.message ?? '');
    const elementId = problemElementId(w.element);
    if (message.startsWith('unresolved reference')) {
      if (ignoredReference(w)) continue;
      const what = REFERENCE_LABELS[w.property ?? ''] ?? `its ${String(w.property ?? 'reference').replace(/^\w+:/, '')}`;
      problems.push({
        element: elementId,
        message: `${describeElement(w.element)} names "${String(w.value)}" as ${what}, but the diagram has no element with that id.`,
      });
    } else if (message.startsWith('unparsable content')) {
      const pos = position(message);
      const where = pos ? `Line ${pos.line}, column ${pos.column}: ` : '';
      const tag = /unparsable content (<[^>]*>)/.exec(message)?.[1] ?? 'some content';
      const nested = nestedError(message) ?? 'it could not be read';
      const unknownType = /unknown type <([^>]+)>/.exec(nested);
      const duplicate = /duplicate ID <([^>]+)>/.exec(nested);
      let text: string;
      if (unknownType) {
        text = `${where}${tag} is not a known ${unknownType[1].startsWith('bpmn:') ? 'BPMN' : 'extension'} element (check the spelling); it was ignored, with everything inside it.`;
      } else if (duplicate) {
        text = `${where}the id "${duplicate[1]}" is used by more than one element; ids must be unique. The second one was ignored.`;
      } else {
        text = `${where}${tag} could not be read (${nested}); it was ignored.`;
      }
      problems.push({ element: duplicate ? duplicate[1] : idAt(parsed.xml, pos), message: text });
    } else if (message.startsWith('unknown attribute')) {
      const attr = String(w.property ?? /<([^>]+)>/.exec(message)?.[1] ?? '');
      const prefix = attr.includes(':') ? attr.split(':')[0] : '';
      if (prefix && prefix !== 'camunda' && prefix !== 'zeebe' && prefix !== 'bpmn') continue;
      problems.push({
        element: elementId,
        message: `${describeElement(w.element)} has an attribute ${attr}="${String(w.value ?? '')}" that the engine does not know (check the spelling); it is ignored.`,
      });
    } else {
      problems.push({ element: elementId, message: `${describeElement(w.element)}: ${message}` });
    }
  }
  return problems;
}

/**
 * Parses BPMN XML. Throws BpmnInvalidError when the text cannot be used at all (see the module comment, plus:
 * not well-formed XML, with line and column; a root that is not bpmn:definitions). Non-fatal findings stay in
 * `moddleContext.warnings`: `validateBpmn` reports those that matter (see `moddleWarningProblems`).
 */
export async function parseBpmn(xml: string): Promise<ParsedBpmn> {
  if (typeof xml !== 'string' || !xml.trim()) refuse('The BPMN document is empty.');
  if (xml.length > MAX_BPMN_BYTES || Buffer.byteLength(xml, 'utf8') > MAX_BPMN_BYTES) {
    refuse(`The BPMN document is larger than ${MAX_BPMN_BYTES / (1024 * 1024)} MB.`);
  }
  if (/<!DOCTYPE/i.test(xml)) {
    refuse('The BPMN document contains a DOCTYPE declaration. BPMN files never need one, and it is refused for safety (no external entities, no entity expansion).');
  }
  if (/<!ENTITY/i.test(xml)) {
    refuse('The BPMN document declares an ENTITY. BPMN files never need one, and it is refused for safety (no external entities, no entity expansion).');
  }

  const dialect = detectDialect(xml);
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const moddle = new BpmnModdle(moddleOptionsFor(dialect));

  let context: ModdleContext;
  try {
    context = await moddle.fromXML(text);
  } catch (err: any) {
    const message = String(err?.message ?? err);
    if (message.startsWith('failed to parse document as <bpmn:Definitions>')) refuse(describeRootError(text));
    if (message.startsWith('unparsable content')) {
      const pos = position(message);
      const nested = nestedError(message);
      refuse(
        `The document is not well-formed XML${pos ? ` (line ${pos.line}, column ${pos.column})` : ''}` +
          `${nested ? `: ${nested}` : ''}.`,
      );
    }
    refuse(`The document could not be read as BPMN: ${message}`);
  }

  const root = context.rootElement;
  if (!root || root.$type !== 'bpmn:Definitions') refuse(describeRootError(text));

  const processes = ((root.rootElements ?? []) as any[])
    .filter((e) => e?.$type === 'bpmn:Process')
    .map((p) => ({
      id: String(p.id),
      name: typeof p.name === 'string' && p.name.trim() ? p.name : null,
      isExecutable: p.isExecutable === true,
    }));

  return { xml, dialect, moddleContext: context, processes };
}
