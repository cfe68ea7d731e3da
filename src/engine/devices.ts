// The devices a model can be asked to run on: the one list the engine's provider choice
// (runtime/session.ts), the settings and package.json's enum are held to. A module of its own, free
// of onnxruntime, so the extension host can read it without loading the runtime.
export type Device = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];
