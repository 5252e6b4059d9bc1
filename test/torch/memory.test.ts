// Native memory is freed promptly and predictably: scopes, dispose, finalizers, and a long training loop
// whose resident memory stays flat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { torch } from '../../src/index.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

test('scope disposes temporaries and keeps what it returns (also inside arrays and objects)', () => {
  const before = torch.memory().liveTensors;
  const kept = torch.scope(() => {
    const a = torch.ones([100]);
    const b = a.mul(2);
    const survivor = torch.keep(torch.zeros([1]));
    b.add(1);
    return { sum: b.sum(), list: [a.neg()], survivor };
  });
  assert.equal(torch.memory().liveTensors, before + 3);
  assert.equal(kept.sum.item(), 200);
  for (const tensor of [kept.sum, kept.list[0]!, kept.survivor]) tensor.dispose();
  assert.equal(torch.memory().liveTensors, before);
});

test('nested scopes hand returned tensors to the enclosing scope; a throwing scope frees everything', () => {
  const before = torch.memory().liveTensors;
  torch.scope(() => {
    const inner = torch.scope(() => torch.ones([3]).mul(3));
    assert.equal(inner.isDisposed, false);
  });
  assert.equal(torch.memory().liveTensors, before);
  assert.throws(
    () =>
      torch.scope(() => {
        torch.ones([3]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(torch.memory().liveTensors, before);
});

test('keep takes a tensor out of every open scope, whichever made it, and only that tensor', () => {
  const before = torch.memory().liveTensors;
  let outer: torch.Tensor | undefined;
  let escaped: torch.Tensor | undefined;
  torch.scope(() => {
    outer = torch.ones([2]);
    const neighbours = [torch.zeros([1]), torch.zeros([1])];
    torch.scope(() => {
      torch.keep(outer!);
      torch.keep(outer!); // twice is harmless
      escaped = torch.scope(() => torch.keep(torch.ones([1]).add(1)));
      torch.ones([1]);
    });
    assert.equal(outer!.isDisposed, false);
    assert.equal(neighbours[0]!.isDisposed, false, 'the tensors beside the kept one stay in their scope');
  });
  assert.equal(outer!.isDisposed, false);
  assert.equal(escaped!.item(), 2);
  assert.equal(torch.memory().liveTensors, before + 2);
  outer!.dispose();
  escaped!.dispose();
  assert.equal(torch.memory().liveTensors, before);
});

test('memory() counts bytes of distinct storages once, views included', () => {
  const before = torch.memory();
  const x = torch.zeros([1000], { dtype: 'float64' });
  const view = x.view([10, 100]);
  assert.equal(torch.memory().liveBytes - before.liveBytes, 8000);
  assert.equal(torch.memory().liveTensors - before.liveTensors, 2);
  x.dispose();
  assert.equal(torch.memory().liveBytes - before.liveBytes, 8000, 'the view still holds the storage');
  view.dispose();
  assert.deepEqual(torch.memory(), before);
});

test('finalizers free tensors that JavaScript drops without disposing', async () => {
  const before = torch.memory().liveTensors;
  (() => {
    for (let i = 0; i < 200; i++) torch.ones([1000]);
  })();
  assert.ok(torch.memory().liveTensors >= before + 200);
  for (let round = 0; round < 10 && torch.memory().liveTensors > before; round++) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(torch.memory().liveTensors, before);
});

test('2,000 training steps: resident memory after step 2,000 within 5% of after step 200; no tensor leaked', (t) => {
  torch.manualSeed(0);
  const params = [
    torch.randn([8, 1, 3, 3]).mul(0.3),
    torch.ones([8]),
    torch.zeros([8]),
    torch.randn([10, 8]).mul(0.3),
    torch.zeros([10]),
  ].map((p) => p.requiresGrad_(true));
  const [conv, gamma, beta, fcWeight, fcBias] = params as [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor];
  const runningMean = torch.zeros([8]);
  const runningVar = torch.ones([8]);
  const x = torch.randn([16, 1, 12, 12]);
  const y = torch.randint(0, 10, [16]);
  const baseline = torch.memory().liveTensors;
  let rssAt200 = 0;
  for (let step = 1; step <= 2000; step++) {
    torch.scope(() => {
      let h = torch.conv2d(x, conv, null, { padding: 1 });
      h = torch.batchNorm(h, runningMean, runningVar, { weight: gamma, bias: beta, training: true });
      h = torch.nn.functional.adaptiveAvgPool2d(torch.relu(h), 1).flatten(1);
      const loss = torch.nn.functional.crossEntropy(torch.nn.functional.linear(h, fcWeight, fcBias), y);
      loss.backward();
      torch.noGrad(() => {
        for (const p of params) p.sub_(p.grad!, 0.01);
      });
      torch.zeroGrad(params);
    });
    if (step === 200) rssAt200 = process.memoryUsage().rss;
  }
  const rssAt2000 = process.memoryUsage().rss;
  assert.equal(torch.memory().liveTensors, baseline, 'tensors leaked by the loop');
  const growth = rssAt2000 / rssAt200 - 1;
  t.diagnostic(
    `resident memory: ${(rssAt200 / 2 ** 20).toFixed(1)} MiB after step 200, ${(rssAt2000 / 2 ** 20).toFixed(1)} MiB after step 2,000`,
  );
  assert.ok(growth <= 0.05, `resident memory grew ${(growth * 100).toFixed(1)}% between steps 200 and 2,000`);
});
