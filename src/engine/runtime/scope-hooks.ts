/**
 * Where the local scopes of activities (local-scopes.ts) meet bpmn-elements: one hook per activity, installed by
 * the run's extension (service-calls.ts createExtension), that watches the activity's own broker:
 * - `execute.start` of the activity (its root execution): a multi-instance body opens its scope
 *   (multi-instance.ts); any other activity gets its input mappings (mappings.ts);
 * - `execute.start` of a multi-instance iteration: its element, loopCounter and input mappings;
 * - `execute.completed` / `execute.discard` of an iteration: its result, output element and the counters, before
 *   bpmn-elements evaluates the completion condition (this hook is bound ahead of it, priority 500 > 300);
 * - the activity's `end`: its result (output mappings or propagation; a call activity's child variables, see
 *   call-activities.ts), or the body's output collection;
 * - `leave` / `discard`: its scopes are dropped.
 * Messages redelivered on resume find their scope already open and change nothing.
 */
import type { ActivityInfo } from '../definitions.ts';
import type { Variables } from '../runtime.ts';
import type { EngineObject, RunContext } from './context.ts';
import { closeScope, scopeOf } from './local-scopes.ts';
import { endActivity, resultOf, startScope } from './mappings.ts';
import { endBody, endIteration, startBody, startIteration } from './multi-instance.ts';
import { callResult, cancelCalls } from './call-activities.ts';

/**
 * What an execution's completion carries: a call activity's child variables (call-activities.ts decides what of
 * them is a result), else a handler's output, form data or a message payload (mappings.ts resultOf).
 */
function resultFrom(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: EngineObject): Variables | null {
  if (info.type === 'bpmn:CallActivity') return callResult(ctx, activity, info, content.executionId, content.output);
  return resultOf(info, content?.output);
}

const TAG = '_insureflow-scopes';

/** The hook of one activity: `activate` / `deactivate` follow the extension's. */
export function scopeHooks(ctx: RunContext, activity: EngineObject, info: ActivityInfo) {
  const isIteration = (c: EngineObject) => Boolean(info.loop && c?.isMultiInstance && !c?.isRootScope);
  const isBody = (c: EngineObject) => Boolean(info.loop && c?.isRootScope);

  const onExecute = (routingKey: string, message: EngineObject) => {
    const c = message?.content;
    if (!c?.executionId) return;
    if (routingKey === 'execute.start') {
      if (message.fields?.redelivered && scopeOf(ctx, c.executionId)) return;
      if (isBody(c)) startBody(ctx, activity, info, c);
      else if (isIteration(c)) startIteration(ctx, activity, info, c);
      else if (c.isRootScope) startScope(ctx, activity, info, c);
      return;
    }
    if (isIteration(c) && (routingKey === 'execute.completed' || routingKey === 'execute.discard')) {
      const discarded = routingKey === 'execute.discard';
      if (discarded) cancelCalls(ctx, c.executionId, `${activity.id} iteration ${c.index} was discarded`);
      endIteration(ctx, activity, info, c, discarded ? null : resultFrom(ctx, activity, info, c), discarded);
    }
  };

  return {
    activate() {
      activity.broker.subscribeTmp('execution', 'execute.#', onExecute, { noAck: true, consumerTag: TAG, priority: 500 });
      activity.on('end', (api: EngineObject) => {
        const c = api.content ?? {};
        if (isBody(c)) endBody(ctx, activity, info, c, true);
        else if (!isIteration(c)) endActivity(ctx, activity, info, c, resultFrom(ctx, activity, info, c));
      }, { consumerTag: `${TAG}-end` });
      const drop = (api: EngineObject) => {
        const id = api.content?.executionId;
        if (id && scopeOf(ctx, id)) closeScope(ctx, id);
      };
      activity.on('leave', drop, { consumerTag: `${TAG}-leave` });
      activity.on('discard', drop, { consumerTag: `${TAG}-discard` });
    },
    deactivate() {
      for (const tag of [TAG, `${TAG}-end`, `${TAG}-leave`, `${TAG}-discard`]) activity.broker.cancel(tag);
    },
  };
}
