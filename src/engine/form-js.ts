/**
 * Camunda Forms (form-js JSON, the `.form` files Camunda Modeler 8 saves): the deploy-time check of a form and
 * the server-side validation of the data a task is completed with.
 *
 * A form is `{ type: 'default', id, components: [...], schemaVersion, exporter, versionTag? }`; its form key is
 * its `id`. Components that carry a `key` are input fields; the value lives at that key in the submitted data (a
 * dotted key `a.b` is the nested path a -> b, as form-js writes it). A `group` with a `path` nests its children
 * under that path (without one, its children are at the group's level); a `dynamiclist` with a `path` holds an
 * array of objects, each validated by its child components. Layout components (text, html, image, spacer,
 * separator, button, iframe, table, documentPreview) carry no value.
 *
 * Validation, per field (the same FieldError shape as JSON Schema forms, ./forms.ts):
 * - validate.required: null, undefined, '' and [] are missing (form-js's rule);
 * - textfield / textarea: a string; validate.minLength / maxLength / pattern (a JavaScript regular expression,
 *   not anchored, as form-js tests it) / validationType email | phone (form-js's own patterns);
 * - number: a number (a numeric string when the component has serializeToString); validate.min / max;
 * - datetime: subtype date `YYYY-MM-DD`, time `HH:mm` (optional offset or Z), datetime ISO 8601 date-time;
 * - checkbox: a boolean;
 * - select / radio: one of the component's `values`; checklist / taglist: an array of them. Options given at run
 *   time (`valuesKey`, `valuesExpression`) cannot be known by the server: any value of the right type is
 *   accepted (the task's form representation says so: `dynamicOptions`);
 * - a component hidden by its `conditional.hide` FEEL condition (or inside a hidden group or list) is not validated,
 *   as form-js does not validate what it hides; the condition is evaluated over the submitted data (in a dynamic
 *   list, the data with the item's fields over it); a condition that fails to evaluate leaves the field visible.
 * Fields the form does not know are kept (Camunda does the same: the submitted variables are merged into the
 * instance).
 *
 * Refused at deploy (problems naming the file and the component): no `id`, no `components` array, a component
 * with a `key` whose type is not one of the above (its value could not be validated), a malformed `pattern`, a
 * limit that is not a number (an `=` expression cannot be checked before run time), two fields with one key.
 */
import type { FieldError } from './forms.ts';
import { resolveValue } from './expressions.ts';

/** Components whose value the server validates. */
const INPUT_TYPES = new Set(['textfield', 'textarea', 'number', 'checkbox', 'checklist', 'radio', 'select', 'taglist', 'datetime', 'expression', 'filepicker']);
/** Components that hold others. */
const CONTAINER_TYPES = new Set(['group', 'dynamiclist']);

