// torch.distributed over Gloo with two real processes on 127.0.0.1: the collectives' values on both
// ranks, and that a rank which leaves makes the others fail with an error instead of hanging.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { freePort, rankEnv, startNode } from '../helpers/processes.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'distributed-worker.js');
const WORLD_SIZE = 2;
const GROUP_TIMEOUT_MS = 5_000;
// Past this a rank counts as hung: the group timeout plus start-up, with room for a slow machine.
const RANK_DEADLINE_MS = 20_000;

interface RankResult {
  code: number | null;
  report: Record<string, unknown>;
  stderr: string;
  elapsedMs: number;
}

interface Rank {
  done: Promise<RankResult>;
  kill(): void;
}

function startRank(rank: number, port: number, extraEnv: Record<string, string>): Rank {
  const env = { ...rankEnv(rank, WORLD_SIZE, port), SCATTER_DIST_TIMEOUT_MS: String(GROUP_TIMEOUT_MS), ...extraEnv };
  const running = startNode(WORKER, [], env, RANK_DEADLINE_MS);
  const done = running.done.then(({ code, stdout, stderr, elapsedMs }) => {
    const line = stdout.trim().split('\n').at(-1) ?? '';
    try {
      return { code, report: line === '' ? {} : (JSON.parse(line) as Record<string, unknown>), stderr, elapsedMs };
    } catch {
      throw new Error(`rank ${rank} printed no JSON report: ${stdout}\n${stderr}`);
    }
  });
  return { done, kill: () => running.child.kill('SIGKILL') };
}

test('allReduce, broadcast, allGather and barrier agree on both ranks', async () => {
  const port = await freePort();
  const ranks = [0, 1].map((rank) => startRank(rank, port, { SCATTER_DIST_SCENARIO: 'collectives' }));
  const results = await Promise.all(ranks.map((rank) => rank.done));
  // Rank r holds [r + 1, 10 (r + 1)]: [1, 10] and [2, 20].
  for (const [rank, { code, report, stderr }] of results.entries()) {
    assert.equal(code, 0, `rank ${rank} failed: ${JSON.stringify(report)}\n${stderr}`);
    assert.deepEqual(report, {
      rank,
      worldSize: 2,
      localRank: rank,
      sum: [3, 30],
      avg: [1.5, 15],
      max: [2, 20],
      min: [1, 10],
      product: [2, 200],
      broadcast: [2, 20],
      allGather: [
        [1, 10],
        [2, 20],
      ],
      barrier: true,
      afterDestroy: 'this process group was destroyed',
    });
  }
});

for (const [scenario, leaver, expected] of [
  ['exit', 1, /allReduce failed: .*Connection closed by peer/],
  ['exit', 0, /allReduce failed: .*Connection closed by peer/],
  ['idle', 1, /allReduce failed: .*Timed out/],
] as const) {
  const how = scenario === 'exit' ? 'exits' : 'stays connected but skips the collective';
  test(`when rank ${leaver} ${how}, the other rank's allReduce throws instead of hanging`, async () => {
    const port = await freePort();
    const ranks = [0, 1].map((rank) => startRank(rank, port, { SCATTER_DIST_SCENARIO: scenario, SCATTER_DIST_LEAVER: String(leaver) }));
    const survivor = await ranks[1 - leaver]!.done;
    ranks[leaver]!.kill();
    await ranks[leaver]!.done;
    assert.notEqual(survivor.code, null, `the surviving rank hung for ${RANK_DEADLINE_MS} ms and was killed`);
    assert.notEqual(survivor.code, 0, 'the surviving rank should fail');
    assert.match(String(survivor.report.error), expected);
    assert.ok(survivor.elapsedMs < RANK_DEADLINE_MS, `took ${survivor.elapsedMs} ms`);
  });
}
