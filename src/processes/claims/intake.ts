/**
 * Claim intake's numbering, shared by every way a claim is reported (POST /api/claims, a consultation that turns
 * into a claim): the business key of a claims instance is the claim number intake allocated for it.
 */
import { InsureflowError } from '../../errors.ts';
import type { InsuranceStore } from '../../persistence/insurance.ts';
import { claimNumber } from './rules.ts';
import { contactProblems, lossDateProblems } from './screening.ts';

/** How many claim numbers intake tries when their business keys are held by other instances. */
export const MAX_NUMBER_TRIES = 50;

/**
 * Takes the next number of the claim sequence and hands it to `start` (which starts the claims instance with it
 * as business key). A number whose business key another active claims instance already holds (started directly
 * with a key ahead of the sequence: `start` throws BUSINESS_KEY_IN_USE) is skipped for the next one, up to
 * MAX_NUMBER_TRIES numbers.
 * @throws InsureflowError CLAIM_NUMBER_UNAVAILABLE (503) when all of them were held; any other error of `start`
 */
export async function startNumberedClaim<T>(store: InsuranceStore, now: () => number, start: (claimNo: string) => Promise<T>): Promise<{ claimNo: string; started: T }> {
  for (let i = 0; i < MAX_NUMBER_TRIES; i++) {
    const claimNo = claimNumber(await store.nextNumber('claim'), new Date(now()));
    try {
      return { claimNo, started: await start(claimNo) };
    } catch (err) {
      if (!(err instanceof InsureflowError) || err.code !== 'BUSINESS_KEY_IN_USE') throw err;
    }
  }
  throw new InsureflowError('CLAIM_NUMBER_UNAVAILABLE', `the next ${MAX_NUMBER_TRIES} claim numbers are all held as business keys by other claims instances; cancel the instances started directly with claim numbers as business keys (GET /api/process-instances?processKey=claims) and report again`);
}

/**
 * The intake checks of a report that need the policy (screening.ts), run after its start form and before a claim
 * number is taken: the loss date (a real YYYY-MM-DD day, not after today, `now` epoch ms, nor before the policy's
 * first day of cover) and a contactEmail/contactPhone when the policy number is not on file.
 * @throws InsureflowError VALIDATION_FAILED with details [{ field, message, keyword }]
 */
export async function checkIntake(store: InsuranceStore, now: number, report: Record<string, unknown>): Promise<void> {
  const today = new Date(now).toISOString().slice(0, 10);
  const policyNo = typeof report.policyNo === 'string' ? report.policyNo : '';
  const policy = policyNo ? await store.policy(policyNo) : null;
  const covers = policy ? (await store.policyVersions(policy.policyNo)).filter((v) => v.reason !== 'cancellation').map((v) => v.effectiveFrom) : [];
  const firstCoverFrom = policy ? ([...covers].sort()[0] ?? policy.startDate) : null;
  const problems = [
    ...lossDateProblems({ lossDate: report.lossDate, today, firstCoverFrom }),
    ...contactProblems({ policyOnFile: policy !== null, contactEmail: report.contactEmail, contactPhone: report.contactPhone }),
  ];
  if (problems.length) throw new InsureflowError('VALIDATION_FAILED', `the report is invalid: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
}
