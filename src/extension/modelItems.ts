// How a catalogue model reads in the model picker (models.ts): vscode-free, so tests load it alone.
import { BUNDLED_ID, formatBytes, formatCount, type CatalogueEntry } from '../engine/editor';

/** A VS Code quick-pick item: the name, the id, and a line with what the model costs. */
export function quickPickItem(e: CatalogueEntry): { label: string; description: string; detail: string } {
  const numbers = [
    `${formatCount(e.parameters)} parameters`,
    e.id === BUNDLED_ID ? `${formatBytes(e.sizeBytes)}, bundled` : `${formatBytes(e.sizeBytes)} download`,
    `${formatBytes(e.kvBytesPerToken)} KV/token`,
    `${Math.round(e.maxPositions / 1024)}K context`,
    `KV ratio ${e.recommendedRatio}`,
  ];
  return { label: e.label, description: e.gated ? `${e.id} · gated` : e.id, detail: `${numbers.join(' · ')} — ${e.description}` };
}
