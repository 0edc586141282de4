/**
 * Service calls of a run: the bpmn-engine extension that gives handler-bound and business rule tasks our
 * Service implementation, the calls themselves (a registered handler, or a deployed decision through the
 * DecisionEvaluator), and what a call's outcome does: a result merges into the variables and continues the task;
 * a BPMN error goes to a boundary event that catches its code, else an incident; a technical failure is parked
 * (FailureItem) for a retry job after retryDelayMs, or an incident when attempts are exhausted.
 * Handlers of one transition run one at a time, each in a savepoint of the transition's unit of work.
 */
import { BpmnError } from '../../errors.ts';
import type { ActivityInfo } from '../definitions.ts';
import { durationMs } from '../iso.ts';
import type { DecisionCall, HandlerContext, RegisteredHandler, Variables } from '../runtime.ts';
import type { UnitOfWork } from '../unit-of-work.ts';
import { clone, errorText, trackContinuation, type EngineObject, type RunContext } from './context.ts';
import { mergeVariables } from './variables.ts';
import { visibleVariables } from './local-scopes.ts';
import { scopeHooks } from './scope-hooks.ts';
import { handlerErrorCaught, interceptThrowEvents, uncaughtErrorText } from './bpmn-events.ts';
import { disableNativeStart } from './event-subprocesses.ts';
import { interceptCompensation } from './compensation.ts';
import { assertTextValues } from '../text-values.ts';
import { executeExternal, externalTopicOf } from './external-tasks.ts';

/**
 * The wait (ms) after failed attempt `attempt` (1 = the first call) before the next one. `backoff` is the
 * diagram's (ActivityInfo.retryBackoff): one ISO 8601 duration for every retry (R5/PT5M), or a list used in turn
 * whose last wait repeats (camunda:failedJobRetryTimeCycle PT1M,PT5M,PT30M). Without one (or with an unreadable
 * one): 10 s, 20 s, 40 s ... capped at 10 minutes.
 */
export function retryDelayMs(backoff: string | readonly string[] | null, attempt: number): number {
  const waits = typeof backoff === 'string' ? [backoff] : (backoff ?? []);
  if (waits.length) {
    const ms = durationMs(waits[Math.min(Math.max(1, Math.floor(attempt)), waits.length) - 1]);
    if (ms !== null) return ms;
  }
  // default back-off: 10 s, 20 s, 40 s ... capped at 10 minutes
  return Math.min(10_000 * 2 ** Math.max(0, attempt - 1), 600_000);
}

type Callback = (err: unknown, out?: unknown) => void;

const isBpmnError = (err: unknown): err is BpmnError => err instanceof BpmnError || (err as EngineObject)?.name === 'BpmnError';

/**
 * The bpmn-engine extension of a run: handler-bound tasks get our Service implementation; what an activity's
 * completion carries (a handler's or decision's output, a user task's form data, a message payload) is written to
 * the variables by scope-hooks.ts when it ends (bpmn-engine does not do this by itself).
 */
export function createExtension(ctx: RunContext) {
  const calls = new ServiceCalls(ctx);
  return (activity: EngineObject) => {
    const info = ctx.infoOf(activity.id);
    if (!info) return;
    interceptThrowEvents(ctx, activity);
    interceptCompensation(ctx, activity);
    disableNativeStart(activity);
    if (info.handler || info.decision) {
      activity.behaviour.Service = function InsureflowService() {
        return {
          type: 'insureflow:service',
          execute: (executionMessage: EngineObject, callback: Callback) => calls.execute(activity, info, executionMessage, callback),
        };
      };
    }
    // results (handler output, form data, message payload), input / output mappings, multi-instance data
    return scopeHooks(ctx, activity, info);
  };
}

