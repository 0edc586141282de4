/**
 * The data side of a compiled activity (ActivityInfo `io`, `loop`, `call`): its input/output mappings, its
 * multi-instance characteristics and its call activity variable passing, read once per process version
 * (src/definitions/io-mappings.ts), and the adjustments the serialized model needs so that bpmn-elements runs
 * what the diagram means:
 * - Camunda 8 `zeebe:loopCharacteristics inputCollection` / `inputElement` become the collection and element
 *   variable bpmn-elements iterates over (it only reads the Camunda 7 attributes);
 * - a Camunda 7 `camunda:collection` that names a variable (`approvers`, allowed by Camunda 7) becomes the
 *   expression `${approvers}`;
 * - a call activity's called process is removed from the model bpmn-elements runs: a called process is its own
 *   process instance, started and awaited by the runtime (src/engine/runtime/call-activities.ts), never a process
 *   run inside the caller's engine.
 */
import { callSpecOf, ioMappingsOf, loopSpecOf, type CallSpec, type IoMappings, type LoopSpec } from '../definitions/io-mappings.ts';
import type { Dialect } from '../definitions/parse.ts';

export type { CallSpec, IoMappings, LoopSpec };

/** What ActivityInfo carries about an activity's variables. */
export interface ActivityData {
  /** input/output mappings (null: none) */
  io: IoMappings | null;
  /** multi-instance characteristics (null: not multi-instance) */
  loop: LoopSpec | null;
  /** call activity variable passing (null: not a call activity) */
  call: CallSpec | null;
}

/** Reads the data side of a moddle element (see ActivityData). */
export function activityDataOf(el: unknown, dialect: Dialect): ActivityData {
  if (!el) return { io: null, loop: null, call: null };
  const io = ioMappingsOf(el);
  return {
    io: io && (io.inputs.length || io.outputs.length) ? io : null,
    loop: loopSpecOf(el, dialect),
    call: callSpecOf(el, dialect),
  };
}

const VARIABLE_NAME = /^[A-Za-z_][\w]*$/;

/** A collection as bpmn-elements evaluates it: Camunda 7 may name the variable without an expression. */
export function collectionExpression(raw: string): string {
  return VARIABLE_NAME.test(raw.trim()) ? `\${${raw.trim()}}` : raw;
}

/**
 * Adjusts the serialized model (a moddle-context-serializer context, before it is cached) for the activities
 * described by `data` (see the module comment). Mutates the serialized behaviours of this version only.
 */
export function adjustSerializedModel(sourceContext: { getActivityById(id: string): any }, data: Map<string, ActivityData>): void {
  for (const [id, d] of data) {
    const activity = sourceContext.getActivityById(id);
    if (!activity?.behaviour) continue;
    // a called process runs as its own instance (runtime/call-activities.ts), never inside the caller's engine
    if (d.call) delete activity.behaviour.calledElement;
    const lc = activity.behaviour.loopCharacteristics;
    if (!d.loop || !lc?.behaviour) continue;
    const behaviour = { ...lc.behaviour };
    if (d.loop.collection) behaviour.collection = collectionExpression(d.loop.collection);
    if (d.loop.elementVariable) behaviour.elementVariable = d.loop.elementVariable;
    activity.behaviour.loopCharacteristics = { ...lc, behaviour };
  }
}
