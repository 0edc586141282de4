#!/usr/bin/env node
// Entry point of `npx insureflow`: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../cli.ts');
await main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`insureflow: ${err?.code ? err.code + ': ' : ''}${err?.message ?? err}\n`);
  process.exit(1);
});
