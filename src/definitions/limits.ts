/**
 * Deploy-time limits on the size and shape of a BPMN document (the limits and their reasons:
 * src/engine/limits.ts), each a problem naming the element to fix and what to write instead:
 * - `structureProblems`: sub-processes nested deeper than the limit, processes with more flow elements than the
 *   limit. Read from the XML text itself, in one pass and before bpmn-moddle parses it: a 3,000-level or
 *   10,000-element document is refused in milliseconds instead of being parsed, validated and compiled (the
 *   serializer's recursion overflows the stack at about 3,000 levels).
 * - `cyclePeriodProblem`: a timer cycle firing more often than the minimum period (R/PT0S, R5/PT0.1S).
 *
 * The scan is an approximation of an XML parser that is enough for counting: it skips comments, CDATA, processing
 * instructions and declarations, reads tag names and the `id` attribute, and resolves the BPMN namespace from the
 * `xmlns` declarations of the document. A document that is not well-formed is left to the parser to refuse.
 */
import { BPMN_NS, type Problem } from './parse.ts';
import { durationMs, parseCycle } from '../engine/iso.ts';
import { LIMIT_ENV, count } from '../engine/limits.ts';

export interface StructureLimits {
  maxNestingDepth: number;
  maxFlowElements: number;
}

/** Sub-process kinds: each one is a level of nesting (an event sub-process is a bpmn:subProcess too). */
const CONTAINERS = new Set(['subProcess', 'transaction', 'adHocSubProcess']);

/** The BPMN 2.0 FlowElement kinds: what a process holds and bpmn-engine builds an object for. */
const FLOW_ELEMENTS = new Set([
  'task', 'userTask', 'serviceTask', 'sendTask', 'receiveTask', 'manualTask', 'businessRuleTask', 'scriptTask', 'callActivity',
  'subProcess', 'transaction', 'adHocSubProcess',
  'startEvent', 'endEvent', 'intermediateCatchEvent', 'intermediateThrowEvent', 'boundaryEvent', 'implicitThrowEvent',
  'exclusiveGateway', 'parallelGateway', 'inclusiveGateway', 'eventBasedGateway', 'complexGateway',
  'sequenceFlow', 'dataObject', 'dataObjectReference', 'dataStoreReference',
  'callChoreography', 'subChoreography', 'choreographyTask',
]);

const TOKEN = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|<!(?:[^>"']|"[^"]*"|'[^']*')*>|<(\/?)([^\s/>!?]+)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;
const XMLNS = /\sxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ID = /(?:^|\s)id\s*=\s*(?:"([^"]*)"|'([^']*)')/;

/** Prefixes bound to the BPMN model namespace anywhere in the document ('' for the default namespace). */
function bpmnPrefixes(xml: string): Set<string> {
  const out = new Set<string>();
  for (const m of xml.matchAll(XMLNS)) if ((m[2] ?? m[3]) === BPMN_NS) out.add(m[1] ?? '');
  return out;
}

interface Open {
  /** local name when the element is in the BPMN namespace, else null */
  bpmn: string | null;
}

/**
 * Every process deeper or larger than the limits, read from the XML text (see the module comment): at most one
 * nesting problem per process (its first sub-process beyond the limit) and one size problem per process.
 * Runs in one pass over the text, whatever its structure.
 */
export function structureProblems(xml: string, limits: StructureLimits): Problem[] {
  const problems: Problem[] = [];
  const prefixes = bpmnPrefixes(xml);
  if (!prefixes.size) return problems; // not a BPMN document: the parser says so
  const stack: Open[] = [];
  let process: { id: string | null; elements: number; deepReported: boolean } | null = null;
  let depth = 0; // sub-process levels open inside the current process
  for (const m of xml.matchAll(TOKEN)) {
    const name = m[2];
    if (name === undefined) continue; // comment, CDATA, processing instruction, declaration
    const colon = name.indexOf(':');
    const prefix = colon < 0 ? '' : name.slice(0, colon);
    const local = colon < 0 ? name : name.slice(colon + 1);
    const bpmn = prefixes.has(prefix) ? local : null;
    if (m[1] === '/') {
      const open = stack.pop();
      if (open?.bpmn && CONTAINERS.has(open.bpmn) && process) depth--;
      if (open?.bpmn === 'process' && process) {
        if (process.elements > limits.maxFlowElements) problems.push(sizeProblem(process.id, process.elements, limits.maxFlowElements));
        process = null;
      }
      continue;
    }
    const attrs = m[3];
    const selfClosing = attrs.endsWith('/');
    if (bpmn === 'process' && !selfClosing) {
      process = { id: idOf(attrs), elements: 0, deepReported: false };
      depth = 0;
    } else if (process && bpmn !== null && FLOW_ELEMENTS.has(bpmn)) {
      process.elements++;
      if (CONTAINERS.has(bpmn)) {
        const level = depth + 1;
        if (level > limits.maxNestingDepth && !process.deepReported) {
          process.deepReported = true;
          problems.push(depthProblem(idOf(attrs), level, limits.maxNestingDepth));
        }
        if (!selfClosing) depth++;
      }
    }
    if (!selfClosing) stack.push({ bpmn });
  }
  return problems;
}

function idOf(attrs: string): string | null {
  const m = ID.exec(attrs);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function depthProblem(id: string | null, level: number, max: number): Problem {
  return {
    element: id,
    message:
      `Sub-process ${id ?? '(without id)'} is nested ${count(level)} levels deep (sub-processes, event sub-processes ` +
      `and transactions inside each other); the limit is ${count(max)} (${LIMIT_ENV.maxNestingDepth}). Move the inner ` +
      'levels into a process of their own and call it with a call activity, or flatten the nesting.',
  };
}

function sizeProblem(id: string | null, elements: number, max: number): Problem {
  return {
    element: id,
    message:
      `Process ${id ?? '(without id)'} has ${count(elements)} flow elements (tasks, events, gateways, sequence flows ` +
      `and data objects, those in sub-processes included); the limit is ${count(max)} ` +
      `(${LIMIT_ENV.maxFlowElements}). Split it: move parts into processes of their own and call them with call ` +
      'activities.',
  };
}

/**
 * Why a timer cycle (`R3/PT1H`, `R/2030-01-01T08:00:00Z/P1D`) fires too often, as a sentence fragment such as
 * 'it fires every 0 ms; ...'; null when its period is at least `minMs` or when the text is not a cycle (other
 * checks say so).
 */
export function cyclePeriodProblem(value: string, minMs: number): string | null {
  const cycle = parseCycle(value);
  if (!cycle) return null;
  const period = durationMs(cycle.duration, cycle.start ?? 0);
  if (period === null || period >= minMs) return null;
  const seconds = Math.max(1, Math.ceil(minMs / 1000));
  const instead = value.trim().replace(/[^/]+$/, `PT${seconds}S`);
  return (
    `it fires every ${count(period)} ms, more often than the shortest period allowed, ${count(minMs)} ms ` +
    `(${LIMIT_ENV.minTimerCycleMs}): write a longer period, e.g. ${instead}`
  );
}
