/**
 * The part of camunda-external-task-client-js (v3, plain JavaScript, no bundled types) that the external task
 * tests use: its documented API (README of camunda/camunda-external-task-client-js).
 */
declare module 'camunda-external-task-client-js' {
  export interface ClientTask {
    id: string;
    topicName: string;
    workerId: string;
    retries: number | null;
    businessKey: string | null;
    processInstanceId: string;
    activityId: string;
    errorMessage: string | null;
    variables: Variables;
  }
  export interface TaskService {
    complete(task: ClientTask, variables?: Variables, localVariables?: Variables): Promise<void>;
    handleFailure(task: ClientTask, options: { errorMessage?: string; errorDetails?: string; retries?: number; retryTimeout?: number }): Promise<void>;
    handleBpmnError(task: ClientTask, errorCode: string, errorMessage?: string, variables?: Variables): Promise<void>;
    extendLock(task: ClientTask, newDuration: number): Promise<void>;
    unlock(task: ClientTask): Promise<void>;
  }
  export type Interceptor = (config: Record<string, unknown>) => Record<string, unknown>;
  export class Variables {
    get(name: string): any;
    getAll(): Record<string, any>;
    set(name: string, value: unknown): this;
    setAll(values: Record<string, unknown>): this;
  }
  export class BasicAuthInterceptor {
    constructor(options: { username: string; password: string });
  }
  export class Client {
    constructor(options: {
      baseUrl: string;
      workerId?: string;
      maxTasks?: number;
      interval?: number;
      lockDuration?: number;
      autoPoll?: boolean;
      asyncResponseTimeout?: number;
      usePriority?: boolean;
      interceptors?: Interceptor | Interceptor[] | BasicAuthInterceptor;
      use?: unknown;
    });
    subscribe(topic: string, handler: (args: { task: ClientTask; taskService: TaskService }) => unknown): { unsubscribe(): void };
    subscribe(topic: string, options: Record<string, unknown>, handler: (args: { task: ClientTask; taskService: TaskService }) => unknown): { unsubscribe(): void };
    start(): void;
    stop(): void;
    on(event: string, fn: (...args: any[]) => void): this;
  }
}
