/**
 * Checks of the claims process that need the claim or the claim sequence (the forms cannot know them), run by the
 * engine before anything is written:
 * - a start (engine.registerStartGuard): a business key must be a claim number intake handed out and no claim has
 *   (the registration step would refuse any other and stop with an incident); no key: the next number is taken;
 * - a completion of the review (engine.registerTaskGuard): a partial approval may not exceed the amount claimed.
 * @throws InsureflowError VALIDATION_FAILED (400) naming businessKey or approvedAmount
 */
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { InsuranceStore } from '../../persistence/insurance.ts';
import { Money } from '../money.ts';
import { isClaimNumber } from './rules.ts';

export function registerClaimGuards(engine: InsureflowEngine, processKey = 'claims'): void {
  const store = new InsuranceStore(engine.db, () => engine.clock.now());
  engine.registerStartGuard(processKey, async ({ businessKey }) => {
    if (businessKey === null) return;
    const refuse = (why: string): never => {
      const message = `must be a claim number that claim intake allocated for this claim: ${why}; report claims with POST /api/claims, which numbers them, or start without a business key`;
      throw new InsureflowError('VALIDATION_FAILED', `the start of ${processKey} is invalid: businessKey ${JSON.stringify(businessKey)} ${message}`, [{ field: 'businessKey', message, keyword: 'claimNumber' }]);
    };
    if (!isClaimNumber(businessKey)) refuse('it is not of the form CLM-YYYYMMDD-NNNNNN');
    if (Number(businessKey.slice(13)) > (await store.currentNumber('claim'))) refuse('that number has not been handed out yet');
    // an open claim's instance still holds its key: the engine answers 409 BUSINESS_KEY_IN_USE naming it
    const holder = await store.claim(businessKey);
    if (!holder) return;
    const instance = await engine.getInstance(holder.processInstanceId).catch(() => null);
    if (!instance || instance.status === 'completed' || instance.status === 'cancelled') refuse(`claim ${businessKey} exists already (its instance is ${instance?.status ?? 'gone'})`);
  });
  engine.registerTaskGuard(processKey, 'Task_ManualReview', async (task, _actor, action, variables) => {
    if (action !== 'complete' || variables.reviewDecision !== 'partial' || typeof variables.approvedAmount !== 'number') return;
    const claim = await store.claimOfInstance(task.processInstanceId);
    if (!claim || !new Money(variables.approvedAmount).greaterThan(claim.claimedAmount)) return;
    const message = `must not exceed the amount claimed (${claim.claimedAmount} CNY)`;
    throw new InsureflowError('VALIDATION_FAILED', `the form of task "${task.name ?? task.activityId}" is invalid: approvedAmount ${message}`, [{ field: 'approvedAmount', message, keyword: 'maximum' }]);
  });
}
