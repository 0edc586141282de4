/** JSON Schema forms: compiled once per schema version with ajv; errors are per field and readable. */
import { Ajv2020 } from 'ajv/dist/2020.js';
import AjvDraft7 from 'ajv';
import addFormats from 'ajv-formats';
import type { ValidateFunction, ErrorObject } from 'ajv';
import { Decimal } from 'decimal.js';
import { compileFormJs, isFormJs, validateFormJs } from './form-js.ts';

/**
 * JSON Schema `multipleOf`, judged on the decimal value of the number as written (its shortest round-trip text)
 * instead of a binary floating-point division: with `"multipleOf": 0.01` (amounts in CNY with fen) 0.07 and
 * 1181.25 pass (ajv's own check refuses 0.07, since 0.07 / 0.01 is 7.000000000000001 in binary) and 100.005 or
 * 0.30000000000000004 fail.
 */
export function isDecimalMultipleOf(value: number, divisor: number): boolean {
  if (!Number.isFinite(value) || !Number.isFinite(divisor) || divisor <= 0) return false;
  return new Decimal(String(value)).mod(new Decimal(String(divisor))).isZero();
}

function exactMultipleOf(this: unknown, divisor: number, data: number): boolean {
  const ok = isDecimalMultipleOf(data, divisor);
  (exactMultipleOf as any).errors = ok ? null : [{ keyword: 'multipleOf', message: `must be a multiple of ${divisor}`, params: { multipleOf: divisor } }];
  return ok;
}

function makeAjv(kind: '2020' | '07') {
  const ajv: any = kind === '2020' ? new (Ajv2020 as any)({ allErrors: true, strict: false }) : new (AjvDraft7 as any)({ allErrors: true, strict: false });
  (addFormats as any)(ajv);
  ajv.addFormat('money', { type: 'number', validate: isMoneyNumber });
  ajv.removeKeyword('multipleOf');
  ajv.addKeyword({ keyword: 'multipleOf', type: 'number', schemaType: 'number', errors: true, validate: exactMultipleOf });
  return ajv;
}

/**
 * Format `money` (for numbers): an amount in major units with at most two decimals, judged on the number's
 * shortest decimal text (1181.25 yes, 0.1 yes, 1181.255 and 1e-7 no). `multipleOf: 0.01` is not used for this:
 * with binary floats ajv refuses valid amounts (0.29 / 0.01 = 28.999999999999996).
 */
export function isMoneyNumber(value: number): boolean {
  return Number.isFinite(value) && /^-?\d+(\.\d{1,2})?$/.test(String(value));
}

const ajv2020 = makeAjv('2020');
const ajv07 = makeAjv('07');

export interface FieldError {
  field: string;
  message: string;
  keyword: string;
}

export function fieldErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((e) => {
    let field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
    if (e.keyword === 'required') field = [field, (e.params as any).missingProperty].filter(Boolean).join('.');
    if (e.keyword === 'additionalProperties') field = [field, (e.params as any).additionalProperty].filter(Boolean).join('.');
    const message = e.keyword === 'format' && (e.params as any).format === 'money' ? 'must be an amount of money with at most 2 decimals' : (e.message ?? 'is invalid');
    return { field: field || '(root)', message, keyword: e.keyword };
  });
}

/** Compile a form schema; throws with a readable message when the schema itself is not valid. */
export function compileSchema(schema: unknown): ValidateFunction {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new Error('a form schema must be a JSON object');
  const s = schema as Record<string, unknown>;
  if (isFormJs(s)) return formJsValidator(s);
  const ajv = typeof s.$schema === 'string' && s.$schema.includes('draft-07') ? ajv07 : ajv2020;
  const copy = { ...s };
  delete copy.$id; // schemas are keyed by form key and version, not by $id (a redeploy would clash)
  return ajv.compile(copy);
}

/**
 * A Camunda form (./form-js.ts) behind the interface of a compiled schema: its errors are ajv-shaped, so that
 * fieldErrors gives the same per-field 400 as JSON Schema forms.
 */
function formJsValidator(doc: unknown): ValidateFunction {
  const form = compileFormJs(doc);
  const fn = ((data: unknown) => {
    const errors = validateFormJs(form, data);
    fn.errors = errors.length ? errors.map((e) => ({ instancePath: '/' + e.field.split('.').join('/'), schemaPath: '#', keyword: e.keyword, params: {}, message: e.message })) : null;
    return errors.length === 0;
  }) as ValidateFunction;
  fn.schema = doc as object;
  return fn;
}

export class FormCache {
  private readonly compiled = new Map<number, ValidateFunction>();
  cached(id: number): ValidateFunction | undefined {
    return this.compiled.get(id);
  }
  get(id: number, schemaText: string): ValidateFunction {
    let fn = this.compiled.get(id);
    if (!fn) {
      fn = compileSchema(JSON.parse(schemaText));
      this.compiled.set(id, fn);
    }
    return fn;
  }
}
