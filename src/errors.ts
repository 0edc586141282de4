/**
 * The one registry of error codes. Every error that reaches a caller (HTTP or library) is an
 * InsureflowError with a stable code; the HTTP layer maps it to a response in one place.
 */
export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  /** separation of duties: the user made (or registered) what the task reviews, e.g. the reviewer of a dispute */
  SEPARATION_OF_DUTIES: 403,
  NOT_FOUND: 404,
  DEFINITION_NOT_FOUND: 404,
  INSTANCE_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  INCIDENT_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  AUTHORIZATION_NOT_FOUND: 404,
  MESSAGE_NOT_CORRELATED: 404,
  TASK_ALREADY_CLAIMED: 409,
  TASK_NOT_OPEN: 409,
  TASK_NOT_CLAIMED: 409,
  INSTANCE_NOT_ACTIVE: 409,
  INCIDENT_NOT_OPEN: 409,
  JOB_NOT_TIMER: 409,
  MESSAGE_AMBIGUOUS: 409,
  MESSAGE_ALREADY_EXISTS: 409,
  BUSINESS_KEY_IN_USE: 409,
  /** claim intake found the next 50 claim numbers' business keys held by other claims instances (POST /api/claims) */
  CLAIM_NUMBER_UNAVAILABLE: 503,
  /** complaint, consultation or dispute intake found the next 50 numbers' business keys held by other instances */
  SERVICE_NUMBER_UNAVAILABLE: 503,
  CONCURRENT_MODIFICATION: 409,
  USER_EXISTS: 409,
  AUTHORIZATION_EXISTS: 409,
  EXTERNAL_TASK_NOT_FOUND: 404,
  /** a worker answers for an external task another worker holds (its own lock expired and the task was fetched again) */
  EXTERNAL_TASK_LOCKED_BY_OTHER: 409,
  /** complete / failure / bpmnError / extendLock on an external task no worker holds */
  EXTERNAL_TASK_NOT_LOCKED: 409,
  /** extendLock after the lock expired */
  EXTERNAL_TASK_LOCK_EXPIRED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BPMN_INVALID: 422,
  DMN_INVALID: 422,
  FORM_SCHEMA_INVALID: 422,
  EXPRESSION_FAILED: 422,
  /** a resource file declares an XML encoding other than UTF-8, US-ASCII, ISO-8859-1, windows-1252 */
  RESOURCE_ENCODING_UNSUPPORTED: 422,
  /** the database is out of space (disk full, or SQLite's max_page_count): nothing of the request was stored */
  STORAGE_FULL: 507,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ErrorDetail {
  [key: string]: unknown;
}

export class InsureflowError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'InsureflowError';
    this.code = code;
    this.statusCode = ErrorCodes[code];
    if (details !== undefined) this.details = details;
  }
}

export function notFound(code: ErrorCode, what: string, id: string): InsureflowError {
  return new InsureflowError(code, `${what} ${JSON.stringify(id)} was not found`);
}

/** A business error thrown by a handler: routed to the error boundary event whose errorCode matches. */
export class BpmnError extends Error {
  readonly code: string;
  readonly variables?: Record<string, unknown>;
  constructor(code: string, message?: string, variables?: Record<string, unknown>) {
    super(message ?? code);
    this.name = 'BpmnError';
    this.code = code;
    if (variables) this.variables = variables;
  }
}
