// ImageNet ResNets with torchvision's layout, names and initialisation (torchvision.models.resnet): a 7x7
// stride-2 stem and 3x3 max pool, four stages at 64, 128, 256 and 512 planes (option-B shortcuts), global
// average pooling and `fc`; conv weights drawn by kaiming_normal_ (fan_out, relu), batch norm 1 and 0,
// fc PyTorch's default. ResNet-10 (basic blocks, one per stage) is the ImageNet-LT baseline of Liu et
// al. (2019); ResNet-50 and ResNeXt-50 32x4d are torchvision's.
import * as torch from '../torch/index.js';
import { BatchNorm2d, Conv2d, MaxPool2d, type Sequential, init } from '../nn/index.js';
import { type BlockType, blockOutPlanes, makeStage } from './blocks.js';
import { type ClassifierOptions, ImageClassifier } from './classifier.js';

type Tensor = torch.Tensor;

export interface ResNetOptions extends ClassifierOptions {
  block: BlockType;
  /** Blocks per stage, e.g. [3, 4, 6, 3] for ResNet-50. */
  layers: readonly [number, number, number, number];
  /** Grouped 3x3 convolutions of the bottleneck (ResNeXt): groups and channels per group. */
  groups?: number;
  widthPerGroup?: number;
}

export class ResNet extends ImageClassifier {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;

  constructor(options: ResNetOptions) {
    super(blockOutPlanes(options.block, 512), 'fc');
    const { block, layers, groups, widthPerGroup } = options;
    this.conv1 = this.registerModule('conv1', new Conv2d(options.inChannels ?? 3, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.maxpool = this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    const stage = (inPlanes: number, planes: number, index: number): Sequential =>
      makeStage(block, inPlanes, planes, layers[index], { stride: index === 0 ? 1 : 2, groups, widthPerGroup });
    this.layer1 = this.registerModule('layer1', stage(64, 64, 0));
    this.layer2 = this.registerModule('layer2', stage(blockOutPlanes(block, 64), 128, 1));
    this.layer3 = this.registerModule('layer3', stage(blockOutPlanes(block, 128), 256, 2));
    this.layer4 = this.registerModule('layer4', stage(blockOutPlanes(block, 256), 512, 3));
    this.attachHead(options);
    for (const module of this.namedModules().values()) {
      if (module instanceof Conv2d) init.kaimingNormal_(module.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    }
  }

  protected forwardFeatures(input: Tensor): Tensor {
    let out = this.maxpool.call(torch.relu(this.bn1.call(this.conv1.call(input))));
    out = this.layer4.call(this.layer3.call(this.layer2.call(this.layer1.call(out))));
    return torch.nn.functional.adaptiveAvgPool2d(out, 1).flatten(1);
  }
}
