/**
 * The queries of claim screening (issue 12) over the claims table: the other claims of the same loss, for the
 * duplicate check of src/processes/claims/screening.ts. Bound to whatever handle it is given (the handler call's
 * unit of work), like InsuranceStore.
 */
import type { Db } from './insurance.ts';

/** A claim of the same loss: what the duplicate rule needs (amounts CNY, times epoch ms). */
export interface SameLossRow {
  claimNo: string;
  status: string;
  claimedAmount: number;
  paidAt: number | null;
  reportedAt: number;
}

export class ClaimScreeningStore {
  constructor(private readonly db: Db) {}

  /** Claims on `policyNo` with the same loss day (YYYY-MM-DD) and peril, other than `exceptClaimNo`, oldest report first. */
  async sameLoss(policyNo: string, lossDate: string, peril: string, exceptClaimNo: string): Promise<SameLossRow[]> {
    const rows = await this.db('claims')
      .where({ policy_no: policyNo, loss_date: lossDate, peril })
      .andWhereNot({ claim_no: exceptClaimNo })
      .orderBy([{ column: 'reported_at' }, { column: 'claim_no' }])
      .select('claim_no', 'status', 'claimed_amount', 'paid_at', 'reported_at');
    return rows.map((r: any) => ({
      claimNo: r.claim_no,
      status: r.status,
      claimedAmount: Number(r.claimed_amount),
      paidAt: r.paid_at === null || r.paid_at === undefined ? null : Number(r.paid_at),
      reportedAt: Number(r.reported_at),
    }));
  }
}
