/**
 * Checks of the customer-service processes that need data the forms cannot see, run by the engine before a user
 * task is claimed or completed (engine.registerTaskGuard), nothing written when they refuse:
 * - dispute review: separation of duties, whoever made the contested decision or registered the dispute may not
 *   review it (403 SEPARATION_OF_DUTIES);
 * - complaint assignment: the handler named is an active ops user of the handling group (400 naming handler);
 * - consultation answer with outcome claim or sale: the report or lead passes what the claim or the sale will check
 *   (start form, claim intake), else the open step would retry forever after the answer was sent (400 naming the
 *   answer's field).
 */
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { InsuranceStore } from '../../persistence/insurance.ts';
import { CustomerServiceStore } from '../../persistence/customer-service.ts';
import { checkIntake } from '../claims/intake.ts';
import { ANSWER_FIELD_OF_CLAIM, claimReportOf, salesLeadOf } from './handlers.ts';
import { COMPLAINT_PROCESS, CONSULTATION_PROCESS, DISPUTE_PROCESS } from './routes.ts';
import { disputeExclusions, type startFormChecker } from './engine-ports.ts';

export function registerCustomerServiceGuards(engine: InsureflowEngine, startForms: ReturnType<typeof startFormChecker>): void {
  // separation of duties: whoever made the contested decision or registered the dispute may not review it
  const disputes = new CustomerServiceStore(engine.db, () => engine.clock.now());
  engine.registerTaskGuard(DISPUTE_PROCESS, 'Task_ReviewDispute', async (task, actor) => {
    const excluded = (await disputeExclusions(engine, disputes, task.processInstanceId)).find((x) => x.user === actor.name);
    if (excluded) throw new InsureflowError('SEPARATION_OF_DUTIES', `${actor.name} may not review dispute ${task.businessKey ?? task.processInstanceId}: ${actor.name} ${excluded.reason}; a second handler must review it`, { user: actor.name, dispute: task.businessKey, reason: excluded.reason });
  });
  // a complaint is assigned to someone who can work it: an active ops user of the handling group
  engine.registerTaskGuard(COMPLAINT_PROCESS, 'Task_AssignComplaint', async (task, _actor, action, variables) => {
    if (action !== 'complete' || typeof variables.handler !== 'string') return;
    const user = await engine.users.get(variables.handler);
    const fits = user && !user.disabled && user.roles.includes('ops') && user.groups.some((g) => task.candidateGroups.includes(g));
    if (!fits) {
      const message = `must be an active ops user of ${task.candidateGroups.join(' or ')}`;
      throw new InsureflowError('VALIDATION_FAILED', `the form of task "${task.name ?? task.activityId}" is invalid: handler ${JSON.stringify(variables.handler)} ${message}`, [{ field: 'handler', message, keyword: 'handler' }]);
    }
  });
  // a consultation answered as a claim or a sale: the report or lead must pass what the claim or sale will check,
  // before the answer goes to the customer (else the open step would retry forever after the answer was sent)
  const insurance = new InsuranceStore(engine.db, () => engine.clock.now());
  engine.registerTaskGuard(CONSULTATION_PROCESS, 'Task_AnswerConsultation', async (task, _actor, action, variables) => {
    if (action !== 'complete' || (variables.outcome !== 'claim' && variables.outcome !== 'sale')) return;
    const c = await disputes.consultationOfInstance(task.processInstanceId);
    if (!c) return; // not logged yet: consultations.log runs before the task exists; the answer form decides
    // an incomplete answer is refused by the answer form itself (checked after the guard), naming its fields
    const needs = variables.outcome === 'claim' ? ['claimPolicyNo', 'lossDate', 'peril', 'claimedAmount', 'lossDescription'] : ['agent', 'agentLevel'];
    if (needs.some((f) => variables[f] === undefined)) return;
    const formName = `the form of task "${task.name ?? task.activityId}"`;
    const refuse = (err: unknown, rename: Readonly<Record<string, string>>): never => {
      if (!(err instanceof InsureflowError) || err.code !== 'VALIDATION_FAILED' || !Array.isArray(err.details)) throw err;
      const details = (err.details as { field?: string; message?: string }[]).map((d) => ({ ...d, field: d.field && rename[d.field] ? rename[d.field] : d.field }));
      throw new InsureflowError('VALIDATION_FAILED', `${formName} is invalid for outcome ${String(variables.outcome)}: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
    };
    try {
      if (variables.outcome === 'claim') {
        const report = claimReportOf(c, variables);
        await startForms('claims', report);
        await checkIntake(insurance, engine.clock.now(), report);
      } else {
        await startForms('sales', salesLeadOf(c, variables));
      }
    } catch (err) {
      refuse(err, variables.outcome === 'claim' ? ANSWER_FIELD_OF_CLAIM : {});
    }
  });
}
