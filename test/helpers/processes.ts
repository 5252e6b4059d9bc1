// Child processes for the multi-process tests: a free TCP port for a rendezvous, and a process whose
// output is collected and which is killed when it outlives its deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

/** torchrun's variables for rank `rank` of `worldSize` on this machine. */
export function rankEnv(rank: number, worldSize: number, port: number): Record<string, string> {
  return {
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    WORLD_SIZE: String(worldSize),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    // The ranks share the machine's cores.
    SCATTER_NUM_THREADS: '1',
  };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface Running {
  child: ChildProcess;
  /** Resolves when `text` has appeared on stderr or stdout. */
  output(text: string): Promise<void>;
  done: Promise<Finished>;
}

/** Runs `node script args` with extra environment, killing it after `deadlineMs`. */
export function startNode(script: string, args: readonly string[], env: Record<string, string>, deadlineMs: number): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      if (stdout.includes(waiter.text) || stderr.includes(waiter.text)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    check();
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
  const output = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      waiters.push({ text, resolve });
      check();
      void done.then(() => reject(new Error(`the process ended before printing '${text}':\n${stderr}`)));
    });
  return { child, output, done };
}
