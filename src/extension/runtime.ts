// Whether this machine can run the model at all. onnxruntime-node loads one native binary per
// platform and architecture, and each platform's VSIX carries only its own; without it the engine
// process would die on its first require, as a stack trace in the log. So activation looks for the
// binary first and, when it is missing, says in words which platform this is and what to do.
import * as path from 'node:path';

/** The platforms onnxruntime-node 1.30 ships binaries for: one VSIX each (tools/package.mjs). */
export const RUNTIME_PLATFORMS = ['linux-x64', 'linux-arm64', 'win32-x64', 'win32-arm64', 'darwin-arm64'];

const OS_NAMES: Record<string, string> = { linux: 'Linux', win32: 'Windows', darwin: 'macOS' };
const describe = (target: string): string => {
  const [platform, arch] = target.split('-');
  return `${OS_NAMES[platform] ?? platform} ${arch}`;
};

/** Where the installed extension keeps onnxruntime-node's binding for a platform. */
export function bindingPath(extensionRoot: string, platform: string, arch: string): string {
  return path.join(extensionRoot, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', platform, arch, 'onnxruntime_binding.node');
}

/** Why the model cannot run here, as a sentence for the user; undefined when the binary is in place. */
export function runtimeProblem(extensionRoot: string, platform: string, arch: string, exists: (file: string) => boolean): string | undefined {
  if (exists(bindingPath(extensionRoot, platform, arch))) return undefined;
  const target = `${platform}-${arch}`;
  const here = `${describe(target)} (${target})`;
  if (RUNTIME_PLATFORMS.includes(target)) {
    return `This copy of repozip has no model runtime for ${here}: it was packaged for another platform. Install the ${target} build of repozip (repozip-${target}-<version>.vsix; the Marketplace picks it by itself).`;
  }
  // An Apple-silicon Mac can run the Intel build of VS Code, whose extension host is then x64.
  const rosetta = target === 'darwin-x64' ? ' On an Apple-silicon Mac, install the Apple-silicon build of VS Code instead.' : '';
  return (
    `The model cannot run on ${here}: onnxruntime-node, the runtime it uses, has no build for it. ` +
    `It runs on ${RUNTIME_PLATFORMS.map(describe).join(', ')}; open your folder on such a machine with Remote - SSH, or in a dev container (Linux), and repozip runs there.${rosetta}`
  );
}