/** form-js's own patterns (packages/form-js-viewer/src/core/Validator.js). */
const EMAIL = /^(([^<>()[\]\\.,;:\s@"]+(\.[^<>()[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$/;
const PHONE = /(\+|00)(297|93|244|1264|358|355|376|971|54|374|1684|1268|61|43|994|257|32|229|226|880|359|973|1242|387|590|375|501|1441|591|55|1246|673|975|267|236|1|61|41|56|86|225|237|243|242|682|57|269|238|506|53|5999|61|1345|357|420|49|253|1767|45|1809|1829|1849|213|593|20|291|212|34|372|251|358|679|500|33|298|691|241|44|995|44|233|350|224|590|220|245|240|30|1473|299|502|594|1671|592|852|504|385|509|36|62|44|91|246|353|98|964|354|972|39|1876|44|962|81|76|77|254|996|855|686|1869|82|383|965|856|961|231|218|1758|423|94|266|370|352|371|853|590|212|377|373|261|960|52|692|389|223|356|95|382|976|1670|258|222|1664|596|230|265|60|262|264|687|227|672|234|505|683|31|47|977|674|64|968|92|507|64|51|63|680|675|48|1787|1939|850|351|595|970|689|974|262|40|7|250|966|249|221|65|500|4779|677|232|503|378|252|508|381|211|239|597|421|386|46|268|1721|248|963|1649|235|228|66|992|690|993|670|676|1868|216|90|688|886|255|256|380|598|1|998|3906698|379|1784|58|1284|1340|84|678|681|685|967|27|260|263)(9[976]\d|8[987530]\d|6[987]\d|5[90]\d|42\d|3[875]\d|2[98654321]\d|9[8543210]|8[6421]|6[6543210]|5[87654321]|4[987654310]|3[9643210]|2[70]|7|1)\d{4,20}$/;

export interface FormJsOption {
  label: string;
  value: unknown;
}

/** One field of a form, as the validator uses it (exported for the task representation and tests). */
export interface FormJsField {
  /** the path of the value in the data: `a.b` for key `b` in group path `a` */
  path: string[];
  type: string;
  id: string | null;
  label: string | null;
  required: boolean;
  minLength?: number;
  maxLength?: number;
  min?: number;
  max?: number;
  pattern?: RegExp;
  validationType?: 'email' | 'phone';
  subtype?: string;
  serializeToString?: boolean;
  /** static options (select, radio, checklist, taglist); null when they come from a variable or an expression */
  options?: FormJsOption[] | null;
  /** dynamiclist: the child fields of each item */
  items?: FormJsField[];
  /** `conditional.hide` FEEL conditions of the field and its groups: hidden (not validated) when one is true */
  hidden?: string[];
}

export interface CompiledFormJs {
  id: string;
  versionTag: string | null;
  fields: FormJsField[];
  /** true when some options are given at run time (any value of the right type is accepted) */
  dynamicOptions: boolean;
}

/** One problem of a form: the component (its id, else its key) and what to write instead. */
export interface FormJsProblem {
  component: string | null;
  message: string;
}

export class FormJsInvalidError extends Error {
  constructor(readonly problems: FormJsProblem[]) {
    super(problems.map((p) => (p.component ? `component "${p.component}": ` : '') + p.message).join('; '));
  }
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when a parsed JSON document is a form-js form (a `components` array, not a JSON Schema). */
export function isFormJs(doc: unknown): boolean {
  return isObject(doc) && Array.isArray(doc.components) && !('$schema' in doc) && !('properties' in doc);
}

/**
 * Checks a form-js document and returns what the validator needs.
 * @throws FormJsInvalidError with every problem
 */
export function compileFormJs(doc: unknown): CompiledFormJs {
  const problems: FormJsProblem[] = [];
  if (!isObject(doc)) throw new FormJsInvalidError([{ component: null, message: 'a Camunda form is a JSON object' }]);
  if (typeof doc.id !== 'string' || !doc.id.trim()) problems.push({ component: null, message: 'the form has no "id" (its form key, which zeebe:formDefinition formId names); set one in Camunda Modeler' });
  if (!Array.isArray(doc.components)) problems.push({ component: null, message: 'the form has no "components" array' });
  let dynamicOptions = false;
  // the keys written in one scope (the form, or the items of one dynamic list)
  const walk = (components: unknown[], base: string[], seen: Map<string, string>, conditions: string[]): FormJsField[] => {
    const out: FormJsField[] = [];
    for (const c of components) {
      if (!isObject(c)) {
        problems.push({ component: null, message: 'a component is not a JSON object' });
        continue;
      }
      const type = typeof c.type === 'string' ? c.type : '';
      const name = typeof c.id === 'string' ? c.id : typeof c.key === 'string' ? c.key : null;
      const hasKey = typeof c.key === 'string' && c.key.trim() !== '';
      const hide = isObject(c.conditional) && typeof c.conditional.hide === 'string' && c.conditional.hide.trim().startsWith('=') ? [...conditions, c.conditional.hide.trim()] : conditions;
      if (CONTAINER_TYPES.has(type)) {
        const path = typeof c.path === 'string' && c.path.trim() ? [...base, ...c.path.trim().split('.')] : base;
        const children = Array.isArray(c.components) ? c.components : [];
        if (type === 'dynamiclist') {
          if (path === base) {
            problems.push({ component: name, message: 'a dynamic list needs a "path" (the variable that holds its items)' });
            continue;
          }
          const items = walk(children, [], new Map(), []);
          out.push({ path, type, id: name, label: str(c.label), required: false, items, ...(hide.length ? { hidden: hide } : {}) });
        } else {
          out.push(...walk(children, path, seen, hide));
        }
        continue;
      }
      if (!hasKey) continue; // layout: text, html, image, spacer, separator, button, iframe, table, ...
      if (!INPUT_TYPES.has(type)) {
        problems.push({
          component: name,
          message: `component type "${type}" (key "${c.key}") is unknown to the server, so its value cannot be validated; use one of ${[...INPUT_TYPES, ...CONTAINER_TYPES].join(', ')}, or remove its key`,
        });
        continue;
      }
      const path = [...base, ...String(c.key).trim().split('.')];
      const joined = path.join('.');
      const other = seen.get(joined);
      if (other !== undefined) problems.push({ component: name, message: `two fields write the key "${joined}" (also component "${other}")` });
      seen.set(joined, name ?? joined);
      const v = isObject(c.validate) ? c.validate : {};
      const field: FormJsField = { path, type, id: name, label: str(c.label), required: v.required === true, ...(hide.length ? { hidden: hide } : {}) };
      const num = (prop: string): number | undefined => {
        const raw = v[prop];
        if (raw === undefined || raw === null || raw === '') return undefined;
        if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
        if (typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw.trim())) return Number(raw);
        problems.push({ component: name, message: `validate.${prop} is ${JSON.stringify(raw)}: write a number (an expression cannot be checked by the server)` });
        return undefined;
      };
      if (type === 'textfield' || type === 'textarea') {
        field.minLength = num('minLength');
        field.maxLength = num('maxLength');
        if (typeof v.pattern === 'string' && v.pattern !== '') {
          try {
            field.pattern = new RegExp(v.pattern);
          } catch (err) {
            problems.push({ component: name, message: `validate.pattern ${JSON.stringify(v.pattern)} is not a valid regular expression: ${(err as Error).message}` });
          }
        } else if (v.pattern !== undefined && v.pattern !== '' && v.pattern !== null) {
          problems.push({ component: name, message: 'validate.pattern must be a string' });
        }
        if (v.validationType === 'email' || v.validationType === 'phone') field.validationType = v.validationType;
        else if (v.validationType !== undefined && v.validationType !== 'custom' && v.validationType !== '' && v.validationType !== null) {
          problems.push({ component: name, message: `validate.validationType ${JSON.stringify(v.validationType)} is not known; use "email", "phone" or a pattern` });
        }
      } else if (type === 'number') {
        field.min = num('min');
        field.max = num('max');
        field.serializeToString = c.serializeToString === true;
      } else if (type === 'datetime') {
        field.subtype = typeof c.subtype === 'string' ? c.subtype : 'date';
        if (!['date', 'time', 'datetime'].includes(field.subtype)) problems.push({ component: name, message: `subtype "${field.subtype}" is not date, time or datetime` });
      } else if (['select', 'radio', 'checklist', 'taglist'].includes(type)) {
        if (Array.isArray(c.values)) {
          field.options = c.values.filter(isObject).map((o) => ({ label: String(o.label ?? o.value), value: o.value }));
        } else if (typeof c.valuesKey === 'string' || typeof c.valuesExpression === 'string') {
          field.options = null;
          dynamicOptions = true;
        } else {
          problems.push({ component: name, message: 'the component has no options ("values", "valuesKey" or "valuesExpression")' });
        }
      }
      out.push(field);
    }
    return out;
  };
  const fields = Array.isArray(doc.components) ? walk(doc.components, [], new Map(), []) : [];
  if (problems.length) throw new FormJsInvalidError(problems);
  return { id: String(doc.id).trim(), versionTag: typeof doc.versionTag === 'string' && doc.versionTag.trim() ? doc.versionTag.trim() : null, fields, dynamicOptions };
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

const missing = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

function at(data: unknown, path: string[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$/;

function validDate(y: string, m: string, d: string): boolean {
  const dt = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return dt.getUTCFullYear() === Number(y) && dt.getUTCMonth() === Number(m) - 1 && dt.getUTCDate() === Number(d);
}

const sameValue = (a: unknown, b: unknown) => a === b || (a !== null && b !== null && typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b));

/**
 * Validates submitted data against a compiled form. Returns every problem, one per field at most (the first
 * rule it breaks), in the order of the form's components. Fields the form does not know are not reported.
 */
export function validateFormJs(form: CompiledFormJs, data: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const root = isObject(data) ? data : {};
  const isHidden = (f: FormJsField, context: Record<string, unknown>) =>
    (f.hidden ?? []).some((condition) => {
      try {
        return resolveValue(condition, context) === true;
      } catch {
        return false;
      }
    });
  const check = (fields: FormJsField[], scope: unknown, prefix: string[]) => {
    const context = scope === data ? root : { ...root, ...(isObject(scope) ? scope : {}) };
    for (const f of fields) {
      if (isHidden(f, context)) continue;
      const name = [...prefix, ...f.path].join('.');
      const value = at(scope, f.path);
      const fail = (keyword: string, message: string) => errors.push({ field: name, message, keyword });
      if (f.type === 'dynamiclist') {
        if (value === undefined || value === null) continue;
        if (!Array.isArray(value)) {
          fail('type', 'must be a list');
          continue;
        }
        value.forEach((item, i) => {
          if (!isObject(item)) fail('type', `item ${i} must be an object`);
          else check(f.items ?? [], item, [...prefix, ...f.path, String(i)]);
        });
        continue;
      }
      if (missing(value)) {
        if (f.required) fail('required', 'is required');
        continue;
      }
      switch (f.type) {
        case 'textfield':
        case 'textarea': {
          if (typeof value !== 'string') {
            fail('type', 'must be text');
            break;
          }
          if (f.minLength !== undefined && value.length < f.minLength) fail('minLength', `must have at least ${f.minLength} characters`);
          else if (f.maxLength !== undefined && value.length > f.maxLength) fail('maxLength', `must have at most ${f.maxLength} characters`);
          else if (f.pattern && !f.pattern.test(value)) fail('pattern', `must match the pattern ${f.pattern.source}`);
          else if (f.validationType === 'email' && !EMAIL.test(value)) fail('format', 'must be a valid email address');
          else if (f.validationType === 'phone' && !PHONE.test(value)) fail('format', 'must be a valid phone number (international, e.g. +4915112345678)');
          break;
        }
        case 'number': {
          const n = typeof value === 'number' ? value : f.serializeToString && typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
          if (!Number.isFinite(n)) fail('type', 'must be a number');
          else if (f.min !== undefined && n < f.min) fail('minimum', `must be at least ${f.min}`);
          else if (f.max !== undefined && n > f.max) fail('maximum', `must be at most ${f.max}`);
          break;
        }
        case 'checkbox':
          if (typeof value !== 'boolean') fail('type', 'must be true or false');
          break;
        case 'datetime': {
          const s = typeof value === 'string' ? value : '';
          let ok = false;
          if (f.subtype === 'time') ok = TIME.test(s);
          else if (f.subtype === 'datetime') {
            const m = DATETIME.exec(s);
            ok = !!m && validDate(m[1], m[2], m[3]);
          } else {
            const m = DATE.exec(s);
            ok = !!m && validDate(m[1], m[2], m[3]);
          }
          if (!ok) fail('format', f.subtype === 'time' ? 'must be a time (HH:mm)' : f.subtype === 'datetime' ? 'must be an ISO 8601 date-time (YYYY-MM-DDTHH:mm)' : 'must be a date (YYYY-MM-DD)');
          break;
        }
        case 'select':
        case 'radio': {
          if (f.options === null) {
            if (typeof value === 'object' && value !== null) fail('type', 'must be a single value');
          } else if (!(f.options ?? []).some((o) => sameValue(o.value, value))) {
            fail('enum', `must be one of ${(f.options ?? []).map((o) => JSON.stringify(o.value)).join(', ')}`);
          }
          break;
        }
        case 'checklist':
        case 'taglist': {
          if (!Array.isArray(value)) {
            fail('type', 'must be a list');
            break;
          }
          if (f.options === null) break;
          const bad = value.filter((v) => !(f.options ?? []).some((o) => sameValue(o.value, v)));
          if (bad.length) fail('enum', `${bad.map((v) => JSON.stringify(v)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not among ${(f.options ?? []).map((o) => JSON.stringify(o.value)).join(', ')}`);
          break;
        }
        default:
          break; // expression, filepicker: any value
      }
    }
  };
  check(form.fields, data, []);
  return errors;
}

/**
 * What a form key written in a diagram points at:
 * - `camunda-forms:deployment:<file>.form` (Camunda 7): the `.form` file of that name in the same deployment;
 * - `app:...`, `embedded:app:...`, `camunda-forms:app:...`, `http(s)://...`: a form outside the deployment (the
 *   web application's), handed to clients as written and not validated by the server (unless a form is deployed
 *   under that very key, which is then validated as any deployed form);
 * - anything else: the key of a deployed form (a JSON Schema's file key or a Camunda form's id).
 */
export type FormReference = { kind: 'deployed'; key: string } | { kind: 'deploymentFile'; file: string } | { kind: 'external'; key: string };

const DEPLOYMENT_FILE = /^camunda-forms:deployment:(.+)$/;
const EXTERNAL = /^(app:|embedded:app:|camunda-forms:app:|https?:\/\/)/i;

export function formReference(key: string): FormReference {
  const file = DEPLOYMENT_FILE.exec(key);
  if (file && file[1].trim()) return { kind: 'deploymentFile', file: file[1].trim() };
  if (EXTERNAL.test(key)) return { kind: 'external', key };
  return { kind: 'deployed', key };
}

/** The file a `camunda-forms:deployment:<file>` key names matches a resource by its full name or its base name. */
export function matchesFormFile(resourceName: string, file: string): boolean {
  const name = resourceName.replace(/\\/g, '/');
  const want = file.replace(/\\/g, '/');
  return name === want || name.slice(name.lastIndexOf('/') + 1) === want.slice(want.lastIndexOf('/') + 1);
}
