// The warm path's shortcut. Computing a snapshot key reads, hashes and tokenizes every file; asking
// a question should not. After each full computation we remember, per (repository, settings), the
// stat fingerprint of the files it read and the key it found. When the fingerprint is unchanged no
// file was touched, so the key still holds. The memo is a hint: a miss or a damaged record only
// means the key is computed the slow way.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface MemoRecord {
  /** statFingerprint() of the repository when the key was computed. */
  fingerprint: string;
  key: string;
  /** The snapshot's files in context order (for links in answers). */
  files: string[];
}

export class SnapshotMemo {
  constructor(readonly dir: string) {}

  private file(root: string, settings: string): string {
    return path.join(
      this.dir,
      crypto
        .createHash('sha256')
        .update(`${path.resolve(root)}\0${settings}`)
        .digest('hex')
        .slice(0, 32) + '.json',
    );
  }

  /** The record for this repository and settings when its fingerprint still matches. */
  lookup(root: string, settings: string, fingerprint: string): MemoRecord | null {
    try {
      const rec = JSON.parse(fs.readFileSync(this.file(root, settings), 'utf8')) as MemoRecord;
      return rec.fingerprint === fingerprint && typeof rec.key === 'string' && Array.isArray(rec.files) ? rec : null;
    } catch {
      return null;
    }
  }

  /** Drops the record: the snapshot it names lost a segment, so the next call lists the repository and builds. */
  forget(root: string, settings: string): void {
    fs.rmSync(this.file(root, settings), { force: true });
  }

  remember(root: string, settings: string, rec: MemoRecord): void {
    const file = this.file(root, settings);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true }); // a hint we could not write costs only speed
    }
  }
}
