// A minimal protobuf writer for the subset of onnx.proto the engine emits. ONNX models are plain
// protobuf; writing the dozen messages we need by hand keeps protobufjs and generated code out of
// the bundle. Field numbers are those of onnx/onnx.proto (IR version 10).

/** Growable byte buffer with protobuf varint / length-delimited encoding. */
class Writer {
  private buf = new Uint8Array(1024);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    this.reserve(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  int(field: number, v: number | bigint): void {
    this.tag(field, 0);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    this.reserve(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
  }

  message(field: number, write: (w: Writer) => void): void {
    const inner = new Writer();
    write(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** ONNX TensorProto.DataType values used by the engine. */
export const DType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 } as const;
export type DTypeName = keyof typeof DType;

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | { graph: GraphSpec };
export type Dim = number | string;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

export interface ValueSpec {
  name: string;
  dtype: DTypeName;
  shape: Dim[];
}

/** An initializer stored inline (small constants) or as external data (weights). */
export interface InitializerSpec {
  name: string;
  dtype: DTypeName;
  dims: number[];
  raw?: Uint8Array;
  external?: { location: string; offset: number; length: number };
}

/** A graph: the model's main graph, or a branch of an If node (which may read outer values). */
export interface GraphSpec {
  name: string;
  nodes: NodeSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers: InitializerSpec[];
}

export interface ModelSpec {
  graph: GraphSpec;
  opsets: { domain: string; version: number }[];
  producer: string;
}

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, GRAPH: 5, FLOATS: 6, INTS: 7 };

function writeAttr(w: Writer, name: string, v: AttrValue): void {
  w.string(1, name);
  if (typeof v === 'number') {
    w.int(3, v);
    w.int(20, AttrType.INT);
  } else if (typeof v === 'string') {
    w.bytes(4, new TextEncoder().encode(v));
    w.int(20, AttrType.STRING);
  } else if (Array.isArray(v)) {
    for (const x of v) w.int(8, x);
    w.int(20, AttrType.INTS);
  } else if ('float' in v) {
    w.float(2, v.float);
    w.int(20, AttrType.FLOAT);
  } else if ('graph' in v) {
    w.message(6, (g) => writeGraph(g, v.graph));
    w.int(20, AttrType.GRAPH);
  } else {
    for (const x of v.floats) w.float(7, x);
    w.int(20, AttrType.FLOATS);
  }
}

function writeValueInfo(w: Writer, v: ValueSpec): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, DType[v.dtype]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function writeTensor(w: Writer, t: InitializerSpec): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, DType[t.dtype]);
  w.string(8, t.name);
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [key, value] of entries) w.message(13, (e) => (e.string(1, key), e.string(2, value)));
    w.int(14, 1); // data_location = EXTERNAL
  } else {
    w.bytes(9, t.raw ?? new Uint8Array());
  }
}

function writeGraph(g: Writer, graph: GraphSpec): void {
  for (const n of graph.nodes) {
    g.message(1, (node) => {
      for (const i of n.inputs) node.string(1, i);
      for (const o of n.outputs) node.string(2, o);
      node.string(3, n.name);
      node.string(4, n.op);
      if (n.domain) node.string(7, n.domain);
      for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, (a) => writeAttr(a, k, v));
    });
  }
  g.string(2, graph.name);
  for (const t of graph.initializers) g.message(5, (tp) => writeTensor(tp, t));
  for (const v of graph.inputs) g.message(11, (vi) => writeValueInfo(vi, v));
  for (const v of graph.outputs) g.message(12, (vi) => writeValueInfo(vi, v));
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelSpec): Uint8Array {
  const w = new Writer();
  w.int(1, 10); // ir_version
  for (const o of m.opsets) w.message(8, (op) => (op.string(1, o.domain), op.int(2, o.version)));
  w.string(2, m.producer);
  w.message(7, (g) => writeGraph(g, m.graph));
  return w.finish();
}
