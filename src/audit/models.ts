/**
 * The approved models, as auditors need them: a deployed definition version compiled for the runtime (replay)
 * and indexed for reconstruction (which boundary events hang on which activity, and whether they interrupt
 * it). Definition rows never change, so each is compiled once per process.
 */
import type { Knex } from 'knex';
import { parseBpmn } from '../definitions/parse.ts';
import { compileDefinition, type CachedDefinition } from '../engine/definitions.ts';
import { sha256hex } from '../persistence/canonical-json.ts';
import { definitionById, definitionByVersion, type DefinitionXml } from './store.ts';

export interface AuditModel {
  definition: CachedDefinition;
  /** boundary event id -> the activity it is attached to, and whether it cancels it when it fires */
  boundaries: Map<string, { attachedTo: string; interrupting: boolean }>;
  /** activity id -> ids of its boundary events */
  attached: Map<string, string[]>;
}

const cache = new Map<string, Promise<AuditModel>>();
const MAX_CACHED = 100;

async function build(row: DefinitionXml): Promise<AuditModel> {
  const parsed = await parseBpmn(row.xml);
  const definition = compileDefinition(parsed, { id: row.id, key: row.key, version: row.version, name: row.name });
  const byId: Record<string, any> = parsed.moddleContext.elementsById ?? {};
  const boundaries = new Map<string, { attachedTo: string; interrupting: boolean }>();
  const attached = new Map<string, string[]>();
  for (const info of definition.activities.values()) {
    if (info.kind !== 'boundaryEvent' || !info.attachedTo) continue;
    boundaries.set(info.id, { attachedTo: info.attachedTo, interrupting: byId[info.id]?.cancelActivity !== false });
    attached.set(info.attachedTo, [...(attached.get(info.attachedTo) ?? []), info.id]);
  }
  return { definition, boundaries, attached };
}

function cached(row: DefinitionXml): Promise<AuditModel> {
  // two databases (tests, a restored copy) may hold different documents under one id
  const key = `${row.id}\u0000${sha256hex(row.xml)}`;
  let p = cache.get(key);
  if (!p) {
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    p = build(row);
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

export async function modelById(db: Knex, definitionId: string): Promise<AuditModel | null> {
  const row = await definitionById(db, definitionId);
  return row ? cached(row) : null;
}

export async function modelByVersion(db: Knex, key: string, version: number): Promise<AuditModel | null> {
  const row = await definitionByVersion(db, key, version);
  return row ? cached(row) : null;
}
