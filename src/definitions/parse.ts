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
 * - both declared and used: the platform the modeler saved it for (`modeler:executionPlatform` "Camunda Cloud" or
 *   "Camunda Platform"; the other dialect's settings are then ignored, with a warning); else the one whose execution
 *   attributes and extension elements the elements use (modeler metadata such as templates and properties does not
 *   count): an element that uses both is refused, and so is an element using the other one while the rest use one
 *   (BpmnInvalidError naming each element); neither: 'plain';
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
/** Activiti's extension namespace: Camunda 7 reads it as its own (same attributes), and so does this engine. */
export const ACTIVITI_NS = 'http://activiti.org/bpmn';
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

/** A finding that does not block a deployment (returned as a deploy warning, src/engine/deployment.ts). */
export type ParseWarning = { element: string | null; message: string };

export type ParsedBpmn = {
  /** the XML exactly as given */
  xml: string;
  dialect: Dialect;
  /** result of moddle.fromXML: { rootElement, elementsById, references, warnings } */
  moddleContext: any;
  processes: { id: string; name: string | null; isExecutable: boolean }[];
  /** non-blocking findings: a declared encoding other than UTF-8, attributes and elements of foreign namespaces */
  warnings?: ParseWarning[];
  /**
   * Expressions in a language the engine does not evaluate (XPath, an unknown URI), each with the process that
   * holds it (null: outside any process); validate.ts refuses those of the processes that run.
   */
  languageProblems?: (Problem & { processId: string | null })[];
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
  while ((m = re.exec(xml))) {
    const uri = m[2] ?? m[3] ?? '';
    result.set(m[1] ?? '', uri === ACTIVITI_NS ? CAMUNDA_NS : uri);
  }
  return result;
}

/** The text moddle reads: an Activiti namespace declaration declares the Camunda 7 one (see ACTIVITI_NS). */
function withActivitiAsCamunda(xml: string): string {
  return xml.replace(/(\sxmlns:[A-Za-z_][\w.-]*\s*=\s*)(["'])http:\/\/activiti\.org\/bpmn\2/g, `$1$2${CAMUNDA_NS}$2`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function prefixUsed(xml: string, prefix: string): boolean {
  if (prefix === '') return true;
  return new RegExp(`(?:<|\\s)${escapeRegExp(prefix)}:[A-Za-z_]`).test(xml);
}

/** Picks the dialect from declared namespaces (see the module comment); 'both' when both are in use. */
export function detectDialect(xml: string): Dialect | 'both' {
  const ns = declaredNamespaces(xml);
  const camundaPrefixes = [...ns].filter(([, uri]) => uri === CAMUNDA_NS).map(([p]) => p);
  const zeebePrefixes = [...ns].filter(([, uri]) => uri === ZEEBE_NS).map(([p]) => p);
  if (camundaPrefixes.length && !zeebePrefixes.length) return 'camunda';
  if (zeebePrefixes.length && !camundaPrefixes.length) return 'zeebe';
  if (!camundaPrefixes.length && !zeebePrefixes.length) return 'plain';
  const camundaUsed = camundaPrefixes.some((p) => prefixUsed(xml, p));
  const zeebeUsed = zeebePrefixes.some((p) => prefixUsed(xml, p));
  if (camundaUsed && zeebeUsed) return 'both'; // decided element by element (dialectOfElements)
  if (camundaUsed) return 'camunda';
  if (zeebeUsed) return 'zeebe';
  return 'plain';
}

/* ------------------------------------------------------------------------------------------------------------ */
/* both Camunda namespaces declared: the dialect element by element                                              */
/* ------------------------------------------------------------------------------------------------------------ */

/** Modeler metadata of either dialect: it never decides how an element runs, so it is no conflict. */
const DIALECT_METADATA = new Set([
  'modelertemplate', 'modelertemplateversion', 'modelertemplateicon', 'modelerconfigurationtemplate', 'modelerconfigurationname',
  'properties', 'property', 'versiontag', 'diagramrelationid', 'historytimetolive', 'isstartableintasklist',
]);

/** Every element of a moddle tree once (objects with a $type, following containment, not references). */
function eachElement(root: any, visit: (el: any) => void): void {
  const seen = new Set<any>();
  const walk = (el: any) => {
    if (!el || typeof el !== 'object' || seen.has(el)) return;
    seen.add(el);
    if (typeof el.$type === 'string') visit(el);
    for (const [key, value] of Object.entries(el)) {
      if (key.startsWith('$') && key !== '$children') continue;
      const refs: any[] = Array.isArray(value) ? value : [value];
      for (const v of refs) if (v && typeof v === 'object' && v.$parent === el) walk(v);
    }
  };
  walk(root);
}

/** The element a finding about `el` names: the nearest ancestor (or itself) with an id; an event definition's event. */
function holderOf(el: any): any {
  const part = (t: string) => t.endsWith('EventDefinition') || t.endsWith('Expression') || t === 'bpmn:ResourceAssignmentExpression';
  let cur = el;
  while (cur && !(typeof cur.id === 'string' && !part(String(cur.$type ?? '')))) cur = cur.$parent;
  return cur ?? el;
}

/**
 * Resource roles (performer, humanPerformer, potentialOwner) without a resourceAssignmentExpression name a
 * resource only (documentation): they are dropped from the tree, as bpmn-engine's serializer cannot read them.
 */
function dropRolesWithoutAssignment(root: any): void {
  eachElement(root, (el) => {
    if (Array.isArray(el.resources)) el.resources = el.resources.filter((r: any) => r?.resourceAssignmentExpression);
  });
}

function processOf(el: any): string | null {
  for (let cur = el; cur; cur = cur.$parent) if (cur.$type === 'bpmn:Process') return typeof cur.id === 'string' ? cur.id : null;
  return null;
}

const MODELER_NS = 'http://camunda.org/schema/modeler/1.0';

/** `modeler:executionPlatform` on the definitions: "Camunda Cloud" -> 'zeebe', "Camunda Platform" -> 'camunda'. */
function executionPlatformOf(root: any, ns: Map<string, string>): Dialect | null {
  for (const [attr, value] of Object.entries(root?.$attrs ?? {})) {
    const [prefix, local] = attr.includes(':') ? attr.split(':') : ['', attr];
    if (local !== 'executionPlatform' || ns.get(prefix) !== MODELER_NS) continue;
    if (/^camunda cloud$/i.test(String(value).trim())) return 'zeebe';
    if (/^camunda platform$/i.test(String(value).trim())) return 'camunda';
  }
  return null;
}

/**
 * With both Camunda namespaces declared and used, the document is read without either extension first: each
 * element's `camunda:` / `zeebe:` attributes and extension elements (metadata left out) tell which dialect it uses.
 * One dialect across the elements: that dialect. An element using both, or using the one fewer elements use, is a
 * problem naming it (the engine reads a document with one dialect's extensions).
 */
function dialectOfElements(root: any, ns: Map<string, string>): { dialect: Dialect; problems: Problem[] } {
  const prefixOf = (uri: string) => new Set([...ns].filter(([, u]) => u === uri).map(([p]) => p));
  const camunda = prefixOf(CAMUNDA_NS);
  const zeebe = prefixOf(ZEEBE_NS);
  const uses = new Map<any, { camunda: string[]; zeebe: string[] }>();
  const note = (el: any, qualified: string) => {
    const [prefix, local] = qualified.includes(':') ? qualified.split(':') : ['', qualified];
    const which = camunda.has(prefix) ? 'camunda' : zeebe.has(prefix) ? 'zeebe' : null;
    if (!which || DIALECT_METADATA.has(local.toLowerCase())) return;
    const holder = holderOf(el);
    const entry = uses.get(holder) ?? { camunda: [], zeebe: [] };
    if (!entry[which].includes(qualified)) entry[which].push(qualified);
    uses.set(holder, entry);
  };
  eachElement(root, (el) => {
    for (const attr of Object.keys(el.$attrs ?? {})) if (!attr.startsWith('xmlns')) note(el, attr);
    if (el.$descriptor?.isGeneric && el.$parent?.$type === 'bpmn:ExtensionElements') note(el.$parent.$parent ?? el, String(el.$type));
  });
  // the platform the modeler saved the diagram for decides: the other dialect's settings are then documentation
  // (a parse warning), as Camunda Modeler keeps them when a diagram is converted
  const platform = executionPlatformOf(root, ns);
  if (platform) return { dialect: platform, problems: [] };
  let camundaCount = 0;
  let zeebeCount = 0;
  for (const u of uses.values()) {
    if (u.camunda.length && !u.zeebe.length) camundaCount++;
    if (u.zeebe.length && !u.camunda.length) zeebeCount++;
  }
  const dialect: Dialect = camundaCount === 0 && zeebeCount === 0 ? 'plain' : zeebeCount > camundaCount ? 'zeebe' : 'camunda';
  const problems: Problem[] = [];
  const C7 = 'Camunda 7';
  const C8 = 'Camunda 8';
  for (const [el, u] of uses) {
    if (u.camunda.length && u.zeebe.length) {
      problems.push({
        element: problemElementId(el),
        message:
          `${describeElement(el)} uses both ${C7} (${u.camunda.join(', ')}) and ${C8} (${u.zeebe.join(', ')}) execution settings, ` +
          'which conflict: keep the ones of the platform the diagram is made for and remove the others.',
      });
    } else if (dialect === 'camunda' && u.zeebe.length) {
      problems.push({ element: problemElementId(el), message: `${describeElement(el)} uses ${C8} settings (${u.zeebe.join(', ')}) while the other elements of the diagram use ${C7} ones: write it with ${C7} settings (camunda:*) or remove them.` });
    } else if (dialect === 'zeebe' && u.camunda.length) {
      problems.push({ element: problemElementId(el), message: `${describeElement(el)} uses ${C7} settings (${u.camunda.join(', ')}) while the other elements of the diagram use ${C8} ones: write it with ${C8} settings (zeebe:*) or remove them.` });
    }
  }
  return { dialect, problems };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* warnings: encoding, foreign namespaces                                                                        */
/* ------------------------------------------------------------------------------------------------------------ */

const KNOWN_NAMESPACES = new Set([
  BPMN_NS,
  'http://www.omg.org/spec/BPMN/20100524/DI',
  'http://www.omg.org/spec/DD/20100524/DI',
  'http://www.omg.org/spec/DD/20100524/DC',
  'http://www.w3.org/2001/XMLSchema-instance',
  'http://www.w3.org/2001/XMLSchema',
  'http://www.w3.org/XML/1998/namespace',
  CAMUNDA_NS,
  ZEEBE_NS,
  MODELER_NS,
]);

/**
 * Attributes and extension elements in namespaces the engine does not read (another modeler's metadata such as
 * Signavio's or bpmn.io's colours): one warning per namespace, naming the first elements that carry them. With
 * both Camunda namespaces declared, the one not used counts as foreign.
 */
function foreignNamespaceWarnings(root: any, ns: Map<string, string>, dialect: Dialect): ParseWarning[] {
  const read = new Set(KNOWN_NAMESPACES);
  if (dialect === 'camunda') read.delete(ZEEBE_NS);
  if (dialect === 'zeebe') read.delete(CAMUNDA_NS);
  if (dialect === 'plain') {
    read.delete(CAMUNDA_NS);
    read.delete(ZEEBE_NS);
  }
  const found = new Map<string, { names: Set<string>; elements: string[] }>();
  const note = (el: any, qualified: string, uri: string | undefined) => {
    if (!uri || read.has(uri)) return;
    const entry = found.get(uri) ?? { names: new Set<string>(), elements: [] };
    entry.names.add(qualified);
    const id = problemElementId(holderOf(el));
    if (id && !entry.elements.includes(id)) entry.elements.push(id);
    found.set(uri, entry);
  };
  eachElement(root, (el) => {
    for (const attr of Object.keys(el.$attrs ?? {})) {
      if (attr === 'xmlns' || attr.startsWith('xmlns:')) continue;
      const prefix = attr.includes(':') ? attr.split(':')[0] : null;
      if (prefix) note(el, attr, ns.get(prefix));
    }
    if (el.$descriptor?.isGeneric && el.$parent?.$type === 'bpmn:ExtensionElements') {
      const type = String(el.$type);
      const prefix = type.includes(':') ? type.split(':')[0] : '';
      note(el.$parent.$parent ?? el, `<${type}>`, ns.get(prefix) ?? el.$descriptor?.ns?.uri);
    }
  });
  return [...found].map(([uri, { names, elements }]) => ({
    element: elements[0] ?? null,
    message:
      `The engine does not read ${[...names].slice(0, 5).join(', ')}${names.size > 5 ? ` and ${names.size - 5} more` : ''} (namespace ${uri})` +
      `${elements.length ? ` on ${elements.slice(0, 5).join(', ')}${elements.length > 5 ? ` and ${elements.length - 5} more elements` : ''}` : ''}: ignored.`,
  }));
}

/* ------------------------------------------------------------------------------------------------------------ */
/* expression languages                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

export const XPATH_URI = 'http://www.w3.org/1999/XPath';
/** FEEL as named by DMN 1.1 (the BPMN world's usual URI), DMN 1.2 and DMN 1.3 (also written with http or without the slash). */
const FEEL_URIS = ['http://www.omg.org/spec/feel/20140401', 'https://www.omg.org/spec/dmn/20180521/feel', 'https://www.omg.org/spec/dmn/20191111/feel'];
const comparable = (uri: string) => uri.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
const isFeelUri = (uri: string) => /^feel$/i.test(uri.trim()) || FEEL_URIS.some((u) => comparable(u) === comparable(uri));
const looksLikeExpression = (body: string) => /^\s*(=|\$\{|#\{)/.test(body);

/**
 * Which language a formal expression's body is in, from its `language`, else the `expressionLanguage` its
 * definitions declare: 'feel' (a FEEL URI: the body is FEEL without a leading "="), 'default' (no language said,
 * or a body written as `=...` / `${...}` under a declared XPath default, which tools write without meaning it:
 * read as everywhere else, src/engine/expression-syntax.ts), or `{ refused }` (XPath, or an unknown language:
 * the URI). The one place that decides it: the JUEL/FEEL classification of a 'default' body is
 * expression-syntax.ts's.
 */
export function bodyLanguage(expr: any, definitions: any): 'feel' | 'default' | { refused: string } {
  const body = typeof expr?.body === 'string' ? expr.body : '';
  const own = typeof expr?.language === 'string' && expr.language.trim() ? expr.language.trim() : null;
  const declared = definitions && Object.hasOwn(definitions, 'expressionLanguage') && typeof definitions.expressionLanguage === 'string' && definitions.expressionLanguage.trim() ? definitions.expressionLanguage.trim() : null;
  const language = own ?? declared;
  if (language === null) return 'default';
  if (isFeelUri(language)) return 'feel';
  if (/^juel$/i.test(language)) return 'default';
  if (comparable(language) === comparable(XPATH_URI)) return looksLikeExpression(body) ? 'default' : { refused: XPATH_URI };
  if (own === null && looksLikeExpression(body)) return 'default';
  return { refused: language };
}

const EXPRESSION_LABELS: Record<string, string> = {
  conditionExpression: 'condition',
  condition: 'event condition',
  timeDuration: 'timer duration',
  timeDate: 'timer date',
  timeCycle: 'timer cycle',
};

const TIMER_PROPERTIES = new Set(['timeDuration', 'timeDate', 'timeCycle']);
const ISO_LITERAL = /^\s*(R\d*\/|P(?=\d|T\d)|\d{4}-\d{2}-\d{2})/;

/**
 * Applies bodyLanguage to every formal expression of the document: a FEEL body gets its "=" (so deploy checks and
 * the runtime read it as FEEL, as they read `=...`); an ISO 8601 timer literal and a resource assignment whose FEEL
 * comes only from the definitions' default stay as written (tools write them that way whatever the default says).
 * Returns the expressions in a language that cannot run, each naming its element and what to write instead.
 */
function normalizeExpressionLanguages(root: any): (Problem & { processId: string | null })[] {
  const problems: (Problem & { processId: string | null })[] = [];
  eachElement(root, (el) => {
    if (el.$type !== 'bpmn:FormalExpression' && el.$type !== 'bpmn:Expression') return;
    if (typeof el.body !== 'string' || !el.body.trim()) return;
    const language = bodyLanguage(el, root);
    const parent = el.$parent;
    const property = parent ? Object.keys(parent).find((k) => parent[k] === el) ?? '' : '';
    if (language === 'feel') {
      const explicit = typeof el.language === 'string' && el.language.trim() !== '';
      if (TIMER_PROPERTIES.has(property) && ISO_LITERAL.test(el.body)) return;
      if (parent?.$type === 'bpmn:ResourceAssignmentExpression' && !explicit) return;
      if (looksLikeExpression(el.body)) return;
      el.body = `=${el.body.trim()}`;
      return;
    }
    if (language === 'default') return;
    if (TIMER_PROPERTIES.has(property) && ISO_LITERAL.test(el.body)) return; // an ISO 8601 literal whatever the language
    // a potentialOwner / humanPerformer body under a declared XPath default is the plain resource list the BPMN
    // interchange form writes (user(x), group(x), names), whatever the default says: read it as without a language
    const explicitLanguage = typeof el.language === 'string' && el.language.trim() !== '';
    if (parent?.$type === 'bpmn:ResourceAssignmentExpression' && !explicitLanguage && language.refused === XPATH_URI) return;
    const holder = holderOf(el);
    const what = EXPRESSION_LABELS[property] ?? (property ? property.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() : 'expression');
    const a = /^[aeiou]/.test(what) ? 'an' : 'a';
    const d = describeElement(holder);
    problems.push({
      element: problemElementId(holder),
      processId: processOf(el),
      message:
        language.refused === XPATH_URI
          ? `${d} has ${a} ${what} ${JSON.stringify(el.body.trim())} in XPath, which this engine does not evaluate: write it in FEEL, ` +
            'either as =<expression> (e.g. =amount > 1000) or with language="https://www.omg.org/spec/DMN/20191111/FEEL/" and the ' +
            'FEEL expression as the body.'
          : `${d} has ${a} ${what} written in ${language.refused}. Diagrams never run code, and no other language is evaluated: ` +
            `write the ${what} in FEEL instead (for example =amount > 1000, or the FEEL body with language="https://www.omg.org/spec/DMN/20191111/FEEL/").`,
    });
  });
  return problems;
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
    } else if (message.startsWith('unsupported document encoding')) {
      continue; // a warning (parseBpmn)
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

  const detected = detectDialect(xml);
  const text = withActivitiAsCamunda(xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml);
  const namespaces = declaredNamespaces(xml);

  let context: ModdleContext;
  let dialect: Dialect = detected === 'both' ? 'plain' : detected;
  try {
    if (detected === 'both') {
      const plain = await new BpmnModdle({}).fromXML(text);
      const byElements = dialectOfElements(plain.rootElement, namespaces);
      if (byElements.problems.length) throw new BpmnInvalidError(byElements.problems);
      dialect = byElements.dialect;
    }
    context = await new BpmnModdle(moddleOptionsFor(dialect)).fromXML(text);
  } catch (err: any) {
    if (err instanceof BpmnInvalidError) throw err;
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

  const warnings: ParseWarning[] = [];
  for (const w of context.warnings ?? []) {
    const encoding = /^unsupported document encoding <([^>]*)>/.exec(String(w.message ?? ''));
    if (encoding) {
      warnings.push({
        element: null,
        message:
          `The document declares the encoding ${encoding[1]}; files and HTTP uploads are decoded by it (ISO-8859-1 and ` +
          'windows-1252), and the deployed text is stored as Unicode. Text handed to the engine as a string is taken as it is.',
      });
    }
  }
  if (text !== xml && text !== xml.slice(1)) {
    warnings.push({ element: null, message: `The document declares Activiti's namespace ${ACTIVITI_NS}: its attributes are read as Camunda 7 ones (camunda:*), as Camunda 7 reads them.` });
  }
  warnings.push(...foreignNamespaceWarnings(root, namespaces, dialect));
  const languageProblems = normalizeExpressionLanguages(root);
  dropRolesWithoutAssignment(root);

  return { xml, dialect, moddleContext: context, processes, warnings, languageProblems };
}
