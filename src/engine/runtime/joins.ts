/**
 * Converging gateways: a parallel join waits for a token on every incoming flow, and a converging inclusive
 * gateway waits for every token that can still arrive (BPMN 2.0 13.3.4), whatever the branches passed through.
 *
 * bpmn-elements (17.x) synchronises a parallel join by source: each incoming flow delivers a take or a discard
 * (its dead-path elimination), and the join fires once every source delivered one. An exclusive merge with
 * two incoming flows is discarded as soon as the not-taken branch of its split reports a discard, so the join
 * behind it counts that discard and fires on the other branches alone; the real token arrives later and the
 * join then waits for ever (paed01/bpmn-engine#200). A converging inclusive gateway does not synchronise at
 * all: every token passes on its own.
 *
 * Both are handled here: an engine extension gives converging parallel and inclusive gateways our own join
 * handler in place of bpmn-elements' (the `Symbol.for('messageHandlers')` / `Symbol.for('flows')` /
 * `Symbol.for('flags')` internals of its Activity; pinned by the feature tests in test/feature/joins.test.ts):
 *  - the join keeps one set of inbound messages and completes when every source delivered one, as upstream;
 *  - when it completes with a take from some sources and only discards from others, the decision waits until
 *    the run is quiescent (runtime/context.ts stable()). A discard whose source a live token can still reach
 *    (a running activity of the same scope, or a join holding tokens, with a path of sequence flows to the
 *    source that does not pass through this gateway) is premature: it is set aside ("absorbed") and the join
 *    keeps waiting for that source's real token. Otherwise the join fires.
 *  - when it fires, the absorbed discards go into its run's inbound with the rest, so the process execution
 *    sees every flow message it tracks consumed (or it would never complete). They stay unacknowledged in the
 *    join's queue until then, so a saved state keeps them and a recovered run absorbs them again.
 * A join that receives only discards is discarded as before (a dead path). The spec's further exception (a
 * path through a node that also reaches a non-empty incoming flow) is not applied.
 */
import type { EngineObject, RunContext } from './context.ts';

const kFlows = Symbol.for('flows');
const kFlags = Symbol.for('flags');
const kHandlers = Symbol.for('messageHandlers');
const kAbsorbed = Symbol('insureflow absorbed discards');

interface JoinFlows {
  inboundSequenceFlows: { sourceId: string }[];
  /** the inbound messages counted by the join (bpmn-elements' own set) */
  inboundJoinFlows: Set<EngineObject>;
  inboundSourceIds: Set<string>;
}

const isTake = (m: EngineObject) => m.fields?.routingKey === 'flow.take';
const sourceOf = (m: EngineObject) => m.content.sourceId as string;

/** The engine extension: installs our join on converging parallel and inclusive gateways. */
export function createJoinExtension(ctx: RunContext) {
  return (activity: EngineObject) => {
    const flows: JoinFlows | undefined = activity[kFlows];
    const handlers = activity[kHandlers];
    if (!flows || !handlers || (flows.inboundSequenceFlows?.length ?? 0) < 2) return;
    if (activity.type === 'bpmn:InclusiveGateway') {
      // a converging inclusive gateway becomes a join (bpmn-elements passes every token through on its own);
      // the flag gives its inbound consumer the join's prefetch
      activity[kFlags].isParallelJoin = true;
      flows.inboundJoinFlows = new Set();
      flows.inboundSourceIds = new Set(flows.inboundSequenceFlows.map((f) => f.sourceId));
    } else if (!(activity.type === 'bpmn:ParallelGateway' && activity[kFlags]?.isParallelJoin)) {
      return;
    }
    activity[kAbsorbed] = new Set<EngineObject>();
    handlers.onInbound = (_routingKey: string, message: EngineObject) => onJoinInbound(ctx, activity, flows, message);
  };
}

function onJoinInbound(ctx: RunContext, activity: EngineObject, flows: JoinFlows, message: EngineObject): void {
  const set = flows.inboundJoinFlows;
  const touched = new Set([...set].map(sourceOf));
  set.add(message);
  // complete already and waiting for its decision: a later token joins this firing
  if (ctx.heldJoins.has(activity) || touched.has(sourceOf(message))) return;
  if (touched.size + 1 < flows.inboundSourceIds.size) return;
  const takenFrom = new Set([...set].filter(isTake).map(sourceOf));
  if (takenFrom.size > 0 && takenFrom.size < flows.inboundSourceIds.size) {
    ctx.heldJoins.set(activity, () => decide(activity, flows));
    return;
  }
  fire(activity, flows, takenFrom.size > 0);
}

/** At quiescence: absorb the discards a live token can still overtake, or fire the join. */
function decide(activity: EngineObject, flows: JoinFlows): void {
  const set = flows.inboundJoinFlows;
  const takenFrom = new Set([...set].filter(isTake).map(sourceOf));
  const premature = new Set([...flows.inboundSourceIds].filter((s) => !takenFrom.has(s) && reachableByLiveToken(activity, s)));
  if (!premature.size) return fire(activity, flows, true);
  const absorbed: Set<EngineObject> = activity[kAbsorbed];
  for (const m of [...set]) {
    if (!premature.has(sourceOf(m))) continue;
    set.delete(m);
    absorbed.add(m);
  }
}

/** What bpmn-elements does when a join completes (Activity.prototype._onJoinInbound), absorbed discards included. */
function fire(activity: EngineObject, flows: JoinFlows, taken: boolean): void {
  const absorbed: Set<EngineObject> = activity[kAbsorbed];
  const messages = [...flows.inboundJoinFlows, ...absorbed];
  flows.inboundJoinFlows.clear();
  absorbed.clear();
  const inbound: unknown[] = [];
  const discardSequence = new Set<string>();
  for (const m of messages) {
    m.ack();
    inbound.push({ ...m.content });
    if (!taken) for (const id of m.content.discardSequence ?? []) discardSequence.add(id);
  }
  activity.broker.cancel('_run-on-inbound');
  if (taken) activity.run({ inbound });
  else activity._runDiscard({ inbound, discardSequence: [...discardSequence] });
}

/**
 * Whether a token of the gateway's scope can still reach `sourceId`: a running sibling activity, or a join
 * holding tokens, from which a path of sequence flows leads to it without passing through the gateway.
 */
function reachableByLiveToken(gateway: EngineObject, sourceId: string): boolean {
  const siblings: EngineObject[] = gateway.context?.getActivities?.(gateway.parent?.id) ?? [];
  const byId = new Map<string, EngineObject>(siblings.map((a) => [a.id as string, a]));
  const predecessors = new Map<string, string[]>();
  for (const a of siblings) {
    for (const f of a.outbound ?? []) {
      const list = predecessors.get(f.targetId) ?? [];
      list.push(a.id);
      predecessors.set(f.targetId, list);
    }
  }
  const seen = new Set<string>();
  const queue = [sourceId];
  while (queue.length) {
    const id = queue.shift() as string;
    if (seen.has(id) || id === gateway.id) continue;
    seen.add(id);
    const a = byId.get(id);
    if (a && isLive(a)) return true;
    queue.push(...(predecessors.get(id) ?? []));
  }
  return false;
}

function isLive(a: EngineObject): boolean {
  if (a.status) return true;
  const joined: Set<unknown> | undefined = a[kFlows]?.inboundJoinFlows;
  return Boolean(joined && joined.size > 0);
}
