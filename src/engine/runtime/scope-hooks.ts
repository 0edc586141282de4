/**
 * Where the local scopes of activities (local-scopes.ts) meet bpmn-elements: one hook per activity, installed by
 * the run's extension (service-calls.ts createExtension), that watches the activity's own broker:
 * - `execute.start` of the activity (its root execution): a multi-instance body opens its scope
 *   (multi-instance.ts); any other activity gets its input mappings (mappings.ts);
 * - `execute.start` of a multi-instance iteration: its element, loopCounter and input mappings;
 * - `execute.completed` / `execute.discard` of an iteration: its result, output element and the counters, before
 *   bpmn-elements evaluates the completion condition (this hook is bound ahead of it, priority 500 > 300);
 * - the activity's `end`: its result (output mappings or propagation), or the body's output collection;
 * - `leave` / `discard`: its scopes are dropped.
 * Messages redelivered on resume find their scope already open and change nothing.
 */
import type { ActivityInfo } from '../definitions.ts';
import type { Variables } from '../runtime.ts';
import type { EngineObject, RunContext } from './context.ts';
import { closeScope, scopeOf } from './local-scopes.ts';
import { endActivity, resultOf, startScope } from './mappings.ts';
import { endBody, endIteration, startBody, startIteration } from './multi-instance.ts';

/** Results of activity kinds this module does not know (a call activity's child variables) come from here. */
export type ResultReader = (info: ActivityInfo, content: EngineObject) => Variables | null;

const readers: ResultReader[] = [];

/** Lets another module (call-activities.ts) say what an activity's completion carries. */
export function addResultReader(reader: ResultReader): void {
  if (!readers.includes(reader)) readers.push(reader);
}

function resultFrom(info: ActivityInfo, content: EngineObject): Variables | null {
  for (const r of readers) {
    const v = r(info, content);
    if (v) return v;
  }
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
      endIteration(ctx, activity, info, c, resultFrom(info, c), routingKey === 'execute.discard');
    }
  };

  return {
    activate() {
      activity.broker.subscribeTmp('execution', 'execute.#', onExecute, { noAck: true, consumerTag: TAG, priority: 500 });
      activity.on('end', (api: EngineObject) => {
        const c = api.content ?? {};
        if (isBody(c)) endBody(ctx, activity, info, c, true);
        else if (!isIteration(c)) endActivity(ctx, activity, info, c, resultFrom(info, c));
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
