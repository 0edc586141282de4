/**
 * Analyst feedback on a BPMN diagram: bpmnlint's recommended rules plus bpmnlint-plugin-camunda-compat's rules for
 * the Camunda version the diagram was drawn for. Findings are warnings: they never block a deployment (our own
 * deploy checks in ./validate.ts, ./support.ts... decide what is refused).
 *
 * Which compat config: the Camunda Modeler's `modeler:executionPlatform` ("Camunda Platform" = 7, "Camunda
 * Cloud" = 8) and `modeler:executionPlatformVersion` on `definitions`; without them, the dialect the diagram's
 * extensions use (./parse.ts: camunda -> Camunda 7, zeebe -> Camunda 8) at DEFAULT_VERSIONS. A version the plugin
 * has no config for is linted with the nearest older one (a newer version than the plugin knows: its newest);
 * a version older than the plugin's oldest config (Camunda 7.18 and before) gets no compat rules. A plain BPMN
 * diagram gets the recommended rules only.
 *
 * Tooling, not engine: the engine calls it through the optional `lint` port (src/engine/deployment.ts,
 * DeploymentLinter) after a deployment committed, and `insureflow lint` (src/lint-cli.ts) calls it directly. Rules
 * and configs are loaded from this package's node_modules, whatever the working directory.
 */
import { createRequire } from 'node:module';
// @ts-ignore -- untyped module; the shape we use is declared below
import { BpmnModdle as UntypedBpmnModdle } from 'bpmn-moddle';
import { moddleOptionsFor, type Dialect, type ParsedBpmn } from './parse.ts';
import type { DeploymentLinter, DeploymentWarning } from '../engine/deployment.ts';

const require = createRequire(import.meta.url);

interface LintReport {
  id?: string;
  message: string;
  category: string;
}
interface BpmnLinter {
  lint(root: unknown): Promise<Record<string, LintReport[]>>;
}
type RuleDefinition = { check: unknown; meta?: unknown };
const { Linter } = require('bpmnlint') as {
  Linter: new (opts: { config: object; resolver: unknown; transformRule?: (rule: RuleDefinition, o: { pkg: string; ruleName: string }) => RuleDefinition }) => BpmnLinter;
};
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver') as new (opts: { require: NodeJS.Require }) => unknown;
const compat = require('bpmnlint-plugin-camunda-compat') as { configs: Record<string, unknown> };

type BpmnModdleCtor = new (packages?: Record<string, unknown>) => { fromXML(xml: string): Promise<{ rootElement: any }> };
const BpmnModdle = UntypedBpmnModdle as BpmnModdleCtor;

export const MODELER_NS = 'http://camunda.org/schema/modeler/1.0';
/** The version linted against when a diagram says its platform (or uses its extensions) but not its version. */
export const DEFAULT_VERSIONS = { 'camunda-platform': '7.22', 'camunda-cloud': '8.6' } as const;

export type Platform = 'camunda-platform' | 'camunda-cloud';

/** One finding: the rule (`label-required`, `camunda-compat/history-time-to-live`), the element id, the message. */
export interface LintFinding {
  rule: string;
  element?: string;
  message: string;
}

/** What a diagram is linted against: its platform and version (null: plain BPMN) and the bpmnlint configs. */
export interface LintTarget {
  platform: Platform | null;
  /** the version asked for (`7.22`, `8.6.0`...), null for plain BPMN */
  version: string | null;
  /** the compat config chosen (`camunda-platform-7-22`), null when none applies */
  compatConfig: string | null;
  /** the bpmnlint `extends` list */
  extends: string[];
}

const parseVersion = (v: string): [number, number] | null => {
  const m = /^\s*(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : null;
};
const compare = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];

/** The compat configs the installed plugin exports for a platform, oldest first: [config name, [major, minor]]. */
function compatConfigs(platform: Platform): [string, [number, number]][] {
  const out: [string, [number, number]][] = [];
  for (const name of Object.keys(compat.configs)) {
    const m = new RegExp(`^${platform}-(\\d+)-(\\d+)$`).exec(name);
    if (m) out.push([name, [Number(m[1]), Number(m[2])]]);
  }
  return out.sort((a, b) => compare(a[1], b[1]));
}

