/**
 * Preloaded by `npm test` (node --import ./test/support/uvu-details.mjs): uvu 0.5 prints a failed test's
 * `err.details` with `details.split('\n')`. Every InsureflowError with details has an object there, so the
 * reporter itself threw, the suite stopped at that test WITHOUT reporting a failure, and the process exited 0.
 * This load hook rewrites that one line of uvu's reporter to print object details as JSON. If uvu's source
 * changes so that the line is not found, the hook throws: the run fails loudly instead of hiding failures.
 */
import { register } from 'node:module';

register('./uvu-details-hook.mjs', import.meta.url);
