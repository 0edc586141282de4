/**
 * Given/When/Then steps for feature tests (the style of paed01/bpmn-engine test/feature): a scenario is one uvu
 * test whose steps run in order; a failing step's error message starts with the step, so the report says which
 * part of the scenario broke. Each step returns what its body returns.
 */
type Body<T> = () => T | Promise<T>;

async function step<T>(kind: string, text: string, body: Body<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof Error) err.message = `${kind} ${text}: ${err.message}`;
    throw err;
  }
}

export const Given = <T>(text: string, body: Body<T>) => step('Given', text, body);
export const When = <T>(text: string, body: Body<T>) => step('When', text, body);
export const Then = <T>(text: string, body: Body<T>) => step('Then', text, body);
export const And = <T>(text: string, body: Body<T>) => step('And', text, body);
