/**
 * Pure rules of customer service (complaints, consultations, disputes): numbering, the keyword flags the
 * complaint classification reads, deadlines, dispute routing and the complaints report's figures. No I/O.
 *
 * Deadlines are calendar days counted from registration (epoch ms + days x 24 h). The complaint response
 * deadlines come from the ComplaintClassification DMN (processes/decisions/complaint-classification.dmn): high
 * 5 days, medium 10, low 15. Fifteen days is the regulatory maximum for a decision on a consumer complaint
 * (银行保险机构消费投诉处理管理办法, 2020, art. 20: 15 days from receipt; extensions are not modelled); the
 * insurer answers serious complaints and regulator referrals faster.
 */
import { DAY_MS, assertNumber } from '../rule-checks.ts';

/** 'CMP-20260105-000042': a prefix, the UTC date and the sequence padded to 6 digits. */
export function serviceNumber(prefix: 'CMP' | 'CON' | 'DSP', seq: number, date: Date): string {
  assertNumber('seq', seq, { integer: true });
  if (Number.isNaN(date.getTime())) throw new RangeError('date must be a valid date');
  const ymd = date.toISOString().slice(0, 10).replace(/-/g, '');
  return `${prefix}-${ymd}-${String(seq).padStart(6, '0')}`;
}

export const COMPLAINT_NO = /^CMP-\d{8}-\d{6,}$/;
export const CONSULTATION_NO = /^CON-\d{8}-\d{6,}$/;
export const DISPUTE_NO = /^DSP-\d{8}-\d{6,}$/;

export interface KeywordFlags {
  /** the customer threatens legal action (lawyer, court, sue; 律师, 起诉, 法院, 诉讼) */
  legalThreat: boolean;
  /** the customer threatens to go to the media (媒体, 曝光, 记者, newspaper, social media) */
  mediaThreat: boolean;
  /** the customer names the regulator or its hotline (监管, 金融监管总局, 银保监, 12378) */
  regulatorMentioned: boolean;
  /** signs of a vulnerable customer (elderly, disabled, illness, hardship; 老人, 残疾, 重病, 困难) */
  vulnerableCustomer: boolean;
}

const KEYWORDS: Record<keyof KeywordFlags, RegExp> = {
  legalThreat: /\b(lawyer|attorney|solicitor|court|sue|suing|lawsuit|legal action|litigation)\b|律师|起诉|法院|诉讼|仲裁/i,
  mediaThreat: /\b(media|newspaper|journalist|press|television|tv|social media|weibo)\b|媒体|曝光|记者|微博|电视台/i,
  regulatorMentioned: /\b(regulator|nfra|cbirc|ombudsman|12378)\b|12378|监管|银保监|金融监管总局|消费者权益保护/i,
  vulnerableCustomer: /\b(elderly|pensioner|disabled|disability|seriously ill|terminal|hardship|bereave\w*)\b|老人|老年|残疾|重病|困难|去世/i,
};

/** What the complaint text says, as the flags the classification decision reads. */
export function keywordFlags(text: string): KeywordFlags {
  if (typeof text !== 'string') throw new RangeError('text must be a string');
  return {
    legalThreat: KEYWORDS.legalThreat.test(text),
    mediaThreat: KEYWORDS.mediaThreat.test(text),
    regulatorMentioned: KEYWORDS.regulatorMentioned.test(text),
    vulnerableCustomer: KEYWORDS.vulnerableCustomer.test(text),
  };
}

/** `days` calendar days after `from` (epoch ms). */
export function deadlineAfter(from: number, days: number): number {
  assertNumber('from', from);
  assertNumber('days', days, { integer: true });
  return from + days * DAY_MS;
}

/** The satisfaction survey waits this long for the answer (ISO 8601 duration). */
export const SURVEY_WINDOW = 'P14D';
/** A dispute is reviewed within this many calendar days of registration, else the supervisors are alerted. */
export const DISPUTE_REVIEW_DAYS = 10;

/**
 * Who reviews a dispute: a claim decision goes to the claims supervisors, a policy action to the underwriters.
 * Whoever made the contested decision, or registered the dispute, may not review it (the task guard).
 */
export function disputeReviewGroup(subjectType: 'claim' | 'policy'): string {
  if (subjectType === 'claim') return 'claims-supervisors';
  if (subjectType === 'policy') return 'underwriters';
  throw new RangeError(`subjectType must be claim or policy, got ${String(subjectType)}`);
}

// --------------------------------------------------------------------------------------------- the report

