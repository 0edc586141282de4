/**
 * Checks on the claims user tasks that need the claim itself (the forms cannot know it), run by the engine before
 * a task is completed (engine.registerTaskGuard): an adjuster's partial approval may not exceed the amount claimed.
 * @throws InsureflowError VALIDATION_FAILED (400) naming approvedAmount
 */
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { InsuranceStore } from '../../persistence/insurance.ts';
import { Money } from '../money.ts';

export function registerClaimGuards(engine: InsureflowEngine, processKey = 'claims'): void {
  const store = new InsuranceStore(engine.db, () => engine.clock.now());
  engine.registerTaskGuard(processKey, 'Task_ManualReview', async (task, _actor, action, variables) => {
    if (action !== 'complete' || variables.reviewDecision !== 'partial' || typeof variables.approvedAmount !== 'number') return;
    const claim = await store.claimOfInstance(task.processInstanceId);
    if (!claim || !new Money(variables.approvedAmount).greaterThan(claim.claimedAmount)) return;
    const message = `must not exceed the amount claimed (${claim.claimedAmount} CNY)`;
    throw new InsureflowError('VALIDATION_FAILED', `the form of task "${task.name ?? task.activityId}" is invalid: approvedAmount ${message}`, [{ field: 'approvedAmount', message, keyword: 'maximum' }]);
  });
}
