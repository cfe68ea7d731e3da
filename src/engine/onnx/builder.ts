// A small graph-building DSL over proto.ts: every op call returns the name(s) of its output value(s),
// so a forward pass reads like the maths it computes.
import { AttrValue, Dim, DTypeName, encodeModel, GraphSpec, InitializerSpec, NodeSpec, ValueSpec } from './proto';

export const MS = 'com.microsoft';

/** Names and constants are shared by a graph and its branches, so every value name is unique. */
interface Scope {
  counter: number;
  consts: Map<string, string>;
  inits: InitializerSpec[];
}

export class Graph {
  private readonly nodes: NodeSpec[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly scope: Scope;

  constructor(
    private readonly name: string,
    parent?: Graph,
  ) {
    this.scope = parent?.scope ?? { counter: 0, consts: new Map(), inits: [] };
  }

  input(name: string, dtype: DTypeName, shape: Dim[]): string {
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  /** Declares `value` as a graph output called `name`. */
  output(name: string, value: string, dtype: DTypeName, shape: Dim[]): void {
    if (value !== name) this.op('Identity', [value], {}, { names: [name] });
    this.outputs.push({ name, dtype, shape });
  }

  /** Adds a node; returns its single output, or `outputs` names when more than one is asked for. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { domain?: string; names?: string[] } = {}): string {
    return this.opN(op, inputs, attrs, { ...opts, count: 1 })[0];
  }

  opN(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { domain?: string; names?: string[]; count?: number } = {}): string[] {
    const id = this.scope.counter++;
    const outputs = opts.names ?? Array.from({ length: opts.count ?? 1 }, (_, i) => `${op}_${id}_${i}`);
    this.nodes.push({ op, inputs, outputs, name: `${op}_${id}`, domain: opts.domain, attrs });
    return outputs;
  }

  /** A small inline constant, deduplicated by value. */
  constInt64(values: number[], dims: number[] = [values.length]): string {
    return this.constant('int64', new BigInt64Array(values.map(BigInt)), dims);
  }

  constFloat(values: number[], dims: number[] = [values.length]): string {
    return this.constant('float', new Float32Array(values), dims);
  }

  private constant(dtype: DTypeName, data: BigInt64Array | Float32Array, dims: number[]): string {
    const key = `${dtype}:${dims.join('x')}:${Array.from(data as ArrayLike<number | bigint>).join(',')}`;
    const known = this.scope.consts.get(key);
    if (known) return known;
    const name = `const_${this.scope.consts.size}`;
    this.scope.inits.push({ name, dtype, dims, raw: new Uint8Array(data.buffer.slice(0)) });
    this.scope.consts.set(key, name);
    return name;
  }

  /** A weight stored in the external data file. */
  external(name: string, dtype: DTypeName, dims: number[], location: string, offset: number, length: number): string {
    this.scope.inits.push({ name, dtype, dims, external: { location, offset, length } });
    return name;
  }

  inline(name: string, dtype: DTypeName, dims: number[], raw: Uint8Array): string {
    this.scope.inits.push({ name, dtype, dims, raw });
    return name;
  }

  /**
   * An If node: only the branch `cond` selects runs. onnxruntime executes every node of a graph
   * whatever outputs are fetched, so optional work (scoring, statistics) must sit in a branch.
   * Each branch builder returns its output values; both must agree in count and rank.
   */
  ifElse(cond: string, outputs: { dtype: DTypeName; shape: Dim[] }[], then: (b: Graph) => string[], otherwise: (b: Graph) => string[]): string[] {
    const branch = (label: string, build: (b: Graph) => string[]): { graph: GraphSpec } => {
      const b = new Graph(`${label}_${this.scope.counter++}`, this);
      build(b).forEach((v, i) => b.output(`${b.name}_out${i}`, v, outputs[i].dtype, outputs[i].shape));
      return { graph: b.spec() };
    };
    return this.opN('If', [cond], { then_branch: branch('then', then), else_branch: branch('else', otherwise) }, { count: outputs.length });
  }

  private spec(): GraphSpec {
    return { name: this.name, nodes: this.nodes, inputs: this.inputs, outputs: this.outputs, initializers: [] };
  }

  encode(producer: string): Uint8Array {
    return encodeModel({
      graph: { ...this.spec(), initializers: this.scope.inits },
      opsets: [
        { domain: '', version: 21 },
        { domain: MS, version: 1 },
      ],
      producer,
    });
  }
}