/** The compat config for a platform version (see the module comment), or null when the plugin has none for it. */
export function compatConfigFor(platform: Platform, version: string): string | null {
  const wanted = parseVersion(version) ?? parseVersion(DEFAULT_VERSIONS[platform])!;
  const configs = compatConfigs(platform);
  let chosen: string | null = null;
  for (const [name, v] of configs) if (compare(v, wanted) <= 0) chosen = name;
  return chosen;
}

/** The platform and version a diagram was drawn for (see the module comment). */
export function lintTarget(parsed: Pick<ParsedBpmn, 'dialect' | 'moddleContext'>): LintTarget {
  const root = parsed.moddleContext?.rootElement;
  const attrs: Record<string, unknown> = root?.$attrs ?? {};
  const prefix = Object.entries(attrs).find(([k, v]) => k.startsWith('xmlns:') && v === MODELER_NS)?.[0].slice('xmlns:'.length);
  const attr = (name: string) => {
    const v = prefix ? attrs[`${prefix}:${name}`] : undefined;
    return typeof v === 'string' && v.trim() ? v.trim() : null;
  };
  const declared = attr('executionPlatform');
  let platform: Platform | null = null;
  if (declared && /platform|\b7\b/i.test(declared)) platform = 'camunda-platform';
  else if (declared && /cloud|\b8\b/i.test(declared)) platform = 'camunda-cloud';
  else if (parsed.dialect === 'camunda') platform = 'camunda-platform';
  else if (parsed.dialect === 'zeebe') platform = 'camunda-cloud';
  if (!platform) return { platform: null, version: null, compatConfig: null, extends: ['bpmnlint:recommended'] };
  const version = (declared ? attr('executionPlatformVersion') : null) ?? DEFAULT_VERSIONS[platform];
  const compatConfig = compatConfigFor(platform, version);
  return { platform, version, compatConfig, extends: ['bpmnlint:recommended', ...(compatConfig ? [`plugin:camunda-compat/${compatConfig}`] : [])] };
}

/** A rule that throws reports that once, on the element it failed at, instead of bpmnlint's console.error. */
function guarded(rule: RuleDefinition, { pkg, ruleName }: { pkg: string; ruleName: string }): RuleDefinition {
  const wrap = (fn: unknown) =>
    typeof fn !== 'function'
      ? fn
      : (node: any, reporter: { report(id: string, message: string): void }) => {
          try {
            return fn(node, reporter);
          } catch (err) {
            reporter.report(node?.id, `the lint rule ${pkg === 'bpmnlint' ? '' : pkg + '/'}${ruleName} could not check this element: ${(err as Error).message}`);
            return false;
          }
        };
  const check = rule.check as any;
  return { ...rule, check: typeof check === 'function' ? wrap(check) : { ...check, ...(check?.enter ? { enter: wrap(check.enter) } : {}), ...(check?.leave ? { leave: wrap(check.leave) } : {}) } };
}

/**
 * A new Linter per diagram: bpmnlint keeps rule instances per Linter and some rules keep state between runs
 * (no-duplicate-sequence-flows remembers the flows it saw: a second diagram with the same ids would be reported
 * as duplicates). The rule modules themselves are loaded once (require's cache).
 */
function linterFor(target: LintTarget): BpmnLinter {
  return new Linter({ config: { extends: target.extends }, resolver: new NodeResolver({ require }), transformRule: guarded });
}

/** Every sequence flow of a diagram (processes and sub-processes at any depth). */
function* sequenceFlows(root: any): Generator<any> {
  const stack: any[] = [...(root?.rootElements ?? [])];
  while (stack.length) {
    const el = stack.pop();
    for (const child of el?.flowElements ?? []) {
      if (child?.$type === 'bpmn:SequenceFlow') yield child;
      else if (child?.flowElements) stack.push(child);
    }
  }
}

