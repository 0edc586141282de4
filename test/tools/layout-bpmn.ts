/**
 * Generates the diagram interchange (BPMNDI) of hand-written BPMN files, once, so that they open in Camunda
 * Modeler and bpmn-js: `node --import tsx test/tools/layout-bpmn.ts processes/claims.bpmn ...` rewrites each
 * file in place.
 *
 * bpmn-auto-layout places the flow nodes on a grid (columns follow the flow) but knows neither pools nor lanes,
 * and reads the flow from each node's <incoming>/<outgoing>. So this script
 *  1. fills <incoming>/<outgoing> from the sequence flows and drops any old DI,
 *  2. lets bpmn-auto-layout place every node (sub-processes come out collapsed, on their own plane),
 *  3. keeps each node's column but moves it into the horizontal band of its lane (the grid rows a lane uses
 *     become that lane's rows), so lanes never overlap; boundary events follow their host,
 *  4. routes every sequence flow of the main plane again (orthogonal), and
 *  5. adds the pool (participant) and lane shapes, and points the main plane at the collaboration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
// @ts-ignore -- untyped module
import { BpmnModdle } from 'bpmn-moddle';
// @ts-ignore -- untyped module
import { layoutProcess } from 'bpmn-auto-layout';

const require = createRequire(import.meta.url);
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');

const ROW_H = 130;
const LANE_PAD = 10;
const POOL_LABEL = 30;
const LANE_LABEL = 30;
const MARGIN_X = 40;
const COL_W = 150;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const cx = (b: Box) => b.x + b.width / 2;
const cy = (b: Box) => b.y + b.height / 2;

function fillIncomingOutgoing(container: any) {
  const nodes = (container.flowElements ?? []).filter((e: any) => e.$type !== 'bpmn:SequenceFlow');
  for (const n of nodes) {
    n.incoming = [];
    n.outgoing = [];
  }
  for (const f of (container.flowElements ?? []).filter((e: any) => e.$type === 'bpmn:SequenceFlow')) {
    f.sourceRef.outgoing = [...(f.sourceRef.outgoing ?? []), f];
    f.targetRef.incoming = [...(f.targetRef.incoming ?? []), f];
  }
  for (const n of nodes) {
    // the default flow first: bpmn-auto-layout lays out the first outgoing branch on the main row
    if (n.default && n.outgoing.length > 1) n.outgoing.sort((a: any, b: any) => (a === n.default ? -1 : b === n.default ? 1 : 0));
    if (!n.incoming.length) delete n.incoming;
    if (!n.outgoing.length) delete n.outgoing;
    if (n.flowElements) fillIncomingOutgoing(n);
  }
}

function isGateway(el: any) {
  return /Gateway$/.test(el.$type);
}

/**
 * Columns by longest path from the start over the flow without its loops (a loop is a flow back to a node still
 * being walked, found depth-first with default flows first); flows out of a boundary event count from its host.
 */
