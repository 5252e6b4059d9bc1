// The per-call time of an operator call as the operator-overhead benches measure it: `calls` calls of `body` in
// scopes of `scopeSize` (so that freeing the results is counted, as Python frees each one), in microseconds.
import { torch } from '../src/index.js';

export function microsecondsPerCall(body: () => void, calls: number, scopeSize = 1000): number {
  const start = performance.now();
  for (let done = 0; done < calls; done += scopeSize) {
    torch.scope(() => {
      for (let i = 0; i < scopeSize; i++) body();
    });
  }
  return ((performance.now() - start) * 1000) / calls;
}
