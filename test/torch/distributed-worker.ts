// One rank of distributed.test.ts: joins the group from torchrun's environment variables, runs the
// scenario named by SCATTER_DIST_SCENARIO, and prints what it saw as one JSON line on stdout.
import { torch } from '../../src/index.js';

type Report = Record<string, unknown>;

// Each rank holds [rank + 1, 10 * (rank + 1)], so every reduction has a distinct expected value.
function rankTensor(rank: number): torch.Tensor {
  return torch.tensor([rank + 1, 10 * (rank + 1)]);
}

function collectives(group: torch.distributed.ProcessGroup): Report {
  const report: Report = { rank: group.rank, worldSize: group.worldSize, localRank: group.localRank };
  for (const op of ['sum', 'avg', 'max', 'min', 'product'] as const) {
    const tensor = rankTensor(group.rank);
    group.allReduce(tensor, op);
    report[op] = tensor.toArray();
  }
  const broadcast = rankTensor(group.rank);
  group.broadcast(broadcast, 1);
  report.broadcast = broadcast.toArray();
  report.allGather = group.allGather(rankTensor(group.rank)).map((tensor) => tensor.toArray());
  group.barrier();
  report.barrier = true;
  group.destroy();
  try {
    group.barrier();
  } catch (error) {
    report.afterDestroy = (error as Error).message;
  }
  return report;
}

// The rank named by SCATTER_DIST_LEAVER leaves before the collective: `exit` ends its process at
// once, `idle` stays connected but never joins in; the others' allReduce must fail, not hang.
function peerLeaves(group: torch.distributed.ProcessGroup): Report {
  // Every rank is fully connected before one leaves, so the failure lands in allReduce, not in joining.
  group.barrier();
  if (group.rank === Number(process.env.SCATTER_DIST_LEAVER)) {
    if (process.env.SCATTER_DIST_SCENARIO === 'exit') process.exit(0);
    // Held until the timer ends: a group that the garbage collector frees closes its connections, which would
    // turn 'idle' into 'exit' (seen under load: the peer got "Connection closed by peer", not the timeout).
    setTimeout(() => {
      group.destroy();
      process.exit(0);
    }, 60_000);
    return { rank: group.rank, idle: true };
  }
  group.allReduce(rankTensor(group.rank));
  return { rank: group.rank, unexpectedlyCompleted: true };
}

function main(scenario: string): void {
  let report: Report;
  try {
    const group = torch.distributed.initProcessGroup({ timeoutMs: Number(process.env.SCATTER_DIST_TIMEOUT_MS) });
    report = scenario === 'collectives' ? collectives(group) : peerLeaves(group);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ rank: process.env.RANK, error: (error as Error).message })}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// node --test's default file pattern also matches this file; run without the test's environment it
// has nothing to do.
const scenario = process.env.SCATTER_DIST_SCENARIO;
if (scenario !== undefined) main(scenario);
