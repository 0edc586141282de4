/**
 * Camunda 7 generated task forms: `<camunda:formData>` with `<camunda:formField id label type defaultValue>`,
 * `<camunda:value id name>` entries of an enum, and `<camunda:validation><camunda:constraint name config>`.
 * Read from the user task's moddle element at deploy (problems name the field) and validated on completion with
 * the same per-field errors as the other forms (./forms.ts FieldError).
 *
 * Types: string (text), long (an integer), boolean, date (an ISO 8601 date `YYYY-MM-DD` or date-time: JSON has
 * no date type, and Camunda's REST API sends dates as ISO text; `datePattern` is for display only), enum (one of
 * the value ids). Constraints: required, minlength / maxlength (string), min / max (long), readonly (the field
 * must not be submitted: Camunda refuses a submitted read-only value). A custom type, a `validator` constraint
 * (a Java class) or an unknown constraint is refused at deploy. Submitted variables the form does not list are
 * kept, as Camunda does.
 */
import type { FieldError } from './forms.ts';

export interface FormDataField {
  id: string;
  label: string | null;
  type: 'string' | 'long' | 'boolean' | 'date' | 'enum';
  defaultValue: string | null;
  /** enum: the value ids (and their display names) */
  values?: { id: string; name: string | null }[];
  required: boolean;
  readonly: boolean;
  minlength?: number;
  maxlength?: number;
  min?: number;
  max?: number;
}

const TYPES = new Set(['string', 'long', 'boolean', 'date', 'enum']);
const CONSTRAINTS = new Set(['required', 'readonly', 'minlength', 'maxlength', 'min', 'max']);

/**
 * The fields of a user task's `camunda:formData`, and the problems that make them unusable (empty when none).
 * `fields` is null when the element has no formData.
 */
export function formDataOf(el: unknown): { fields: FormDataField[] | null; problems: string[] } {
  // the moddle element (bpmn-engine's wrappers keep it in `behaviour`); camunda-bpmn-moddle types the children
  const b: any = el && typeof el === 'object' && 'behaviour' in el && !('$type' in el) ? (el as any).behaviour : el;
  const ext: unknown[] = Array.isArray(b?.extensionElements?.values) ? b.extensionElements.values : [];
  const data: any = ext.find((v: any) => typeof v?.$type === 'string' && v.$type.toLowerCase() === 'camunda:formdata');
  if (!data) return { fields: null, problems: [] };
  const problems: string[] = [];
  const fields: FormDataField[] = [];
  const seen = new Set<string>();
  for (const f of Array.isArray(data.fields) ? data.fields : []) {
    const id = typeof f.id === 'string' ? f.id.trim() : '';
    if (!id) {
      problems.push('a camunda:formField has no id (the variable it sets)');
      continue;
    }
    if (seen.has(id)) problems.push(`two camunda:formField elements have the id "${id}"`);
    seen.add(id);
    const type = typeof f.type === 'string' ? f.type.trim() : 'string';
    if (!TYPES.has(type)) {
      problems.push(`form field "${id}" has the type "${type}"; use string, long, boolean, date or enum (custom form field types are Java classes)`);
      continue;
    }
    const field: FormDataField = { id, label: typeof f.label === 'string' ? f.label : null, type: type as FormDataField['type'], defaultValue: typeof f.defaultValue === 'string' ? f.defaultValue : null, required: false, readonly: false };
    if (type === 'enum') {
      const values = (Array.isArray(f.values) ? f.values : []).map((v: any) => ({ id: String(v.id ?? ''), name: typeof v.name === 'string' ? v.name : null }));
      field.values = values;
      if (!values.length) problems.push(`enum form field "${id}" has no camunda:value entries`);
    }
    for (const c of Array.isArray(f.validation?.constraints) ? f.validation.constraints : []) {
      const name = typeof c.name === 'string' ? c.name.trim() : '';
      if (!CONSTRAINTS.has(name)) {
        problems.push(`form field "${id}" has the constraint "${name}"; the server checks required, readonly, minlength, maxlength, min and max (a validator class cannot run here)`);
        continue;
      }
      if (name === 'required') field.required = c.config === undefined || c.config === null || String(c.config).trim() !== 'false';
      else if (name === 'readonly') field.readonly = c.config === undefined || c.config === null || String(c.config).trim() !== 'false';
      else {
        const n = Number(String(c.config ?? '').trim());
        if (String(c.config ?? '').trim() === '' || !Number.isFinite(n)) {
          problems.push(`form field "${id}": the constraint ${name} needs a number as its config (has ${JSON.stringify(c.config ?? null)})`);
          continue;
        }
        if ((name === 'minlength' || name === 'maxlength') && type !== 'string') problems.push(`form field "${id}": ${name} applies to string fields (this one is ${type})`);
        if ((name === 'min' || name === 'max') && type !== 'long') problems.push(`form field "${id}": ${name} applies to long fields (this one is ${type})`);
        field[name as 'min' | 'max' | 'minlength' | 'maxlength'] = n;
      }
    }
    fields.push(field);
  }
  return { fields, problems };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Validates submitted variables against the fields; every problem, one per field at most. */
export function validateFormData(fields: FormDataField[], data: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const vars = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  for (const f of fields) {
    const value = vars[f.id];
    const fail = (keyword: string, message: string) => errors.push({ field: f.id, message, keyword });
    const absent = value === undefined || value === null || value === '';
    if (f.readonly) {
      if (value !== undefined) fail('readOnly', 'is read-only and must not be submitted');
      continue;
    }
    if (absent) {
      if (f.required) fail('required', 'is required');
      continue;
    }
    switch (f.type) {
      case 'string':
        if (typeof value !== 'string') fail('type', 'must be text');
        else if (f.minlength !== undefined && value.length < f.minlength) fail('minLength', `must have at least ${f.minlength} characters`);
        else if (f.maxlength !== undefined && value.length > f.maxlength) fail('maxLength', `must have at most ${f.maxlength} characters`);
        break;
      case 'long':
        if (typeof value !== 'number' || !Number.isInteger(value)) fail('type', 'must be an integer');
        else if (f.min !== undefined && value < f.min) fail('minimum', `must be at least ${f.min}`);
        else if (f.max !== undefined && value > f.max) fail('maximum', `must be at most ${f.max}`);
        break;
      case 'boolean':
        if (typeof value !== 'boolean') fail('type', 'must be true or false');
        break;
      case 'date': {
        const m = typeof value === 'string' ? DATE.exec(value) : null;
        const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
        if (!m || !d || d.getUTCDate() !== Number(m[3]) || d.getUTCMonth() !== Number(m[2]) - 1) fail('format', 'must be an ISO 8601 date (YYYY-MM-DD) or date-time');
        break;
      }
      case 'enum':
        if (!(f.values ?? []).some((v) => v.id === value)) fail('enum', `must be one of ${(f.values ?? []).map((v) => JSON.stringify(v.id)).join(', ')}`);
        break;
    }
  }
  return errors;
}
