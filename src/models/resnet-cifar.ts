// ResNets for CIFAR (He et al., 2016, section 4.2) as in LDAM-DRW's models/resnet_cifar.py: a 3x3 stem
// of 16 channels, three stages of basic blocks at 16, 32 and 64 channels (option-A shortcuts), global
// average pooling; every conv and linear weight drawn by kaiming_normal_ (fan_in). Depth 6n + 2
// (ResNet-32: n = 5). Parameter names are LDAM-DRW's (conv1, bn1, layer1.0.conv1, ..., linear).
import * as torch from '../torch/index.js';
import { BatchNorm2d, Conv2d, Linear, type Sequential, init } from '../nn/index.js';
import { makeStage } from './blocks.js';
import { type ClassifierOptions, ImageClassifier } from './classifier.js';

type Tensor = torch.Tensor;

export interface CifarResNetOptions extends ClassifierOptions {
  /** 6n + 2 layers (32 by default). */
  depth?: number;
}

export class CifarResNet extends ImageClassifier {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;

  constructor(options: CifarResNetOptions) {
    super(64, 'linear');
    const depth = options.depth ?? 32;
    const blocks = (depth - 2) / 6;
    if (!(Number.isInteger(blocks) && blocks >= 1))
      throw new Error(`CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110), got ${depth}`);
    this.conv1 = this.registerModule('conv1', new Conv2d(options.inChannels ?? 3, 16, 3, { padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16));
    this.layer1 = this.registerModule('layer1', makeStage('basic', 16, 16, blocks, { shortcut: 'A' }));
    this.layer2 = this.registerModule('layer2', makeStage('basic', 16, 32, blocks, { stride: 2, shortcut: 'A' }));
    this.layer3 = this.registerModule('layer3', makeStage('basic', 32, 64, blocks, { stride: 2, shortcut: 'A' }));
    this.attachHead(options);
    // LDAM-DRW's _weights_init (the cosine classifier keeps its own initialisation).
    for (const module of this.namedModules().values()) {
      if (module instanceof Conv2d || module instanceof Linear) init.kaimingNormal_(module.weight);
    }
  }

  protected forwardFeatures(input: Tensor): Tensor {
    let out = torch.relu(this.bn1.call(this.conv1.call(input)));
    out = this.layer3.call(this.layer2.call(this.layer1.call(out)));
    return torch.nn.functional.adaptiveAvgPool2d(out, 1).flatten(1);
  }
}