function layers(hosts: any[], flows: any[]): { column: Map<string, number>; order: any[]; out: Map<string, any[]> } {
  const host = (n: any) => (n.$type === 'bpmn:BoundaryEvent' ? n.attachedToRef : n);
  const out = new Map<string, any[]>();
  for (const f of flows) {
    const from = host(f.sourceRef);
    out.set(from.id, [...(out.get(from.id) ?? []), f]);
  }
  for (const [id, list] of out) {
    const node = hosts.find((h) => h.id === id);
    list.sort((a, b) => (a === node?.default ? -1 : b === node?.default ? 1 : 0) || (a.sourceRef === node ? 0 : 1) - (b.sourceRef === node ? 0 : 1));
  }
  const back = new Set<any>();
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: any) => {
    state.set(n.id, 'open');
    for (const f of out.get(n.id) ?? []) {
      const t = f.targetRef;
      if (state.get(t.id) === 'open') back.add(f);
      else if (!state.has(t.id)) visit(t);
    }
    state.set(n.id, 'done');
  };
  for (const s of hosts.filter((n) => n.$type === 'bpmn:StartEvent')) visit(s);
  for (const n of hosts) if (!state.has(n.id)) visit(n);
  const forward = flows.filter((f) => !back.has(f));
  const indeg = new Map<string, number>(hosts.map((n) => [n.id, 0]));
  for (const f of forward) indeg.set(f.targetRef.id, (indeg.get(f.targetRef.id) ?? 0) + 1);
  const column = new Map<string, number>(hosts.map((n) => [n.id, 0]));
  const queue = hosts.filter((n) => indeg.get(n.id) === 0);
  const order: any[] = [];
  while (queue.length) {
    const n = queue.shift();
    order.push(n);
    for (const f of forward.filter((x) => host(x.sourceRef) === n)) {
      const t = f.targetRef;
      column.set(t.id, Math.max(column.get(t.id)!, column.get(n.id)! + 1));
      indeg.set(t.id, indeg.get(t.id)! - 1);
      if (indeg.get(t.id) === 0) queue.push(t);
    }
  }
  if (order.length !== hosts.length) throw new Error('the flow could not be ordered');
  return { column, order, out };
}

/** Orthogonal waypoints from one box to another, in the usual BPMN style. */
function route(flow: any, s: Box, t: Box): { x: number; y: number }[] {
  const src = flow.sourceRef;
  const tgt = flow.targetRef;
  const pts: { x: number; y: number }[] = [];
  const sameRow = Math.abs(cy(s) - cy(t)) < 1;
  if (src.$type === 'bpmn:BoundaryEvent') {
    const startY = s.y + s.height;
    if (cy(t) > startY && t.x > cx(s) - 1) {
      pts.push({ x: cx(s), y: startY }, { x: cx(s), y: cy(t) }, { x: t.x, y: cy(t) });
    } else {
      const midX = t.x > s.x + s.width ? (s.x + s.width + t.x) / 2 : t.x - 20;
      pts.push({ x: cx(s), y: startY }, { x: cx(s), y: startY + 20 }, { x: midX, y: startY + 20 }, { x: midX, y: cy(t) }, { x: t.x, y: cy(t) });
    }
    return pts;
  }
  const forward = t.x >= s.x + s.width;
  if (forward) {
    if (sameRow) return [{ x: s.x + s.width, y: cy(s) }, { x: t.x, y: cy(t) }];
    if (isGateway(src)) {
      const exitY = cy(t) < cy(s) ? s.y : s.y + s.height;
      return [{ x: cx(s), y: exitY }, { x: cx(s), y: cy(t) }, { x: t.x, y: cy(t) }];
    }
    if (isGateway(tgt)) {
      const entryY = cy(s) < cy(t) ? t.y : t.y + t.height;
      return [{ x: s.x + s.width, y: cy(s) }, { x: cx(t), y: cy(s) }, { x: cx(t), y: entryY }];
    }
    const midX = (s.x + s.width + t.x) / 2;
    return [{ x: s.x + s.width, y: cy(s) }, { x: midX, y: cy(s) }, { x: midX, y: cy(t) }, { x: t.x, y: cy(t) }];
  }
  // a loop back: leave below the source, run under both, come up into the target from below
  const channel = Math.max(s.y + s.height, t.y + t.height) + 22;
  return [{ x: cx(s), y: s.y + s.height }, { x: cx(s), y: channel }, { x: cx(t), y: channel }, { x: cx(t), y: t.y + t.height }];
}