/**
 * Whether a node misses a flow in its `incoming`/`outgoing` lists. Modelers write those lists, hand-written
 * diagrams often do not: the engine follows the flows' sourceRef/targetRef, bpmnlint reads the lists (and would
 * call every node of such a diagram disconnected). Such a diagram is linted with the lists completed.
 */
function flowRefsIncomplete(root: any): boolean {
  for (const f of sequenceFlows(root)) {
    if (f.sourceRef && !(f.sourceRef.outgoing ?? []).includes(f)) return true;
    if (f.targetRef && !(f.targetRef.incoming ?? []).includes(f)) return true;
  }
  return false;
}

function completeFlowRefs(root: any): void {
  for (const f of sequenceFlows(root)) {
    if (f.sourceRef && !f.sourceRef.get('outgoing').includes(f)) f.sourceRef.get('outgoing').push(f);
    if (f.targetRef && !f.targetRef.get('incoming').includes(f)) f.targetRef.get('incoming').push(f);
  }
}

/** The moddle extension the compat rules read (camunda:* or zeebe:* properties) for a platform. */
const dialectOf = (platform: Platform | null): Dialect => (platform === 'camunda-platform' ? 'camunda' : platform === 'camunda-cloud' ? 'zeebe' : 'plain');

/**
 * Lints a parsed diagram. The parsed tree is linted as it is when it was read with the extension the platform
 * needs and its nodes list their flows; otherwise (a plain diagram that says it is for Camunda 7 or 8, a
 * hand-written one without `incoming`/`outgoing`) a copy read again is. Never throws for a finding; a rule that
 * fails is reported as a finding of that rule.
 */
export async function lintBpmn(parsed: Pick<ParsedBpmn, 'xml' | 'dialect' | 'moddleContext'>): Promise<{ target: LintTarget; findings: LintFinding[] }> {
  const target = lintTarget(parsed);
  let root = parsed.moddleContext?.rootElement;
  const needed = dialectOf(target.platform) === 'plain' ? parsed.dialect : dialectOf(target.platform);
  const incomplete = flowRefsIncomplete(root);
  if (needed !== parsed.dialect || incomplete) {
    // our own copy: read with the extension the rules need, or completed (the deployed tree is never changed)
    const text = parsed.xml.charCodeAt(0) === 0xfeff ? parsed.xml.slice(1) : parsed.xml;
    root = (await new BpmnModdle(moddleOptionsFor(needed)).fromXML(text)).rootElement;
    if (incomplete) completeFlowRefs(root);
  }
  const results = await linterFor(target).lint(root);
  const findings: LintFinding[] = [];
  for (const [rule, reports] of Object.entries(results)) {
    for (const r of reports) {
      if (r.category === 'off') continue;
      findings.push({ rule, ...(r.id ? { element: r.id } : {}), message: r.message });
    }
  }
  return { target, findings };
}

/**
 * Drops the findings that repeat a refusal we already give: those about an element that a deploy problem of the
 * same resource names (the refusal says what to fix there; e.g. no-complex-gateway next to our complex gateway
 * refusal).
 */
export function withoutRefused<T extends { resource: string; element?: string }>(findings: T[], problems: { resource: string; element: string | null }[]): T[] {
  const refused = new Set(problems.filter((p) => p.element).map((p) => `${p.resource}\u0000${p.element}`));
  return findings.filter((f) => !f.element || !refused.has(`${f.resource}\u0000${f.element}`));
}

/** The engine's lint port over bpmnlint (src/engine/deployment.ts, DeploymentLinter). */
export const bpmnLinter: DeploymentLinter = async ({ name, parsed }) => {
  const { findings } = await lintBpmn(parsed);
  return findings.map((f): DeploymentWarning => ({ resource: name, ...(f.element ? { element: f.element } : {}), message: f.message, source: 'bpmnlint', rule: f.rule }));
};
