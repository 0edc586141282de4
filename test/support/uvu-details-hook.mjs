/** The load hook of ./uvu-details.mjs (runs on Node's loader thread). */
const LINE = "if (details) str += GUTTER + details.split('\\n').join(GUTTER);";
const FIXED = "if (details && typeof details !== 'string') details = JSON.stringify(details, null, 2);\n\t" + LINE;

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!/\/node_modules\/uvu\/dist\/index\.m?js$/.test(url) || result.source == null) return result;
  const source = String(result.source);
  if (!source.includes(LINE)) throw new Error(`test/support/uvu-details-hook.mjs: uvu's reporter changed (${url}); update the hook`);
  return { ...result, source: source.replace(LINE, FIXED) };
}
