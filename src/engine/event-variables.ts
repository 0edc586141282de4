/**
 * The variables a message or a signal may set: declared by a JSON Schema per name, deployed with the processes
 * and versioned like a form (it IS a form version, under a reserved key):
 *   processes/messages/<name>.schema.json -> form key `messages/<name>`
 *   processes/signals/<name>.schema.json  -> form key `signals/<name>`
 * (GET /api/forms/messages/<name> shows its versions). A message or signal is checked against the newest version.
 *
 * Rules (issue 10: a message from outside must not overwrite what the process computed, e.g. a claim's deductible):
 * - no variables (absent or `{}`): no schema is needed; a deployed schema is still applied (its `required`);
 * - variables but no schema: every variable is refused (400 VALIDATION_FAILED naming the field and the file to
 *   declare it in);
 * - the variables a message may set are the top-level `properties` of its schema: any other variable is refused
 *   whatever the schema says (`additionalProperties: false` is implied; a schema that allows more is refused at
 *   deploy, see eventSchemaProblem); the values are then validated with the whole schema.
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { fieldErrors, type FieldError } from './forms.ts';
import type { Variables } from './runtime.ts';

export type EventKind = 'message' | 'signal';

/** The form key of the variable schema of a message or signal name. */
export function eventSchemaKey(kind: EventKind, name: string): string {
  return `${kind}s/${name}`;
}

/** The kind of event a form key declares the variables of, or null for an ordinary form. */
export function eventKindOfFormKey(key: string): EventKind | null {
  return key.startsWith('messages/') ? 'message' : key.startsWith('signals/') ? 'signal' : null;
}

/**
 * Why a schema deployed under `messages/` or `signals/` cannot declare event variables, or null when it can:
 * it must be an object schema listing the variables in `properties`, and must not allow others
 * (`additionalProperties` absent or false, no `patternProperties`).
 */
export function eventSchemaProblem(key: string, schema: unknown): string | null {
  const kind = eventKindOfFormKey(key);
  if (!kind) return null;
  const s = schema as Record<string, unknown>;
  if (s.type !== undefined && s.type !== 'object') return `the variables of ${kind} "${key.slice(kind.length + 2)}" form an object: "type" must be "object"`;
  if (!s.properties || typeof s.properties !== 'object' || Array.isArray(s.properties)) return `a ${kind} schema declares the variables it may set in "properties" (an object)`;
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) return `a ${kind} may set only the variables its schema declares: remove "additionalProperties" (false is implied)`;
  if (s.patternProperties !== undefined) return `a ${kind} may set only the variables its schema declares by name in "properties": remove "patternProperties"`;
  return null;
}

/**
 * Checks the variables a message or signal would set against the schema of its name (see the module comment).
 * @throws InsureflowError VALIDATION_FAILED with FieldError[] details (field = the variable's name or path)
 */
export async function checkEventVariables(ctx: EngineContext, kind: EventKind, name: string, variables: Variables | undefined): Promise<void> {
  const fields = variables ? Object.keys(variables) : [];
  const key = eventSchemaKey(kind, name);
  const form = await ctx.deployments.latestForm(key, null);
  const declareIn = `declare it in ${key}.schema.json of the processes folder`;
  if (!form) {
    if (!fields.length) return;
    const details: FieldError[] = fields.map((f) => ({ field: f, message: `is not a variable of ${kind} "${name}" (it declares none)`, keyword: 'undeclared' }));
    throw new InsureflowError('VALIDATION_FAILED', `${kind} "${name}" may not set the variable "${fields[0]}"${fields.length > 1 ? ` (nor ${fields.slice(1).map((f) => `"${f}"`).join(', ')})` : ''}: it declares no variables; ${declareIn}`, details);
  }
  const declared = declaredVariables(ctx, form.id, form.schema);
  const undeclared = fields.filter((f) => !declared.has(f));
  if (undeclared.length) {
    const details: FieldError[] = undeclared.map((f) => ({ field: f, message: `is not a variable of ${kind} "${name}" (declared: ${[...declared].join(', ') || 'none'})`, keyword: 'undeclared' }));
    throw new InsureflowError('VALIDATION_FAILED', `${kind} "${name}" may not set the variable "${undeclared[0]}"${undeclared.length > 1 ? ` (nor ${undeclared.slice(1).map((f) => `"${f}"`).join(', ')})` : ''}: it declares ${[...declared].map((f) => `"${f}"`).join(', ') || 'none'}; ${declareIn}`, details);
  }
  const validate = ctx.forms.get(form.id, form.schema);
  if (!validate(variables ?? {})) {
    const details = fieldErrors(validate.errors);
    throw new InsureflowError('VALIDATION_FAILED', `the variables of ${kind} "${name}" are invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
  }
}

/** per engine: form version id -> its top-level property names (a version never changes) */
const declaredCaches = new WeakMap<EngineContext, Map<number, Set<string>>>();

function declaredVariables(ctx: EngineContext, formId: number, schemaText: string): Set<string> {
  let cache = declaredCaches.get(ctx);
  if (!cache) declaredCaches.set(ctx, (cache = new Map()));
  let set = cache.get(formId);
  if (!set) {
    const props = (JSON.parse(schemaText) as { properties?: unknown }).properties;
    set = new Set(props && typeof props === 'object' && !Array.isArray(props) ? Object.keys(props) : []);
    cache.set(formId, set);
  }
  return set;
}
