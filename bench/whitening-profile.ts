// Benchmark: where channel whitening's time goes on a device (what bench/whitening-share.ts measures as a
// whole): the host's cost of one operator, a 64 x 64 eigendecomposition on the device against one on the CPU
// (copied there and back), and the layer's forward, and forward + backward, for each variant and each
// implementation (the native node, the TypeScript layer), on 128 x 64 features. Each figure is the median of 40 calls after 5 warm-up calls, each call ending in a read of one
// value, which waits for the device.
// Usage: node dist/bench/whitening-profile.js [--device cpu|cuda]
import { parseArgs } from 'node:util';

import { torch } from '../src/index.js';
import { type ChannelWhiteningOptions, ChannelWhitening, WHITENING_IMPLEMENTATIONS } from '../src/longtail/index.js';
import { median } from './stats.js';

type Tensor = torch.Tensor;

const { values: flags } = parseArgs({ options: { device: { type: 'string', default: 'cpu' } } });
const device = flags.device!;

const wait = (tensor: Tensor): number => tensor.sum().item();

function milliseconds(body: () => void): number {
  for (let call = 0; call < 5; call++) torch.scope(body);
  const times = Array.from({ length: 40 }, () => {
    const started = performance.now();
    torch.scope(body);
    return performance.now() - started;
  });
  return Number(median(times).toFixed(3));
}

const result: Record<string, unknown> = { bench: 'whitening-profile', device, threads: torch.getNumThreads() };
const small = torch.randn([64], { device });
result.hundredAdds = milliseconds(() => {
  let sum = small;
  for (let op = 0; op < 100; op++) sum = sum.add(1);
  wait(sum);
});
const features = torch.randn([128, 64], { device, dtype: 'float64' });
const covariance = features
  .t()
  .mm(features)
  .div(128)
  .add(torch.eye(64, { device, dtype: 'float64' }).mul(0.1));
result.eighFloat64 = milliseconds(() => wait(torch.linalg.eigh(covariance).eigenvalues));
result.eighFloat32 = milliseconds(() => wait(torch.linalg.eigh(covariance.float()).eigenvalues));
result.eighFloat64ViaCpu = milliseconds(() => wait(torch.linalg.eigh(covariance.to('cpu')).eigenvectors.to(device)));

const x = torch.randn([128, 64], { device });
const variants: Record<string, ChannelWhiteningOptions> = {
  'zca-float64': {},
  'zca-float32': { decompositionDtype: 'float32' },
  'newton-schulz-5': { method: 'newton-schulz' },
};
for (const [name, options] of Object.entries(variants)) {
  for (const implementation of WHITENING_IMPLEMENTATIONS) {
    const layer = new ChannelWhitening(64, { ...options, implementation }).to(device);
    result[`${name}-${implementation}`] = {
      forward: milliseconds(() => wait(layer.call(x))),
      forwardBackward: milliseconds(() => {
        const input = x.detach().requiresGrad_(true);
        layer.call(input).square().sum().backward();
        wait(input.grad!);
      }),
    };
  }
}
console.log(JSON.stringify(result));
