/** Parsing of JSON stored as text, with the record named in the error (a corrupt row must say which it is). */
export function parseJson<T>(text: string | null | undefined, what: string, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`corrupt JSON in ${what}: ${(err as Error).message}`);
  }
}
