/** The pure rules of claim intake and screening (src/processes/claims/screening.ts), without a database. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  amountsMatch,
  autoPaymentStoppedBy,
  cancelledOnOrBefore,
  contactProblems,
  isCalendarDay,
  lossDateProblems,
  noticeAddress,
  possibleDuplicateOf,
  rejectionDecisionMode,
  DUPLICATE_WINDOW_DAYS,
  type SameLossClaim,
} from '../src/processes/claims/screening.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-30T12:00:00Z');

// ------------------------------------------------------------------------------------------ intake

test('isCalendarDay: only real days written YYYY-MM-DD', () => {
  for (const ok of ['2026-01-05', '2024-02-29', '2026-12-31']) assert.ok(isCalendarDay(ok), ok);
  for (const bad of ['2026-02-29', '2026-02-30', '2026-13-01', '2026-1-5', '05/01/2026', '2026-01-05T00:00:00Z', '', null, 20260105]) assert.not.ok(isCalendarDay(bad), String(bad));
});

test('lossDateProblems: malformed, in the future, after the report, before any cover', () => {
  const today = '2026-06-30';
  assert.equal(lossDateProblems({ lossDate: '2026-06-30', today, firstCoverFrom: '2026-01-01' }), [], 'today is fine');
  assert.equal(lossDateProblems({ lossDate: '2026-01-01', today, firstCoverFrom: '2026-01-01' }), [], 'the first day of cover is fine');
  assert.equal(lossDateProblems({ lossDate: '2026-02-30', today }).map((p) => [p.field, p.keyword]), [['lossDate', 'format']]);
  assert.equal(lossDateProblems({ lossDate: undefined, today }).map((p) => p.keyword), ['format']);
  assert.equal(lossDateProblems({ lossDate: '2026-07-01', today }).map((p) => p.keyword), ['notInFuture']);
  assert.equal(lossDateProblems({ lossDate: '2026-06-29', today, reportDate: '2026-06-28' }).map((p) => p.keyword), ['notAfterReport']);
  assert.equal(lossDateProblems({ lossDate: '2025-12-31', today, firstCoverFrom: '2026-01-01' }).map((p) => p.keyword), ['withinCover']);
  assert.equal(lossDateProblems({ lossDate: '2020-01-01', today, firstCoverFrom: null }), [], 'no policy on file: the process refuses it');
  assert.match(lossDateProblems({ lossDate: '2026-07-01', today })[0].message, /2026-06-30/);
  assert.throws(() => lossDateProblems({ lossDate: '2026-06-01', today: 'today' }), RangeError);
  assert.throws(() => lossDateProblems({ lossDate: '2026-06-01', today, firstCoverFrom: '1.1.2026' }), RangeError);
});

test('contactProblems: a contact is needed only when the policy is not on file', () => {
  assert.equal(contactProblems({ policyOnFile: true }), []);
  assert.equal(contactProblems({ policyOnFile: false, contactPhone: '+86 137 0000 0202' }), []);
  assert.equal(contactProblems({ policyOnFile: false, contactEmail: 'a@example.com' }), []);
  assert.equal(contactProblems({ policyOnFile: false, contactEmail: '  ' }).map((p) => [p.field, p.keyword]), [['contactEmail', 'contactRequired']]);
});

// ------------------------------------------------------------------------------------------ duplicates

test('amountsMatch: within 10% of the larger amount or 500 CNY, whichever is larger, in decimals', () => {
  assert.ok(amountsMatch(12000, 13200), '1,200 <= 1,320');
  assert.not.ok(amountsMatch(12000, 13500), '1,500 > 1,350');
  assert.ok(amountsMatch(1000, 1500), 'small amounts: 500 CNY');
  assert.not.ok(amountsMatch(1000, 1500.01));
  assert.ok(amountsMatch(5000.1, 5500.1), '500.00 exactly, no float artefact');
  assert.ok(amountsMatch(3000, 3000));
  assert.throws(() => amountsMatch(-1, 3000), RangeError);
  assert.throws(() => amountsMatch(1.001, 3000), RangeError);
});

const other = (o: Partial<SameLossClaim>): SameLossClaim => ({ claimNo: 'CLM-20260601-000001', status: 'open', claimedAmount: 3000, paidAt: null, reportedAt: NOW - 10 * DAY, ...o });

test('possibleDuplicateOf: open or paid within 90 days, amount within tolerance, the earliest report', () => {
  const claim = { claimNo: 'CLM-20260630-000009', claimedAmount: 3100 };
  assert.is(possibleDuplicateOf(claim, [], NOW), null);
  assert.is(possibleDuplicateOf(claim, [other({})], NOW)!.claimNo, 'CLM-20260601-000001');
  const paidRecently = other({ claimNo: 'CLM-20260401-000002', status: 'closed', paidAt: NOW - DUPLICATE_WINDOW_DAYS * DAY });
  assert.is(possibleDuplicateOf(claim, [paidRecently], NOW)!.claimNo, 'CLM-20260401-000002', 'paid exactly 90 days ago still counts');
  const paidLongAgo = other({ claimNo: 'CLM-20260301-000003', status: 'closed', paidAt: NOW - DUPLICATE_WINDOW_DAYS * DAY - 1 });
  assert.is(possibleDuplicateOf(claim, [paidLongAgo], NOW), null);
  assert.is(possibleDuplicateOf(claim, [other({ status: 'rejected' })], NOW), null, 'a rejected claim is no original');
  assert.is(possibleDuplicateOf(claim, [other({ claimedAmount: 9000 })], NOW), null, 'another amount');
  assert.is(possibleDuplicateOf(claim, [other({ claimNo: claim.claimNo })], NOW), null, 'not itself');
  const later = other({ claimNo: 'CLM-20260620-000005', reportedAt: NOW - DAY });
  const earlier = other({ claimNo: 'CLM-20260610-000004', reportedAt: NOW - 20 * DAY });
  assert.is(possibleDuplicateOf(claim, [later, earlier], NOW)!.claimNo, 'CLM-20260610-000004');
});

// ------------------------------------------------------------------------------------------ automatic payment, cover, notices

test('autoPaymentStoppedBy: duplicates and excessive frequency stop automatic payment', () => {
  assert.equal(autoPaymentStoppedBy({ indicators: ['EARLY_CLAIM', 'FREQUENT_CLAIMS'], duplicateOf: null }), []);
  assert.equal(autoPaymentStoppedBy({ indicators: ['EXCESSIVE_CLAIM_FREQUENCY', 'FREQUENT_CLAIMS'], duplicateOf: null }), ['EXCESSIVE_CLAIM_FREQUENCY']);
  assert.equal(autoPaymentStoppedBy({ indicators: null, duplicateOf: 'CLM-20260601-000001' }), ['POSSIBLE_DUPLICATE'], 'the claim row says so even without the indicator');
  assert.equal(autoPaymentStoppedBy({ indicators: ['POSSIBLE_DUPLICATE', 'EXCESSIVE_CLAIM_FREQUENCY'], duplicateOf: 'CLM-20260601-000001' }), ['EXCESSIVE_CLAIM_FREQUENCY', 'POSSIBLE_DUPLICATE']);
});

test('cancelledOnOrBefore: the first day without cover of a cancellation in effect on the loss date', () => {
  const versions = [
    { reason: 'issue', effectiveFrom: '2026-01-01' },
    { reason: 'cancellation', effectiveFrom: '2026-06-01' },
  ];
  assert.is(cancelledOnOrBefore(versions, '2026-05-31'), null);
  assert.is(cancelledOnOrBefore(versions, '2026-06-01'), '2026-06-01');
  assert.is(cancelledOnOrBefore(versions, '2026-07-15'), '2026-06-01');
  assert.is(cancelledOnOrBefore([versions[0]], '2026-07-15'), null);
});

test('noticeAddress: the preferred channel with its address, then e-mail, phone, post; else the reporter', () => {
  const c = { email: 'li.wei@example.com', phone: '+86 138 0000 0001', postalAddress: '1 Bund, Shanghai' };
  assert.equal(noticeAddress({ ...c, preferredChannel: 'sms' }), { channel: 'sms', recipient: '+86 138 0000 0001' });
  assert.equal(noticeAddress({ ...c, preferredChannel: 'post' }), { channel: 'post', recipient: '1 Bund, Shanghai' });
  assert.equal(noticeAddress({ ...c, preferredChannel: 'email' }), { channel: 'email', recipient: 'li.wei@example.com' });
  assert.equal(noticeAddress({ ...c, preferredChannel: null }), { channel: 'email', recipient: 'li.wei@example.com' }, 'no preference: e-mail');
  assert.equal(noticeAddress({ ...c, phone: null, preferredChannel: 'sms' }), { channel: 'email', recipient: 'li.wei@example.com' }, 'preferred channel without an address');
  assert.equal(noticeAddress({ email: null, phone: null, postalAddress: '1 Bund, Shanghai', preferredChannel: null }), { channel: 'post', recipient: '1 Bund, Shanghai' });
  assert.equal(noticeAddress({ ...c, preferredChannel: 'sms' }, { contactEmail: 'other@example.com' }), { channel: 'sms', recipient: '+86 138 0000 0001' }, 'the policyholder first');
  assert.equal(noticeAddress(null, { contactEmail: 'r@example.com', contactPhone: '+86 1' }), { channel: 'email', recipient: 'r@example.com' });
  assert.equal(noticeAddress(null, { contactPhone: '+86 137 0000 0202' }), { channel: 'sms', recipient: '+86 137 0000 0202' });
  assert.is(noticeAddress(null, {}), null);
  assert.is(noticeAddress({ email: null, phone: null, postalAddress: null, preferredChannel: 'email' }, { contactEmail: ' ' }), null);
});

test('rejectionDecisionMode: coverage refusals are automatic, a person decided the others', () => {
  for (const code of ['POLICY_NOT_FOUND', 'INVALID_LOSS_DATE', 'POLICY_NOT_ACTIVE', 'LOSS_OUTSIDE_PERIOD', 'PERIL_NOT_COVERED', 'NO_SUM_INSURED']) assert.is(rejectionDecisionMode(code), 'automatic', code);
  for (const code of ['FRAUD_CONFIRMED', 'REJECTED_ON_REVIEW', 'REJECTED_BY_SUPERVISOR']) assert.is(rejectionDecisionMode(code), 'manual', code);
});

test.run();
