/** The insurance domain: handlers of the flows (claims, sales, product development, customer service) and their HTTP extras, registered on an engine. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../persistence/knex-engine.ts';
import { createClaimHandlers, ledgerOnlyGateway, type ClaimDeps, type PaymentGateway } from './claims/handlers.ts';
import { createPaymentRelay, type PaymentRelay } from './claims/payment-relay.ts';
import { claimRoutes } from './claims/routes.ts';
import { reportRoutes } from './reports/routes.ts';
import { createScreeningHandlers } from './claims/screening-handlers.ts';
import { registerClaimGuards } from './claims/guards.ts';
import { createClaimControlHandlers } from './claims/controls.ts';
import type { DecideFn } from './claims/reserves.ts';
import { createSalesHandlers, type SalesDeps } from './sales/handlers.ts';
import { createProductHandlers } from './product-development/handlers.ts';
import { insuranceStoreOf } from './unit-of-work.ts';
import { ANSWER_FIELD_OF_CLAIM, claimReportOf, createCustomerServiceHandlers, salesLeadOf } from './customer-service/handlers.ts';
import { checkIntake } from './claims/intake.ts';
import { InsuranceStore } from '../persistence/insurance.ts';
import { customerServiceRoutes, COMPLAINT_PROCESS, CONSULTATION_PROCESS, DISPUTE_PROCESS } from './customer-service/routes.ts';
import { disputeExclusions, startFormChecker } from './customer-service/engine-ports.ts';
import { CustomerServiceStore } from '../persistence/customer-service.ts';
import { transactionOf } from '../persistence/unit-of-work.ts';
import { KnexInstanceStore } from '../persistence/instance-store.ts';
import { InsureflowError } from '../errors.ts';
import { createServicingHandlers } from './policy-servicing/handlers.ts';
import { policyRoutes } from './policy-servicing/routes.ts';

export interface DomainOptions {
  /** the bank or payment provider for claim payouts (default: ledger only) */
  payments?: PaymentGateway;
  claims?: Omit<ClaimDeps, 'store' | 'clock' | 'relay'>;
  sales?: Omit<SalesDeps, 'store' | 'clock' | 'processes'>;
}

export interface InsuranceDomain {
  /** sends the payouts ordered by committed transitions and not yet confirmed by the bank (run it periodically) */
  relay: PaymentRelay;
}

/**
 * Registers every handler the diagrams in processes/ call (names as in their camunda:topic). Returns the payment
 * relay: the server sweeps it on every scheduler poll; an embedding application should do the same.
 */
export function registerInsuranceDomain(engine: InsureflowEngine, options: DomainOptions = {}): InsuranceDomain {
  const relay = createPaymentRelay(engine.db, engine.clock, options.payments ?? ledgerOnlyGateway, (err, p) =>
    engine.logger.warn({ err, paymentId: p.id, claimNo: p.claimNo }, 'payout not confirmed by the bank; it stays pending and is sent again'),
  );
  // every handler writes through the repository of its own transition's unit of work
  const base = { store: insuranceStoreOf(engine.clock), clock: engine.clock };
  // handlers evaluate deployed decisions (the newest version) through the engine's decision service, in their unit of work
  const decide: DecideFn = (ctx, decisionKey, variables) =>
    engine.decisions.evaluate({ decisionKey, binding: 'latest', version: null, versionTag: null, definitionId: `handler:${ctx.activityId}`, activityId: ctx.activityId, unitOfWork: ctx.unitOfWork }, variables);
  engine.registerHandlers(createClaimHandlers({ ...base, relay, decide, ...options.claims }));
  engine.registerHandlers(createScreeningHandlers(base));
  engine.registerHandlers(createClaimControlHandlers({ ...base, decide }));
  registerClaimGuards(engine);
  engine.registerHandlers(
    createSalesHandlers({
      ...base,
      ...options.sales,
      // a renewal case is a new sales instance, started once the renewal decision commits (a durable start job)
      processes: {
        startAfterCommit: (ctx, key, businessKey, variables) => engine.startInstanceAfterCommit(ctx.unitOfWork, key, { businessKey, variables }),
      },
    }),
  );
  engine.registerHandlers(createProductHandlers(base));
  const startForms = startFormChecker(engine.db);
  engine.registerHandlers(
    createCustomerServiceHandlers({
      ...base,
      service: (ctx) => new CustomerServiceStore(transactionOf(ctx.unitOfWork), () => engine.clock.now()),
      processes: {
        startAfterCommit: (ctx, key, businessKey, variables) => engine.startInstanceAfterCommit(ctx.unitOfWork, key, { businessKey, variables }),
        businessKeyHeld: async (ctx, key, businessKey) => (await new KnexInstanceStore(transactionOf(ctx.unitOfWork)).activeWithBusinessKey(key, businessKey)) !== null,
        checkStartForm: (ctx, key, variables) => startForms(key, variables, transactionOf(ctx.unitOfWork)),
      },
    }),
  );
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
  // policy servicing: endorsements, cancellations, renewals (a renewal starts the next term's case after commit)
  engine.registerHandlers(
    createServicingHandlers({
      ...base,
      processes: { startAfterCommit: (ctx, key, businessKey, variables) => engine.startInstanceAfterCommit(ctx.unitOfWork, key, { businessKey, variables }) },
    }),
  );
  return { relay };
}

export async function domainRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  await claimRoutes(app, engine);
  await policyRoutes(app, engine);
  await reportRoutes(app, engine);
  await customerServiceRoutes(app, engine);
}
