// How many positions a model leaves for what. A KVzip pass feeds a chunk again after the whole
// context it scores (positions up to prefix + n + lead + chunk), and a question with its answer
// follows the context too; both must stay inside the positions the model was trained on.
import { KVZIP_CHUNK } from './kv/presses/kvzip';

/** Tokens of the repeat instruction before a chunk in a KVzip pass (with room to spare). */
const LEAD_ROOM = 64;

/** Positions kept free after the context for a question and its answer. */
export function answerRoom(maxPositions: number): number {
  return Math.min(1024, Math.floor(maxPositions / 4));
}

/** The longest context (after `prefix` tokens) that can be KVzip-scored and then asked about. */
export function contextLimit(maxPositions: number, prefix: number, chunk = KVZIP_CHUNK): number {
  const free = maxPositions - prefix;
  const longChunks = free - LEAD_ROOM - chunk >= chunk ? free - LEAD_ROOM - chunk : 0; // n >= chunk
  const shortContext = Math.min(chunk - 1, Math.floor((free - LEAD_ROOM) / 2)); // n < chunk: the pass re-feeds all n
  return Math.max(0, Math.min(Math.max(longChunks, shortContext), free - answerRoom(maxPositions)));
}
