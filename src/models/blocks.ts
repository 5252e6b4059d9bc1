// Residual blocks: the basic block (two 3x3 convolutions) and the bottleneck (1x1, grouped 3x3, 1x1),
// with torchvision's parameter names (conv1, bn1, ..., downsample.0, downsample.1).
import * as torch from '../torch/index.js';
import { BatchNorm2d, Conv2d, Module, Sequential } from '../nn/index.js';

type Tensor = torch.Tensor;

/**
 * How a block's shortcut changes shape when its output does:
 * 'A' (the CIFAR ResNets of He et al. and LDAM-DRW): take every second pixel and zero-pad the channels,
 *     no parameters; only for stride 2 with doubled channels;
 * 'B' (torchvision): a 1x1 convolution with the block's stride and batch norm, as `downsample`.
 */
export type ShortcutOption = 'A' | 'B';

function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, groups, bias: false });
}

function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/** Option A's shortcut: every second pixel, the channels zero-padded by `padChannels` on each side. */
export class PadShortcut extends Module {
  constructor(readonly padChannels: number) {
    super();
  }

  forward(input: Tensor): Tensor {
    const subsampled = input.slice(2, 0, undefined, 2).slice(3, 0, undefined, 2);
    return torch.nn.functional.pad(subsampled, [0, 0, 0, 0, this.padChannels, this.padChannels]);
  }
}

/**
 * Registers on `block` its shortcut from inPlanes to outPlanes channels at `stride`, under upstream's
 * name ('shortcut' for option A as in LDAM-DRW, 'downsample' for option B as in torchvision); null when
 * the shape does not change and the shortcut is the identity.
 */
function attachShortcut(block: Module, inPlanes: number, outPlanes: number, stride: number, option: ShortcutOption): Module | null {
  if (stride === 1 && inPlanes === outPlanes) return null;
  if (option === 'B') {
    return block.registerModule('downsample', new Sequential(conv1x1(inPlanes, outPlanes, stride), new BatchNorm2d(outPlanes)));
  }
  if (stride !== 2 || outPlanes !== 2 * inPlanes) {
    throw new Error(`shortcut option A needs stride 2 and doubled channels, got stride ${stride}, ${inPlanes} -> ${outPlanes} channels`);
  }
  return block.registerModule('shortcut', new PadShortcut(outPlanes / 4));
}

/** The block's output: relu(residual + shortcut(input)). */
function addShortcut(residual: Tensor, input: Tensor, shortcut: Module | null): Tensor {
  return torch.relu(residual.add(shortcut === null ? input : shortcut.call(input)));
}

export interface BlockOptions {
  stride?: number;
  shortcut?: ShortcutOption;
}

/** Two 3x3 convolutions with batch norm, plus the shortcut: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut x). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly #shortcut: Module | null;

  /** The shortcut's module (PadShortcut, or the downsample's convolution and batch norm); null: the identity. */
  get shortcut(): Module | null {
    return this.#shortcut;
  }

  constructor(inPlanes: number, planes: number, options: BlockOptions = {}) {
    super();
    const stride = options.stride ?? 1;
    this.conv1 = this.registerModule('conv1', conv3x3(inPlanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.#shortcut = attachShortcut(this, inPlanes, planes, stride, options.shortcut ?? 'B');
  }

  forward(input: Tensor): Tensor {
    const out = torch.relu(this.bn1.call(this.conv1.call(input)));
    return addShortcut(this.bn2.call(this.conv2.call(out)), input, this.#shortcut);
  }
}

export interface BottleneckOptions extends BlockOptions {
  /** Groups of the 3x3 convolution (32 in ResNeXt-50 32x4d). */
  groups?: number;
  /** Channels per group at base width 64 (4 in ResNeXt-50 32x4d; 64 in ResNet-50). */
  widthPerGroup?: number;
}

/**
 * torchvision's bottleneck (ResNet v1.5: the stride on the 3x3 convolution): 1x1 to `width` channels,
 * grouped 3x3, 1x1 to planes x 4, plus the shortcut.
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly #shortcut: Module | null;

  get shortcut(): Module | null {
    return this.#shortcut;
  }

  constructor(inPlanes: number, planes: number, options: BottleneckOptions = {}) {
    super();
    const stride = options.stride ?? 1;
    const groups = options.groups ?? 1;
    const width = Math.floor(planes * ((options.widthPerGroup ?? 64) / 64)) * groups;
    const outPlanes = planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', conv1x1(inPlanes, width));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', conv3x3(width, width, stride, groups));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', conv1x1(width, outPlanes));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(outPlanes));
    this.#shortcut = attachShortcut(this, inPlanes, outPlanes, stride, options.shortcut ?? 'B');
  }

  forward(input: Tensor): Tensor {
    let out = torch.relu(this.bn1.call(this.conv1.call(input)));
    out = torch.relu(this.bn2.call(this.conv2.call(out)));
    return addShortcut(this.bn3.call(this.conv3.call(out)), input, this.#shortcut);
  }
}

export type BlockType = 'basic' | 'bottleneck';

/** Output channels of a block of `planes` (the bottleneck expands by 4). */
export function blockOutPlanes(type: BlockType, planes: number): number {
  return planes * (type === 'basic' ? BasicBlock.expansion : Bottleneck.expansion);
}

/**
 * A stage of `count` blocks (torchvision's _make_layer): the first one takes inPlanes channels at
 * options.stride, the others keep the resolution.
 */
export function makeStage(type: BlockType, inPlanes: number, planes: number, count: number, options: BottleneckOptions = {}): Sequential {
  if (type === 'basic' && ((options.groups ?? 1) !== 1 || (options.widthPerGroup ?? 64) !== 64)) {
    throw new Error('the basic block supports only groups 1 and widthPerGroup 64 (as torchvision)');
  }
  const stage = new Sequential();
  for (let index = 0; index < count; index++) {
    const blockOptions = { ...options, stride: index === 0 ? (options.stride ?? 1) : 1 };
    const blockIn = index === 0 ? inPlanes : blockOutPlanes(type, planes);
    stage.append(type === 'basic' ? new BasicBlock(blockIn, planes, blockOptions) : new Bottleneck(blockIn, planes, blockOptions));
  }
  return stage;
}
