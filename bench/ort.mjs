// onnxruntime-node baselines: tiny ONNX models hand-encoded in memory (no .onnx files, no
// protobuf dependency). The table is a graph *input*, not an initializer, so a big table is
// handed to ORT as a tensor over the caller's Float32Array (onnxruntime-node wraps CPU
// typed arrays without copying them).
//
// Models (opset 11, symbolic dims):
//   gather:      Gather(table[R,D], idx[N]) -> out[N,D]
//   bag <mode>:  Gather(table[R,D], idx[B,L]) -> [B,L,D] -> Reduce{Sum,Mean,Max}(axes=[1]) -> [B,D]
//   bag sum+w:   ... -> Mul(w[B,L,1]) -> ReduceSum(axes=[1])
// The bag models are what an ORT user writes for fixed-length bags (ORT has no EmbeddingBag);
// they materialize the [B,L,D] intermediate, which is part of the price of that route.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// ---- minimal protobuf writer -------------------------------------------------------------
function varint(n) {
  const out = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}
const tag = (field, wire) => varint((field << 3) | wire);
const fInt = (field, n) => [...tag(field, 0), ...varint(n)];
const fBytes = (field, bytes) => [...tag(field, 2), ...varint(bytes.length), ...bytes];
const fStr = (field, s) => fBytes(field, [...Buffer.from(s, 'utf8')]);
const fMsg = (field, parts) => fBytes(field, parts.flat());

// onnx.proto field numbers
export const ELEM = { float: 1, int32: 6, int64: 7 };
const ATTR_INT = 2;
const ATTR_INTS = 7;

export function valueInfo(name, elemType, dims) {
  // ValueInfoProto{name=1, type=2}; TypeProto{tensor_type=1}; Tensor{elem_type=1, shape=2}
  // TensorShapeProto{dim=1}; Dimension{dim_value=1 | dim_param=2}
  const tensor = [fInt(1, elemType)];
  if (dims) {
    tensor.push(
      fMsg(
        2,
        dims.map((d) => fMsg(1, [typeof d === 'number' ? fInt(1, d) : fStr(2, d)])),
      ),
    );
  }
  return [fStr(1, name), fMsg(2, [fMsg(1, tensor)])];
}

export function node(opType, inputs, outputs, attrs = [], domain = '') {
  // NodeProto{input=1, output=2, name=3, op_type=4, attribute=5, domain=7}
  // AttributeProto{name=1, i=3, ints=8, type=20}
  const parts = [...inputs.map((s) => fStr(1, s)), ...outputs.map((s) => fStr(2, s))];
  parts.push(fStr(3, `${opType}_${outputs[0]}`), fStr(4, opType));
  for (const a of attrs) {
    if (Array.isArray(a.ints)) {
      parts.push(fMsg(5, [fStr(1, a.name), ...a.ints.map((v) => fInt(8, v)), fInt(20, ATTR_INTS)]));
    } else {
      parts.push(fMsg(5, [fStr(1, a.name), fInt(3, a.i), fInt(20, ATTR_INT)]));
    }
  }
  if (domain) parts.push(fStr(7, domain));
  return parts;
}

/** opsets: [domain, version] pairs; the default domain at opset 11 unless given. */
export function model({ nodes, inputs, outputs, irVersion = 7, opsets = [['', 11]] }) {
  // GraphProto{node=1, name=2, input=11, output=12}
  const graph = [
    ...nodes.map((n) => fMsg(1, n)),
    fStr(2, 'embedkit_bench'),
    ...inputs.map((v) => fMsg(11, v)),
    ...outputs.map((v) => fMsg(12, v)),
  ];
  // ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8}
  // OperatorSetIdProto{domain=1, version=2}
  const m = [fInt(1, irVersion), fStr(2, 'embedkit-bench'), fMsg(7, graph), ...opsets.map(([d, v]) => fMsg(8, [fStr(1, d), fInt(2, v)]))];
  return Uint8Array.from(m.flat());
}

export function gatherModel() {
  return model({
    nodes: [node('Gather', ['table', 'idx'], ['out'], [{ name: 'axis', i: 0 }])],
    inputs: [valueInfo('table', ELEM.float, ['R', 'D']), valueInfo('idx', ELEM.int32, ['N'])],
    outputs: [valueInfo('out', ELEM.float, ['N', 'D'])],
  });
}

export function bagModel(mode, weighted = false) {
  const reduce = { sum: 'ReduceSum', mean: 'ReduceMean', max: 'ReduceMax' }[mode];
  const nodes = [node('Gather', ['table', 'idx'], ['rows'], [{ name: 'axis', i: 0 }])];
  const inputs = [valueInfo('table', ELEM.float, ['R', 'D']), valueInfo('idx', ELEM.int32, ['B', 'L'])];
  let src = 'rows';
  if (weighted) {
    nodes.push(node('Mul', ['rows', 'w'], ['scaled']));
    inputs.push(valueInfo('w', ELEM.float, ['B', 'L', 1]));
    src = 'scaled';
  }
  nodes.push(node(reduce, [src], ['out'], [{ name: 'axes', ints: [1] }, { name: 'keepdims', i: 0 }]));
  return model({ nodes, inputs, outputs: [valueInfo('out', ELEM.float, ['B', 'D'])] });
}

// ---- runtime -----------------------------------------------------------------------------
let ortModule;
/** onnxruntime-node, or an Error explaining why it is unavailable. */
export function loadOrt() {
  if (ortModule === undefined) {
    try {
      ortModule = require('onnxruntime-node');
    } catch (error) {
      ortModule = error instanceof Error ? error : new Error(String(error));
    }
  }
  return ortModule;
}

export function ortVersion() {
  try {
    return require('onnxruntime-node/package.json').version;
  } catch {
    return 'unknown';
  }
}

const sessions = new Map();
/** A cached InferenceSession for (model kind, threads). */
export async function session(kind, threads, build) {
  const key = `${kind}/${threads}`;
  if (!sessions.has(key)) {
    const ort = loadOrt();
    if (ort instanceof Error) throw ort;
    sessions.set(
      key,
      await ort.InferenceSession.create(build(), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      }),
    );
  }
  return sessions.get(key);
}

export async function releaseSessions() {
  for (const s of sessions.values()) await s.release?.();
  sessions.clear();
}

/**
 * A runner `() => Promise<void>` for one session and fixed feeds, writing into a
 * preallocated output tensor when this onnxruntime-node accepts one (falls back to letting
 * ORT allocate, which adds a copy back into a fresh JS array; `preallocated` says which).
 */
export async function makeRunner(sess, feeds, outData, outDims) {
  const ort = loadOrt();
  const out = new ort.Tensor('float32', outData, outDims);
  try {
    await sess.run(feeds, { out });
    return { run: () => sess.run(feeds, { out }), preallocated: true };
  } catch {
    await sess.run(feeds);
    return { run: () => sess.run(feeds), preallocated: false };
  }
}
