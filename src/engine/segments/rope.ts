// Moving cached keys to new positions. Keys are cached after RoPE, which rotates each pair
// (i, i + D/2) — the rotate_half layout our graph's RotaryEmbedding uses with interleaved = 0 — by
// position × inv[i]. Rotations compose, so rotating a key computed at `from` by (to − from) × inv[i]
// gives the key computed at `to`; this stays true under llama3/linear scaling (they only change
// inv) and after Qwen3's k RMSNorm (applied before RoPE). Values carry no position.

/** Shifts split as d = q·STEP + r, 0 ≤ r < STEP: cos/sin of d·inv from a table over r and one over q. */
const STEP = 64;
const small = new WeakMap<Float64Array, { cos: Float64Array; sin: Float64Array }>();

/**
 * Re-rotates `rows` keys of `D` floats, stored one after another in `k`, in place from positions
 * `fromPos[r]` to `toPos[r]`. The maths is float64: shifts reach thousands of radians at the lowest
 * inverse frequency, where float32 angles would lose digits. Consecutive rows with the same shift (a
 * whole segment under the 'positions' layout) share one cos/sin row; when shifts change from row
 * to row ('compact'), the angle-addition formulas build each row from two tables (measured 2-4x
 * faster than computing the trigonometry per row). A zero shift is skipped.
 */
export function rerotateRows(k: Float32Array, rows: number, D: number, fromPos: ArrayLike<number>, toPos: ArrayLike<number>, invFreq: Float64Array): void {
  const half = D / 2;
  if (invFreq.length !== half || k.length < rows * D || fromPos.length < rows || toPos.length < rows) throw new Error('rerotateRows: shapes do not match');
  const lo = smallShifts(invFreq);
  // multiples of STEP, filled on first use: a call needs the few its shifts fall in
  const big = new Map<number, Float64Array>(); // q -> [cos ‖ sin]
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  let shift = 0; // the shift cos/sin hold; zero rows are skipped, so they need none
  for (let r = 0; r < rows; r++) {
    const d = toPos[r] - fromPos[r];
    if (d === 0) continue;
    if (d !== shift) {
      shift = d;
      const q = Math.floor(d / STEP);
      let b = big.get(q);
      if (!b) {
        b = new Float64Array(D);
        for (let i = 0; i < half; i++) {
          b[i] = Math.cos(q * STEP * invFreq[i]);
          b[half + i] = Math.sin(q * STEP * invFreq[i]);
        }
        big.set(q, b);
      }
      const o = (d - q * STEP) * half;
      for (let i = 0; i < half; i++) {
        cos[i] = b[i] * lo.cos[o + i] - b[half + i] * lo.sin[o + i];
        sin[i] = b[half + i] * lo.cos[o + i] + b[i] * lo.sin[o + i];
      }
    }
    const o = r * D;
    for (let i = 0; i < half; i++) {
      const x = k[o + i];
      const y = k[o + i + half];
      k[o + i] = x * cos[i] - y * sin[i];
      k[o + i + half] = y * cos[i] + x * sin[i];
    }
  }
}

/** cos/sin of r·inv for r in [0, STEP), built once per frequency array (ropeInvFreq's are never modified). */
function smallShifts(invFreq: Float64Array): { cos: Float64Array; sin: Float64Array } {
  let t = small.get(invFreq);
  if (!t) {
    const half = invFreq.length;
    t = { cos: new Float64Array(STEP * half), sin: new Float64Array(STEP * half) };
    for (let r = 0; r < STEP; r++) {
      for (let i = 0; i < half; i++) {
        t.cos[r * half + i] = Math.cos(r * invFreq[i]);
        t.sin[r * half + i] = Math.sin(r * invFreq[i]);
      }
    }
    small.set(invFreq, t);
  }
  return t;
}