export async function layoutFile(path: string): Promise<void> {
  const moddle = new BpmnModdle({ camunda });
  const { rootElement: defs } = await moddle.fromXML(readFileSync(path, 'utf8'));
  defs.diagrams = [];
  const processes = defs.rootElements.filter((e: any) => e.$type === 'bpmn:Process');
  for (const p of processes) fillIncomingOutgoing(p);
  const { xml: semantic } = await moddle.toXML(defs, { format: true });

  const laidOut: string = await layoutProcess(semantic);
  const { rootElement: out, elementsById } = await moddle.fromXML(laidOut);
  const collaboration = out.rootElements.find((e: any) => e.$type === 'bpmn:Collaboration');
  const process = out.rootElements.find((e: any) => e.$type === 'bpmn:Process' && e.isExecutable);
  const mainDiagram = out.diagrams.find((d: any) => d.plane.bpmnElement === process) ?? out.diagrams[0];
  const plane = mainDiagram.plane;
  const shapes = new Map<string, any>();
  for (const el of plane.planeElement) if (el.$type === 'bpmndi:BPMNShape') shapes.set(el.bpmnElement.id, el);

  const lanes: any[] = process.laneSets?.[0]?.lanes ?? [];
  const laneOf = new Map<string, any>();
  for (const lane of lanes) for (const n of lane.flowNodeRef ?? []) laneOf.set(n.id, lane);
  const topNodes = process.flowElements.filter((e: any) => e.$type !== 'bpmn:SequenceFlow');
  for (const n of topNodes) {
    if (!shapes.has(n.id)) throw new Error(`${path}: auto-layout gave ${n.id} no shape`);
    if (lanes.length && !laneOf.has(n.id)) throw new Error(`${path}: ${n.id} is in no lane`);
  }

  const hosts = topNodes.filter((n: any) => n.$type !== 'bpmn:BoundaryEvent');
  const flows = process.flowElements.filter((e: any) => e.$type === 'bpmn:SequenceFlow');
  const { column, order, out: outgoingOf } = layers(hosts, flows);

  // rows: within its lane a node takes its predecessor's row when that cell is free, else the next free row
  const laneList = lanes.length ? lanes : [{ id: null }];
  const laneKey = (n: any) => (lanes.length ? laneOf.get(n.id).id : null);
  const taken = new Map<string, any>();
  const rowOfNode = new Map<string, number>();
  const rowsUsed = new Map<string | null, number>();
  for (const n of order) {
    const lane = laneKey(n);
    // the first (default) branch of a split stays on the row, the other branches start one row lower
    const preds = flows
      .filter((f: any) => f.targetRef === n)
      .map((f: any) => {
        const node = f.sourceRef.$type === 'bpmn:BoundaryEvent' ? f.sourceRef.attachedToRef : f.sourceRef;
        const first = (outgoingOf.get(node.id) ?? [])[0] === f;
        return { node, below: f.sourceRef.$type === 'bpmn:BoundaryEvent' || !first ? 1 : 0 };
      });
    const same = preds.filter((p: any) => laneKey(p.node) === lane && rowOfNode.has(p.node.id));
    let row = same.length ? Math.min(...same.map((p: any) => rowOfNode.get(p.node.id)! + p.below)) : 0;
    while (taken.has(`${lane}|${column.get(n.id)}|${row}`)) row++;
    taken.set(`${lane}|${column.get(n.id)}|${row}`, n);
    rowOfNode.set(n.id, row);
    rowsUsed.set(lane, Math.max(rowsUsed.get(lane) ?? 0, row + 1));
  }
  let y = 0;
  const laneBoxes = new Map<string | null, Box>();
  const newBounds = new Map<string, Box>();
  for (const lane of laneList) {
    const height = Math.max(1, rowsUsed.get(lane.id) ?? 0) * ROW_H + 2 * LANE_PAD;
    for (const n of hosts.filter((h: any) => laneKey(h) === lane.id)) {
      const b = shapes.get(n.id).bounds;
      const x = POOL_LABEL + LANE_LABEL + MARGIN_X + column.get(n.id)! * COL_W + (COL_W - 50 - b.width) / 2;
      newBounds.set(n.id, { x, y: y + LANE_PAD + rowOfNode.get(n.id)! * ROW_H + (ROW_H - b.height) / 2, width: b.width, height: b.height });
    }
    laneBoxes.set(lane.id, { x: POOL_LABEL, y, width: 0, height });
    y += height;
  }
  const poolX = 0;
  // boundary events keep their place on the host's border
  for (const n of topNodes.filter((e: any) => e.$type === 'bpmn:BoundaryEvent')) {
    const host = n.attachedToRef;
    const hb = shapes.get(host.id).bounds;
    const b = shapes.get(n.id).bounds;
    const h = newBounds.get(host.id)!;
    newBounds.set(n.id, { x: h.x + (b.x - hb.x), y: h.y + h.height - b.height / 2, width: b.width, height: b.height });
  }
  for (const [id, box] of newBounds) Object.assign(shapes.get(id).bounds, box);

  const maxX = Math.max(...[...newBounds.values()].map((b) => b.x + b.width)) + MARGIN_X;
  const poolWidth = maxX - poolX;

  // edges of the main plane
  const edges = plane.planeElement.filter((e: any) => e.$type === 'bpmndi:BPMNEdge');
  for (const edge of edges) {
    const flow = edge.bpmnElement;
    if (flow.$type !== 'bpmn:SequenceFlow') continue;
    const s = newBounds.get(flow.sourceRef.id);
    const t = newBounds.get(flow.targetRef.id);
    if (!s || !t) continue;
    edge.waypoint = route(flow, s, t).map((p) => moddle.create('dc:Point', { x: Math.round(p.x), y: Math.round(p.y) }));
    delete edge.label;
  }
  for (const el of plane.planeElement) if (el.$type === 'bpmndi:BPMNShape' && el.label) delete el.label;

  // pool and lanes
  if (collaboration) {
    const participant = collaboration.participants.find((p: any) => p.processRef === process);
    const extra: any[] = [];
    extra.push(
      moddle.create('bpmndi:BPMNShape', {
        id: `${participant.id}_di`,
        bpmnElement: participant,
        isHorizontal: true,
        bounds: moddle.create('dc:Bounds', { x: poolX, y: 0, width: poolWidth, height: y }),
      }),
    );
    for (const lane of lanes) {
      const b = laneBoxes.get(lane.id)!;
      extra.push(
        moddle.create('bpmndi:BPMNShape', {
          id: `${lane.id}_di`,
          bpmnElement: lane,
          isHorizontal: true,
          bounds: moddle.create('dc:Bounds', { x: b.x, y: b.y, width: poolWidth - POOL_LABEL, height: b.height }),
        }),
      );
    }
    plane.bpmnElement = collaboration;
    plane.planeElement = [...extra, ...plane.planeElement];
    mainDiagram.id = 'BPMNDiagram_1';
    plane.id = 'BPMNPlane_1';
  }
  // a collapsed sub-process gets its own diagram (the drill-down plane of bpmn-js and Camunda Modeler);
  // bpmn-auto-layout leaves its content on the main plane
  for (const sp of topNodes.filter((n: any) => n.$type === 'bpmn:SubProcess')) {
    const inner = new Set<string>();
    const collect = (c: any) => {
      for (const el of c.flowElements ?? []) {
        inner.add(el.id);
        if (el.flowElements) collect(el);
      }
    };
    collect(sp);
    const moved = plane.planeElement.filter((el: any) => inner.has(el.bpmnElement.id));
    plane.planeElement = plane.planeElement.filter((el: any) => !inner.has(el.bpmnElement.id));
    out.diagrams.push(
      moddle.create('bpmndi:BPMNDiagram', {
        id: `BPMNDiagram_${sp.id}`,
        plane: moddle.create('bpmndi:BPMNPlane', { id: `BPMNPlane_${sp.id}`, bpmnElement: sp, planeElement: moved }),
      }),
    );
    shapes.get(sp.id).isExpanded = false;
  }
  void elementsById;
  const { xml } = await moddle.toXML(out, { format: true });
  writeFileSync(path, xml.endsWith('\n') ? xml : `${xml}\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, ''))) {
  for (const file of process.argv.slice(2)) {
    await layoutFile(file);
    process.stdout.write(`laid out ${file}\n`);
  }
}
