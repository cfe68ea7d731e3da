// Whether a process still lives: how locks, temporary files and pending builds left by a killed
// process are told from ones still in use. A file of its own: store/, model/ and segments/ all ask.

/** Whether a process with this pid exists on this machine. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to someone else
  }
}