class ServiceCalls {
  /** the tail of the one-at-a-time handler queue */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: RunContext) {}

  /** bpmn-elements calls this when a service or business rule task runs (also again after a resume). */
  execute(activity: EngineObject, info: ActivityInfo, msg: EngineObject, callback: Callback): void {
    const { ctx } = this;
    const { input, meta } = ctx;
    const executionId: string = msg.content.executionId;
    const pending = input.pending.get(executionId);
    const isTargeted = input.action.kind === 'retry' && input.action.executionId === executionId;
    // bound to a topic or job type no handler serves: an external task, waiting for a worker (external-tasks.ts)
    const topic = externalTopicOf(activity, info, ctx.deps.handlers);
    if (topic !== null) return executeExternal(ctx, activity, info, msg, topic, callback, (e) => this.fail(activity, info, executionId, callback, e, 1, topic));
    if (pending && !isTargeted) return; // parked: waits for its retry job or an operator
    let idempotencyKey = meta.keys[executionId];
    if (!idempotencyKey) {
      const n = (meta.counters[activity.id] ?? 0) + 1;
      meta.counters[activity.id] = n;
      idempotencyKey = meta.keys[executionId] = `${input.instanceId}:${activity.id}:${n}`;
    }
    if (info.asyncBefore && !info.decision && !isTargeted) {
      // camunda:asyncBefore: park behind a job due now; the caller commits first, then runs the job
      ctx.failures.push({ executionId, activityId: activity.id, handler: info.handler as string, attempt: 0, error: '', retryAt: ctx.deps.clock.now(), deferred: true });
      return;
    }
    // the process variables and the execution's locals (input mappings, multi-instance element), no engine internals
    const variables = Object.freeze(visibleVariables(ctx, msg.content, activity.environment.variables));
    const attempt = (pending?.attempts ?? 0) + 1;
    if (info.decision) this.evaluateDecision(activity, info, executionId, attempt, variables, callback);
    else this.callHandler(activity, info, executionId, attempt, idempotencyKey, variables, callback);
  }

  private evaluateDecision(activity: EngineObject, info: ActivityInfo, executionId: string, attempt: number, variables: Readonly<Variables>, callback: Callback) {
    const { ctx } = this;
    const { def, input } = ctx;
    const decision = info.decision!;
    const bound = def.bindings?.decisions?.[activity.id];
    const binding = decision.binding?.type ?? 'latest';
    const call: DecisionCall = {
      decisionKey: decision.decisionId,
      binding,
      version: binding === 'deployment' || binding === 'version' ? (bound?.version ?? decision.binding?.version ?? null) : null,
      versionTag: binding === 'versionTag' ? (decision.binding?.versionTag ?? null) : null,
      definitionId: def.id,
      activityId: activity.id,
      unitOfWork: input.unitOfWork,
    };
    const resultVariable = decision.resultVariable ?? decision.decisionId;
    const p = Promise.resolve()
      .then(() => ctx.deps.decisions.evaluate(call, variables))
      .then(
        (out) => {
          const result = clone(out.result);
          ctx.push({
            type: 'decision.evaluated',
            activityId: activity.id,
            activityType: activity.type,
            actor: 'system',
            data: { decisionId: decision.decisionId, decisionKey: out.decisionKey, decisionVersion: out.version, binding, inputs: clone(out.inputs), matchedRules: out.matchedRules, outputs: clone(out.outputs), result: result as EngineObject },
          });
          ctx.settled.push(executionId);
          callback(null, { [resultVariable]: result });
        },
        (err) => {
          // a decision that cannot be evaluated fails the same way every time: open an incident at once
          const message = `decision ${decision.decisionId} failed: ${errorText(err)}`;
          ctx.push({ type: 'handler.failed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { decision: decision.decisionId, attempt, error: message, incident: true } });
          ctx.failures.push({ executionId, activityId: activity.id, handler: `decision:${decision.decisionId}`, attempt, error: message, retryAt: null });
        },
      );
    this.track(p);
  }

  private callHandler(activity: EngineObject, info: ActivityInfo, executionId: string, attempt: number, idempotencyKey: string, variables: Readonly<Variables>, callback: Callback) {
    const { ctx } = this;
    const { input } = ctx;
    const handlerName = info.handler as string;
    const registered = ctx.deps.handlers.get(handlerName);
    if (!registered) return this.fail(activity, info, executionId, callback, new Error(`handler "${handlerName}" is not registered`), attempt, handlerName);
    const timeoutMs = registered.options.timeoutMs ?? 30_000;
    ctx.push({ type: 'handler.called', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: handlerName, attempt } });
    const p = this.oneAtATime(() => this.inSavepoint(registered, timeoutMs, (unitOfWork, signal) => ({
      instanceId: input.instanceId,
      businessKey: input.businessKey,
      activityId: activity.id,
      executionId,
      attempt,
      variables,
      idempotencyKey,
      signal,
      actor: input.actor,
      unitOfWork,
    }))).then(
      (out) => {
        const output = out && typeof out === 'object' ? clone(out as Variables) : {};
        ctx.push({ type: 'handler.completed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: handlerName, attempt, output } });
        ctx.settled.push(executionId);
        callback(null, output);
      },
      (err) => this.fail(activity, info, executionId, callback, err, attempt, handlerName),
    );
    this.track(p);
  }

  private fail(activity: EngineObject, info: ActivityInfo, executionId: string, callback: Callback, err: unknown, att: number, name: string): void {
    const { ctx } = this;
    if (isBpmnError(err)) {
      const e = err;
      ctx.push({ type: 'handler.failed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: name, attempt: att, bpmnError: e.code, error: e.message } });
      // the catcher (boundary event or event sub-process, at any enclosing scope) cancels the task: no callback
      if (handlerErrorCaught(ctx, activity, executionId, e)) {
        ctx.settled.push(executionId);
        return;
      }
      // nothing catches this code: an operator must look at it
      ctx.failures.push({ executionId, activityId: activity.id, handler: name, attempt: att, error: uncaughtErrorText(String(e.code), e.message), retryAt: null, bpmnError: { code: String(e.code), message: e.message } });
      return;
    }
    const clock = ctx.deps.clock;
    const retries = info.retries ?? ctx.deps.handlers.get(name)?.options.retries ?? 3;
    const retryAt = att < retries ? clock.now() + retryDelayMs(info.retryBackoff ?? null, att) : null;
    ctx.push({ type: 'handler.failed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: name, attempt: att, error: errorText(err), retryAt: retryAt === null ? null : new Date(retryAt).toISOString(), incident: retryAt === null } });
    ctx.failures.push({ executionId, activityId: activity.id, handler: name, attempt: att, error: errorText(err), retryAt });
    // no callback: the call stays pending in the saved state and is made again by the retry job
  }

  private track(p: Promise<unknown>) {
    trackContinuation(this.ctx, p);
  }

  /**
   * Handlers of one transition run one after the other (they share the transition's database connection), each
   * in a savepoint of the transition's unit of work: a technical failure or a timeout drops the handler's
   * writes, a success or a BPMN error (a business outcome the diagram routes, as in Camunda) keeps them.
   */
  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async inSavepoint(registered: RegisteredHandler, timeoutMs: number, context: (uow: UnitOfWork, signal: AbortSignal) => HandlerContext): Promise<unknown> {
    const unit = await this.ctx.input.unitOfWork.begin();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const out = await Promise.race([
        Promise.resolve().then(() => registered.fn(context(unit, controller.signal))),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(new Error(`handler "${registered.name}" timed out after ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      ]);
      // a result the history could not store faithfully (a lone surrogate, NUL) is the handler's failure
      assertTextValues(`the result of handler "${registered.name}"`, { result: out });
      await unit.commit();
      return out;
    } catch (err) {
      if (isBpmnError(err)) await unit.commit();
      else await unit.rollback();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
