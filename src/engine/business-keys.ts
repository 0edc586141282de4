/**
 * A business key is unique among the active instances of a process key (issue 10): starting `claims` with the
 * key of a claim that is still open is 409 BUSINESS_KEY_IN_USE naming the key and the instance that holds it.
 *
 * - "Active" is status active or incident; a completed or cancelled instance frees its key.
 * - Only top-level instances count. An instance started by a call activity takes the business key its caller
 *   gives it (often the caller's own, `<camunda:in businessKey="#{execution.processBusinessKey}"/>`): a
 *   multi-instance call activity starts several such children at once, and a process may call itself, so
 *   called instances are neither checked nor counted.
 * - Instances without a business key are not concerned.
 * - Every way of starting an instance obeys it, as it goes through transitionOnce: POST .../start, a message
 *   start event (POST /api/messages: 409), a start job written by a handler (a sales renewal: the job fails with
 *   this error and is tried again until the key is free, visible in GET /api/jobs).
 *
 * The database enforces it too (a partial unique index on process_instances (process_key, business_key) over
 * the active top-level rows, migrations/20261130110500_business_keys.ts), so two concurrent starts cannot both
 * win: the loser's insert fails, the store maps it to BUSINESS_KEY_IN_USE, and the instance that won is looked
 * up here to be named.
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';

/** The error for a key in use; `existing` is the id of the active instance that holds it (when known). */
export function businessKeyInUse(processKey: string, businessKey: string, existing: string | null): InsureflowError {
  return new InsureflowError(
    'BUSINESS_KEY_IN_USE',
    `business key "${businessKey}" is in use by the active process instance ${existing ?? '(started at the same moment)'} of "${processKey}"; a business key is unique among the active instances of a process key (it is free again once that instance completes or is cancelled)`,
    { processKey, businessKey, processInstanceId: existing },
  );
}

/**
 * Before a top-level instance of `processKey` is started with `businessKey`.
 * @throws InsureflowError BUSINESS_KEY_IN_USE (409) naming the instance that holds the key
 */
export async function assertBusinessKeyFree(ctx: EngineContext, processKey: string, businessKey: string | null, calledBy: unknown): Promise<void> {
  if (businessKey === null || calledBy) return;
  const existing = await ctx.stores.instances.activeWithBusinessKey(processKey, businessKey);
  if (existing) throw businessKeyInUse(processKey, businessKey, existing);
}

/**
 * A BUSINESS_KEY_IN_USE thrown by the store (the database refused the second of two concurrent starts) with the
 * instance that won named; any other error unchanged.
 */
export async function namingTheHolder(ctx: EngineContext, err: unknown): Promise<unknown> {
  if (!(err instanceof InsureflowError) || err.code !== 'BUSINESS_KEY_IN_USE') return err;
  const d = err.details as { processKey: string; businessKey: string; processInstanceId: string | null };
  if (d.processInstanceId) return err;
  const existing = await ctx.stores.instances.activeWithBusinessKey(d.processKey, d.businessKey).catch(() => null);
  return businessKeyInUse(d.processKey, d.businessKey, existing);
}
