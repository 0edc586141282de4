/** JSON Schemas shared by the routes (each with an $id; the same schemas feed OpenAPI). */
export const sharedSchemas = [
  {
    $id: 'Error',
    type: 'object',
    required: ['statusCode', 'code', 'message'],
    properties: {
      statusCode: { type: 'integer' },
      code: { type: 'string' },
      message: { type: 'string' },
      details: {},
    },
  },
  {
    $id: 'Variables',
    type: 'object',
    description: 'process variables (JSON values)',
    additionalProperties: true,
  },
  {
    $id: 'Task',
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: ['string', 'null'] },
      activityId: { type: 'string' },
      processInstanceId: { type: 'string' },
      processKey: { type: 'string' },
      businessKey: { type: ['string', 'null'] },
      status: { type: 'string', enum: ['open', 'completed', 'cancelled'] },
      assignee: { type: ['string', 'null'] },
      candidateGroups: { type: 'array', items: { type: 'string' } },
      candidateUsers: { type: 'array', items: { type: 'string' } },
      formKey: { type: ['string', 'null'] },
      dueAt: { type: ['string', 'null'] },
      priority: { type: 'integer' },
      createdAt: { type: 'string' },
      claimedAt: { type: ['string', 'null'] },
      endedAt: { type: ['string', 'null'] },
      completedBy: { type: ['string', 'null'] },
      form: {
        type: ['object', 'null'],
        additionalProperties: true,
        description:
          'GET /api/tasks/:id only: the task\'s form. format form-js (a Camunda form, `schema` as deployed, for @bpmn-io/form-js-viewer; dynamicOptions: some options come from variables, any value of the right type is accepted), json-schema (`schema`, also in formSchema), camunda-form-data (`fields` of camunda:formData) or external (a key outside the deployment, handed over as written; validated: false, the server does not check the completion)',
      },
    },
  },
  {
    $id: 'Instance',
    type: 'object',
    properties: {
      id: { type: 'string' },
      definitionId: { type: 'string' },
      processKey: { type: 'string' },
      processVersion: { type: 'integer' },
      businessKey: { type: ['string', 'null'] },
      status: { type: 'string', enum: ['active', 'incident', 'completed', 'cancelled'] },
      startedBy: { type: ['string', 'null'] },
      startedAt: { type: 'string' },
      endedAt: { type: ['string', 'null'] },
      updatedAt: { type: 'string' },
      parentInstanceId: { type: ['string', 'null'], description: 'the instance whose call activity started this one (null: started on its own)' },
      variables: { type: 'object', additionalProperties: true, description: 'sensitive variables the caller may not read are {"$redacted": true}' },
      variablesWithheld: { type: 'boolean', description: 'true when the caller may read the instance but not its variables (no read-variables grant): variables is empty' },
      activeActivities: { type: 'array', items: { type: 'string' } },
      openTasks: { type: 'array', items: { $ref: 'Task#' } },
      incidents: { type: 'array', items: { type: 'object', additionalProperties: true } },
    },
  },
  {
    $id: 'Definition',
    type: 'object',
    properties: {
      id: { type: 'string' },
      key: { type: 'string' },
      version: { type: 'integer' },
      name: { type: ['string', 'null'] },
      deploymentId: { type: 'string' },
      resourceName: { type: 'string' },
      createdAt: { type: 'string' },
      versions: { type: 'array', items: { type: 'integer' } },
    },
  },
  {
    $id: 'Paging',
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
      offset: { type: 'integer', minimum: 0, maximum: 10000000, default: 0 },
    },
  },
];

export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
};

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 10000000, default: 0 },
} as const;

export function pageOf(item: object) {
  return {
    type: 'object',
    properties: {
      items: { type: 'array', items: item },
      total: { type: 'integer' },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
    },
  };
}
