// A model's size from its shapes alone: the catalogue prices models before any download with it, and
// the weight choice sizes a local one before converting it.
import { ModelConfig } from './config';

/** Weights of a decoder from its shapes: embeddings, per-layer attention and SwiGLU MLP, norms. */
export function parameterCount(c: ModelConfig): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const attention = c.hiddenSize * (q + 2 * kv) + q * c.hiddenSize + (c.attentionBias ? q + 2 * kv : 0) + (c.traits.qkNorm ? 2 * c.headDim : 0);
  const layer = attention + 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize;
  return c.numLayers * layer + c.vocabSize * c.hiddenSize * (c.tieEmbeddings ? 1 : 2) + c.hiddenSize;
}
