// The one inference pass: a trained model from a batch of images to its pooled features, the neck's output
// (the classifier's input), logits and predictions, exactly as the trainer's evaluation runs it (device, memory
// format, bfloat16 autocast of the backbone, the loss's evaluation adjustment). Evaluation, analysis, predict and
// the inference API all go through it, so they cannot disagree on what the model predicts.
import type { ImageClassifier } from '../models/index.js';
import * as torch from '../torch/index.js';

type Tensor = torch.Tensor;

export interface InferenceOptions {
  device: torch.Device;
  precision: 'float32' | 'bfloat16';
  channelsLast: boolean;
  /** The loss's evaluation adjustment of the logits (post-hoc logit adjustment); none: raw logits. */
  adjustForEval?: ((logits: Tensor) => Tensor) | undefined;
}

export interface InferenceOutputs {
  features: Tensor;
  embedding: Tensor;
  logits: Tensor;
  predictions: Tensor;
}

export class InferencePass {
  constructor(
    readonly model: ImageClassifier,
    readonly options: InferenceOptions,
  ) {}

  /** A batch (N x C x H x W) on the pass's device, in its memory format. */
  input(images: Tensor): Tensor {
    const placed = images.to(this.options.device);
    return this.options.channelsLast ? placed.contiguous('channelsLast') : placed;
  }

  /** The pooled features, float32; under bfloat16 precision the backbone runs in autocast and its output is cast back. */
  features(images: Tensor): Tensor {
    if (this.options.precision === 'float32') return this.model.features(images);
    return torch.autocast(this.options.device, { dtype: 'bfloat16' }, () => this.model.features(images)).to('float32');
  }

  /** The classifier's input: the neck's output, in float32 (whitening's covariance and eigendecomposition need it). */
  embedding(features: Tensor): Tensor {
    return this.model.neck.call(features);
  }

  logits(embedding: Tensor): Tensor {
    return this.model.classifier.call(embedding);
  }

  /** The class each row of logits predicts, after the evaluation adjustment (int64). */
  predictions(logits: Tensor): Tensor {
    return (this.options.adjustForEval?.(logits) ?? logits).argmax(1);
  }

  /** Every stage for a batch already on the device (see input); call it in evaluation mode and without gradients. */
  forward(images: Tensor): InferenceOutputs {
    const features = this.features(images);
    const embedding = this.embedding(features);
    const logits = this.logits(embedding);
    return { features, embedding, logits, predictions: this.predictions(logits) };
  }
}
