/**
 * The library entry point: embed insureflow in another Node service without HTTP. The same operations as the
 * HTTP API are methods of InsureflowEngine (deploy, startInstance, listTasks, completeTask, correlateMessage,
 * runDueJobs, history...). A minimal embedding:
 *
 *   const db = await openDb({ url: './data/app.sqlite' }); await migrate(db);
 *   const engine = new InsureflowEngine({ db }).registerHandler('pay', async ({ idempotencyKey }) => ({ paid: true }));
 *   await engine.deploy([{ name: 'claim.bpmn', content: xml }]);
 *   const scheduler = new Scheduler(engine); await scheduler.register(); scheduler.start();
 */
export { InsureflowEngine, type EngineOptions, type Resource, type DeployResult, type TaskQuery } from './persistence/knex-engine.ts';
export { Scheduler } from './engine/scheduler.ts';
export { ManualClock, systemClock, type Clock } from './engine/clock.ts';
export type { Handler, HandlerContext, HandlerOptions, Variables } from './engine/runtime.ts';
export { BpmnError, InsureflowError, ErrorCodes, type ErrorCode } from './errors.ts';
export { openDb, migrate, type DbOptions } from './persistence/db.ts';
/** the Knex transaction of a handler's unit of work (`ctx.unitOfWork`): build your repositories on it */
export { transactionOf } from './persistence/unit-of-work.ts';
export type { UnitOfWork } from './engine/unit-of-work.ts';
export { SYSTEM, ROLES, type Actor, type Role, type User } from './persistence/users.ts';
export { buildApp, type AppOptions } from './http/app.ts';
export { loadConfig, type Config } from './config.ts';
export { serve, createEngine } from './server.ts';
/** deploy warnings from bpmnlint: `new InsureflowEngine({ db, lint: bpmnLinter })` (createEngine passes it) */
export { bpmnLinter } from './definitions/lint.ts';
export type { DeploymentWarning, DeploymentLinter } from './engine/deployment.ts';
export { registerInsuranceDomain } from './processes/index.ts';
export { auditDigest, DigestSchedule, verifyDigests } from './audit/digest.ts';
export { verifyAll, verifyHistoryChain } from './audit/verify.ts';
export { reconstructState } from './audit/reconstruct.ts';
export { replayInstance } from './audit/replay.ts';
