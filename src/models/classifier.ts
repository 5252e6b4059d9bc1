// The shape every model shares: a backbone to pooled features, then a neck (Identity unless a layer such
// as channel whitening is put there), then a replaceable classifier:
//   forward(x) = classifier(neck(features(x)))
import * as torch from '../torch/index.js';
import { CosineLinear, Identity, Linear, Module } from '../nn/index.js';

type Tensor = torch.Tensor;

export interface ClassifierOptions {
  numClasses: number;
  /** Channels of the input images: 3 (RGB, default) or 1 (grey, e.g. Fashion-MNIST). */
  inChannels?: number;
  /** 'linear' (default) or 'cosine' (LDAM-DRW's normalised classifier). */
  classifier?: 'linear' | 'cosine';
  /** The cosine classifier's logit scale (1 by default: LDAM-DRW scales in the loss). */
  cosineScale?: number;
}

export abstract class ImageClassifier extends Module {
  /** The size of the pooled features, the classifier's input. */
  readonly featureDim: number;
  /** The classifier's name in the state dict: upstream's ('linear' in LDAM-DRW, 'fc' in torchvision). */
  readonly #classifierName: string;

  protected constructor(featureDim: number, classifierName: string) {
    super();
    this.featureDim = featureDim;
    this.#classifierName = classifierName;
  }

  /** The backbone: images to pooled features (B x featureDim), unscoped (callers scope it). */
  protected abstract forwardFeatures(input: Tensor): Tensor;

  /** Registers the neck and the classifier; subclasses call it last, where upstream creates its classifier. */
  protected attachHead(options: ClassifierOptions): void {
    const { numClasses } = options;
    if (!(Number.isInteger(numClasses) && numClasses >= 1)) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
    this.neck = new Identity();
    const kind = options.classifier ?? 'linear';
    if (kind === 'linear') this.classifier = new Linear(this.featureDim, numClasses);
    else if (kind === 'cosine') this.classifier = new CosineLinear(this.featureDim, numClasses, { scale: options.cosineScale });
    else throw new Error(`unknown classifier '${kind as string}' (linear, cosine)`);
  }

  /** The classifier's name in the state dict ('fc', 'linear'). */
  get classifierName(): string {
    return this.#classifierName;
  }

  /** Maps the (neck's) features to logits; replace it to change the classifier. */
  get classifier(): Module {
    return this.getSubmodule(this.#classifierName) as Module;
  }

  set classifier(module: Module) {
    this.registerModule(this.#classifierName, module);
  }

  /** Between features and classifier: Identity by default; the place for a whitening layer. */
  get neck(): Module {
    return this.getSubmodule('neck') as Module;
  }

  set neck(module: Module) {
    this.registerModule('neck', module);
  }

  /** The penultimate pooled features (B x featureDim), before the neck. */
  features(input: Tensor): Tensor {
    return torch.scope(() => this.forwardFeatures(input));
  }

  forward(input: Tensor): Tensor {
    return this.classifier.call(this.neck.call(this.forwardFeatures(input)));
  }
}