export const SEVERITIES = ['low', 'medium', 'high'] as const;
export const COMPLAINT_CHANNELS = ['phone', 'email', 'app', 'branch', 'regulator'] as const;

/** What the complaints report reads of a complaint. */
export interface ComplaintFigures {
  channel: string;
  severity: string | null;
  registeredAt: number;
  respondedAt: number | null;
  deadlineBreached: boolean;
  status: string;
  satisfactionScore: number | null;
  surveyStatus: string;
}

export interface ComplaintsReport {
  /** complaints registered in the period */
  total: number;
  bySeverity: Record<(typeof SEVERITIES)[number] | 'unclassified', number>;
  byChannel: Record<string, number>;
  /** complaints whose response deadline passed before the response */
  deadlineBreaches: number;
  /** complaints answered */
  responded: number;
  /** mean hours from registration to the response, over the complaints answered (2 decimals); null when none */
  averageHoursToResponse: number | null;
  closed: number;
  satisfaction: {
    /** surveys answered */
    answered: number;
    /** surveys sent and not answered in time */
    noAnswer: number;
    /** mean score (1..5) of the answered surveys (2 decimals); null when none */
    average: number | null;
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** The figures of the complaints registered in a period (the caller selects them). */
export function complaintsReport(list: ComplaintFigures[]): ComplaintsReport {
  const bySeverity: ComplaintsReport['bySeverity'] = { low: 0, medium: 0, high: 0, unclassified: 0 };
  const byChannel: Record<string, number> = Object.fromEntries(COMPLAINT_CHANNELS.map((c) => [c, 0]));
  let breaches = 0;
  let responded = 0;
  let responseMs = 0;
  let closed = 0;
  let answered = 0;
  let noAnswer = 0;
  let scoreSum = 0;
  for (const c of list) {
    const sev = (SEVERITIES as readonly string[]).includes(c.severity ?? '') ? (c.severity as (typeof SEVERITIES)[number]) : 'unclassified';
    bySeverity[sev]++;
    byChannel[c.channel] = (byChannel[c.channel] ?? 0) + 1;
    if (c.deadlineBreached) breaches++;
    if (c.respondedAt !== null) {
      if (c.respondedAt < c.registeredAt) throw new RangeError('respondedAt is before registeredAt');
      responded++;
      responseMs += c.respondedAt - c.registeredAt;
    }
    if (c.status === 'closed') closed++;
    if (c.surveyStatus === 'answered' && c.satisfactionScore !== null) {
      answered++;
      scoreSum += c.satisfactionScore;
    }
    if (c.surveyStatus === 'no-answer') noAnswer++;
  }
  return {
    total: list.length,
    bySeverity,
    byChannel,
    deadlineBreaches: breaches,
    responded,
    averageHoursToResponse: responded ? round2(responseMs / responded / 3_600_000) : null,
    closed,
    satisfaction: { answered, noAnswer, average: answered ? round2(scoreSum / answered) : null },
  };
}

// --------------------------------------------------------------------------------------------- disputes: what may be contested

/** Contested actions of a claim decision, of a policy action, and of either (dispute.start.schema.json). */
export const CLAIM_DISPUTE_ACTIONS = ['claim-rejection', 'payout-amount', 'claim-delay'] as const;
export const POLICY_DISPUTE_ACTIONS = ['policy-cancellation', 'policy-change', 'renewal-terms', 'premium'] as const;

/**
 * Why `contestedAction` does not fit the subject, or null when it does: a claim action needs subjectType claim and
 * a policy action subjectType policy (`other` fits both); claim-rejection needs a rejected claim; payout-amount a
 * claim with a payout decided (not rejected); claim-delay any claim (open, or paid late).
 */
export function contestedActionProblem(subjectType: 'claim' | 'policy', contestedAction: string, claim: { status: string; payout: number | null } | null): string | null {
  if (subjectType === 'claim' && (POLICY_DISPUTE_ACTIONS as readonly string[]).includes(contestedAction)) return `is a policy action: contest it with subjectType policy`;
  if (subjectType === 'policy' && (CLAIM_DISPUTE_ACTIONS as readonly string[]).includes(contestedAction)) return `is a claim decision: contest it with subjectType claim`;
  if (subjectType !== 'claim' || !claim) return null;
  if (contestedAction === 'claim-rejection' && claim.status !== 'rejected') return `needs a rejected claim; the claim is ${claim.status}`;
  if (contestedAction === 'payout-amount' && (claim.status === 'rejected' || claim.payout === null)) return `needs a claim with a payout decided; the claim is ${claim.status}${claim.status === 'rejected' ? '' : ' without a payout'}`;
  return null;
}
