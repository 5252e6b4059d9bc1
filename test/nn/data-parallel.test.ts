// DataParallel with two real processes over Gloo on 127.0.0.1: after a few SGD (and SAM) steps both ranks hold the
// weights that one process reaches on the same global batches (per-rank losses, and whitening on the gathered
// global batch), and a rank that dies ends the other's training with an error, not a hang.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { freePort, rankEnv, startNode } from '../helpers/processes.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data-parallel-worker.js');
const DEADLINE_MS = 60_000;

type Weights = Record<string, number[]>;

async function weights(run: ReturnType<typeof startNode>, what: string): Promise<Weights> {
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 0, `${what} failed:\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Weights;
}

function assertSameWeights(actual: Weights, expected: Weights, tolerance: number, what: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected));
  for (const [name, values] of Object.entries(expected)) {
    const scale = Math.max(...values.map(Math.abs), 1e-3);
    actual[name]!.forEach((value, i) => {
      assert.ok(Math.abs(value - values[i]!) <= tolerance * scale, `${what}: ${name}[${i}] = ${value}, expected ${values[i]}`);
    });
  }
}

for (const mode of ['per-rank', 'sync-whitening', 'per-rank-sam', 'sync-whitening-sam']) {
  test(`two ranks (${mode}) end with the weights of one process on the same global batches`, async () => {
    const port = await freePort();
    const single = startNode(WORKER, [mode], { SCATTER_NUM_THREADS: '1' }, DEADLINE_MS);
    const ranks = [0, 1].map((rank) => startNode(WORKER, [mode], rankEnv(rank, 2, port), DEADLINE_MS));
    const reference = await weights(single, 'the single process');
    const [rank0, rank1] = await Promise.all(ranks.map((rank, i) => weights(rank, `rank ${i}`)));
    assertSameWeights(rank0!, reference, 1e-5, 'rank 0 against one process');
    assert.deepEqual(rank1, rank0, 'the ranks hold identical weights');
    // The weights moved: the comparison is not between two untouched initialisations.
    const initial = await weights(startNode(WORKER, [mode, '0'], { SCATTER_NUM_THREADS: '1' }, DEADLINE_MS), 'the untrained model');
    assert.ok(Object.keys(initial).some((name) => initial[name]!.some((value, i) => Math.abs(value - reference[name]![i]!) > 1e-3)));
  });
}

test('when one rank is killed mid-training, the other fails with an error within the group timeout', async () => {
  const port = await freePort();
  const ranks = [0, 1].map((rank) => startNode(WORKER, ['per-rank', '100000', '--print-steps'], rankEnv(rank, 2, port), DEADLINE_MS));
  await ranks[1]!.output('step 3');
  ranks[1]!.child.kill('SIGKILL');
  const survivor = await ranks[0]!.done;
  assert.notEqual(survivor.code, 0, 'rank 0 must fail');
  assert.equal(survivor.signal, null, 'rank 0 ended by itself, not by the test deadline');
  assert.match(survivor.stderr, /allReduce failed|broadcast failed|allGather failed/);
});
