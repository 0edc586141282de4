// Worker entry of the verification scan: workers do not inherit the TypeScript loader, so register it here.
import { register } from 'tsx/esm/api';

register();
await import('./scan-worker.ts');
