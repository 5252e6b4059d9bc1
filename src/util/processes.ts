// Whether a process still runs: what lock files and temporary files are judged by.

/** Whether process `pid` runs on this machine (EPERM: it runs, as another user). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
