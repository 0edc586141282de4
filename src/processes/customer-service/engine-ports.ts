/**
 * What customer service asks of the engine beyond handlers: start forms checked before a number is allocated
 * (a refused request uses no number), and who may not review a dispute (separation of duties), for the task
 * guard of the review and for the dispute's status.
 */
import type { ValidateFunction } from 'ajv';
import type { Knex } from 'knex';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { KnexDeploymentStore } from '../../persistence/deployments.ts';
import { InsureflowError } from '../../errors.ts';
import { compileSchema, fieldErrors } from '../../engine/forms.ts';
import { SYSTEM } from '../../engine/actor.ts';
import type { CustomerServiceStore } from '../../persistence/customer-service.ts';

/**
 * Checks variables against the newest deployed start form of a process (`<key>.start`), as the engine does at
 * the start; nothing to check when the process has no start form. `within`: read in that transaction.
 * @throws InsureflowError VALIDATION_FAILED (400) naming each field
 */
export function startFormChecker(db: Knex): (key: string, variables: Record<string, unknown>, within?: Knex) => Promise<void> {
  const forms = new KnexDeploymentStore(db);
  const compiled = new Map<number, ValidateFunction>();
  return async (key, variables, within) => {
    // a handler reads inside its own transaction (SQLite has one connection: a read beside it would wait for it)
    const form = await (within ? new KnexDeploymentStore(within) : forms).latestForm(`${key}.start`, null);
    if (!form) return;
    let validate = compiled.get(form.id);
    if (!validate) compiled.set(form.id, (validate = compileSchema(JSON.parse(form.schema))));
    if (!validate(variables)) {
      const details = fieldErrors(validate.errors);
      throw new InsureflowError('VALIDATION_FAILED', `start variables of "${key}" are invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
    }
  };
}

/** A user who may not review a dispute, and why. */
export interface Exclusion {
  user: string;
  reason: string;
}

/**
 * Who may not review the dispute of instance `instanceId`: the user who registered it (who started its
 * instance), everyone who completed a user task of the instances that carry the contested claim or policy
 * number as business key (for a claim: the adjuster who reviewed it, the investigator, the supervisor who
 * approved or refused the payout), and the user the registration named as the decision's author
 * (`originalDecisionBy`, for decisions made outside a task of this system). The engine itself ('system') is
 * never a reviewer and is left out.
 */
export async function disputeExclusions(engine: InsureflowEngine, cs: CustomerServiceStore, instanceId: string): Promise<Exclusion[]> {
  const out = new Map<string, string>();
  const add = (user: string | null | undefined, reason: string) => {
    if (user && user !== SYSTEM.name && !out.has(user)) out.set(user, reason);
  };
  const history = await engine.history(instanceId, SYSTEM);
  add(history.find((e) => e.type === 'instance.started')?.actor, 'registered the dispute');
  const inst = await engine.getInstance(instanceId, SYSTEM);
  const dispute = await cs.disputeOfInstance(instanceId);
  const ref = dispute?.subjectRef ?? (typeof inst.variables.claimNo === 'string' ? inst.variables.claimNo : typeof inst.variables.policyNo === 'string' ? inst.variables.policyNo : null);
  if (ref) {
    const related = await engine.listInstances({ businessKey: ref, limit: 100 }, SYSTEM);
    for (const other of related.items) {
      if (other.id === instanceId) continue;
      const done = await engine.listTasks({ processInstanceId: other.id, status: 'completed', limit: 200 }, SYSTEM);
      for (const t of done.items) add(t.completedBy, `decided "${t.name ?? t.activityId}" of ${ref}`);
    }
  }
  add(typeof inst.variables.originalDecisionBy === 'string' ? inst.variables.originalDecisionBy : null, `named as the author of the contested decision on ${ref ?? 'the subject'}`);
  return [...out].map(([user, reason]) => ({ user, reason }));
}
