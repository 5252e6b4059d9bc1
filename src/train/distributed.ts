// Joining data-parallel training: a process started by `scatter launch` or torchrun finds its rank in
// the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and joins the group that the
// trainer then reduces gradients over (nn/data-parallel.ts).
import { DataParallel } from '../nn/index.js';
import * as torch from '../torch/index.js';
import type { Config } from './config.js';

/** True when this process was started as one of several ranks. */
export function launchedDistributed(): boolean {
  const worldSize = process.env.WORLD_SIZE;
  return worldSize !== undefined && worldSize.trim() !== '' && Number(worldSize) > 1;
}

/** Joins the process group described by the environment; null for a single process. */
export function joinFromEnvironment(config: Config): DataParallel | null {
  if (!launchedDistributed()) return null;
  const { backend, bucketMiB, timeoutSeconds } = config.distributed;
  const group = torch.distributed.initProcessGroup({
    backend: backend === 'auto' ? undefined : backend,
    device: config.train.device,
    timeoutMs: timeoutSeconds * 1000,
  });
  return new DataParallel(group, { bucketBytes: bucketMiB * 2 ** 20 });
}

/** One rank's device: 'cuda' means this rank's own GPU (its local rank) when there are several ranks. */
export function rankDevice(device: torch.Device, parallel: DataParallel | null): torch.Device {
  return device === 'cuda' && parallel !== null ? `cuda:${parallel.group.localRank}` : device;
}
