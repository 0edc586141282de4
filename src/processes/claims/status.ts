/**
 * The customer-facing progress of a claim (the seeds' 理赔进度查询): where the claim is and what happens next,
 * in words a customer-service agent can read out. Pure: built from the claim row and the activities the claims
 * instance waits in.
 */
import type { Claim } from '../../persistence/insurance.ts';

export interface ClaimStatusView {
  claimNo: string;
  policyNo: string;
  status: string;
  stage: string;
  stageLabel: string;
  nextStep: string;
  reportedAt: string;
  slaDeadline: string | null;
  slaBreached: boolean;
  /** CNY; null until adjudicated and for a rejected claim */
  payout: number | null;
  /** the outstanding reserve (CNY, 2 decimals): what the insurer still expects to pay; 0 once paid or rejected */
  reserveOutstanding: number;
  paidAt: string | null;
  rejectionReason: string | null;
  closedAt: string | null;
}

interface StageText {
  stage: string;
  label: string;
  next: (c: Claim) => string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const by = (ms: number | null) => (ms === null ? 'as soon as possible' : `by ${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`);

/** Activities the instance can wait in, in the order they are looked for (the most specific first). */
const WAITING: Record<string, StageText> = {
  Task_Investigate: { stage: 'investigation', label: 'Under investigation', next: () => 'Our special investigations team is checking the claim and may contact you for more information.' },
  Task_WaitDocuments: {
    stage: 'documents',
    label: 'Waiting for your documents',
    next: (c) => `Please send the documents we asked for${typeof c.documents?.dueAt === 'string' ? ` by ${String(c.documents.dueAt).slice(0, 10)}` : ''}; the review continues when they arrive.`,
  },
  Task_ManualReview: { stage: 'review', label: 'Under review by a claims adjuster', next: () => 'An adjuster reviews the claim and approves it, partially approves it, asks you for documents or explains a refusal.' },
  Task_Survey: { stage: 'survey', label: 'Waiting for the on-site survey', next: () => 'A surveyor will contact you to inspect the damage on site.' },
  Task_SupervisorApproval: { stage: 'approval', label: 'Payout awaiting final approval', next: (c) => `The payout is approved at the level its amount needs (adjuster, supervisor, manager or the claims director); we aim to pay ${by(c.slaDeadline)}.` },
  SubProcess_Settlement: { stage: 'settlement', label: 'Settlement and payment in progress', next: (c) => `The payout is being calculated and paid; we aim to pay ${by(c.slaDeadline)}.` },
};

const BY_ROW: Record<string, StageText> = {
  reported: { stage: 'reported', label: 'Reported', next: () => 'We are registering the claim and checking your policy.' },
  verified: { stage: 'screening', label: 'Being assessed', next: () => 'We are assessing the claim.' },
  screened: { stage: 'screening', label: 'Being assessed', next: () => 'We are assessing the claim.' },
  paid: { stage: 'paid', label: 'Paid', next: () => 'The payout has been made; the claim is being closed.' },
  closed: { stage: 'closed', label: 'Closed', next: () => 'Nothing more: the claim is closed.' },
  rejected: { stage: 'rejected', label: 'Rejected', next: () => 'The claim was not accepted; you can ask customer service for a review of the decision.' },
};

export function claimStatusView(claim: Claim, waitingIn: string[]): ClaimStatusView {
  let text: StageText | undefined;
  if (claim.status === 'open') {
    const found = Object.keys(WAITING).find((id) => waitingIn.includes(id));
    text = found ? WAITING[found] : undefined;
  }
  if (!text && claim.status === 'rejected') text = BY_ROW.rejected;
  if (!text && claim.status === 'closed') text = BY_ROW.closed;
  text ??= BY_ROW[claim.stage] ?? { stage: claim.stage, label: 'In progress', next: () => 'We are working on the claim.' };
  return {
    claimNo: claim.claimNo,
    policyNo: claim.policyNo,
    status: claim.status,
    stage: text.stage,
    stageLabel: text.label,
    nextStep: text.next(claim),
    reportedAt: iso(claim.reportedAt)!,
    slaDeadline: iso(claim.slaDeadline),
    slaBreached: claim.slaBreached,
    // a rejected claim shows no payout, whatever amount was adjudicated before the refusal
    payout: claim.status === 'rejected' ? null : claim.payout,
    reserveOutstanding: claim.reserveOutstanding,
    paidAt: iso(claim.paidAt),
    rejectionReason: claim.rejectionReason,
    closedAt: iso(claim.closedAt),
  };
}
