// Using a trained model: a run's checkpoint loaded once, then classes (with probabilities) and embeddings for
// new images, each call in its own memory scope so that a long-running process holds only the model. Images go
// through the model card's transforms (checkpoint.ts) and the trainer's inference pass (train/inference.ts), so
// a prediction here is what `scatter eval` would have made of the same image.
import { prepareImage } from '../data/index.js';
import { createLoss } from '../longtail/losses.js';
import type { ImageClassifier } from '../models/index.js';
import * as torch from '../torch/index.js';
import { type ModelCard, chooseCheckpoint, readCheckpointMeta, withModelState } from '../train/checkpoint.js';
import { type Config, lossConfig } from '../train/config.js';
import { InferencePass } from '../train/inference.js';
import { RunDir } from '../train/run-dir.js';
import { buildModel, loadRunData, modelCard } from '../train/setup.js';

type Tensor = torch.Tensor;

/**
 * What can be classified: an image file's path, an encoded image's bytes (JPEG, PNG, WebP, TIFF), or a tensor
 * already transformed as the model's input (C x H x W, float32).
 */
export type ClassifierInput = string | Uint8Array | Tensor;

export interface ClassScore {
  /** The class's label (its index). */
  label: number;
  name: string;
  probability: number;
}

export interface Prediction {
  /** The most probable classes first, `topK` of them. */
  top: ClassScore[];
}

export interface LoadOptions {
  /** 'best' (default: the best epoch's checkpoint, or an error) or 'last'. */
  checkpoint?: 'best' | 'last';
  /** Where the model runs (default 'cpu'). */
  device?: torch.Device;
}

export class Classifier {
  readonly #pass: InferencePass;

  constructor(
    readonly model: ImageClassifier,
    readonly card: ModelCard,
    pass: InferencePass,
    /** The checkpoint file loaded and its epoch. */
    readonly checkpoint: { file: string; epoch: number },
  ) {
    this.#pass = pass;
  }

  get classNames(): readonly string[] {
    return this.card.classNames;
  }

  /**
   * What evaluation adds to the logits before ranking the classes (the loss's post-hoc adjustment: minus tau log
   * prior), as a [numClasses] tensor; null when it ranks the raw logits.
   */
  scoreOffsets(): Tensor | null {
    const adjust = this.#pass.options.adjustForEval;
    if (adjust === undefined) return null;
    return torch.noGrad(() => torch.scope(() => adjust(torch.zeros([1, this.card.numClasses])).view([-1])));
  }

  /** One input as the model's input tensor (C x H x W), decoded and transformed; a bad image is an error naming it. */
  async prepare(input: ClassifierInput): Promise<Tensor> {
    if (input instanceof torch.Tensor) return input;
    const { data, shape } = await prepareImage(input, this.card.inputTransforms);
    return torch.fromTypedArray(data, { shape });
  }

  /** The top `topK` classes (default 5, at most the number of classes) of each input, in order. */
  async predict(inputs: readonly ClassifierInput[], options: { topK?: number } = {}): Promise<Prediction[]> {
    const topK = Math.min(options.topK ?? 5, this.card.numClasses);
    if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`predict: topK must be an integer >= 1, got ${options.topK}`);
    if (inputs.length === 0) return [];
    return this.#run(inputs, (outputs) => {
      const { logits } = outputs;
      const adjusted = this.#pass.options.adjustForEval?.(logits) ?? logits;
      const { values, indices } = torch.softmax(adjusted.to('float32'), 1).topk(topK, { dim: 1 });
      const probabilities = values.cpu().tolist() as number[][];
      const labels = indices.cpu().tolist() as number[][];
      return labels.map((row, i) => ({
        top: row.map((label, k) => ({ label, name: this.card.classNames[label] ?? String(label), probability: probabilities[i]![k]! })),
      }));
    });
  }

  /** The classifier's input features (after the neck) of each input, in order. */
  async embed(inputs: readonly ClassifierInput[]): Promise<Float32Array[]> {
    if (inputs.length === 0) return [];
    return this.#run(inputs, ({ embedding }) => {
      const rows = embedding.shape[1]!;
      const all = embedding.to('float32').cpu().contiguous().toTypedArray() as Float32Array;
      return Array.from({ length: embedding.shape[0]! }, (_, i) => all.slice(i * rows, (i + 1) * rows));
    });
  }

  /** Prepares the inputs (decoding concurrently), runs them as one batch, and keeps no tensor after `read`. */
  async #run<T>(inputs: readonly ClassifierInput[], read: (outputs: ReturnType<InferencePass['forward']>) => T): Promise<T> {
    const prepared = await Promise.all(inputs.map((input) => this.prepare(input)));
    try {
      return torch.noGrad(() =>
        torch.scope(() => {
          const shapes = new Set(prepared.map((tensor) => tensor.shape.join('x')));
          if (shapes.size > 1)
            throw new Error(`predict: the inputs prepare to different shapes (${[...shapes].join(', ')}): classify them in separate calls`);
          // libtorch 1.13's CPU convolution takes a slow path for a batch of one (a 16-channel 32 x 32 conv2d: 0.98 ms
          // against 0.22 ms for two, in Python PyTorch 1.13 too; a ResNet-32 forward 32 ms against 4.6): one input runs
          // as a batch of two copies, and the first row is read.
          const batch = prepared.length === 1 ? torch.stack([prepared[0]!, prepared[0]!]) : torch.stack(prepared);
          const outputs = this.#pass.forward(this.#pass.input(batch));
          if (prepared.length > 1) return read(outputs);
          const first = (tensor: Tensor): Tensor => tensor.narrow(0, 0, 1);
          return read({
            features: first(outputs.features),
            embedding: first(outputs.embedding),
            logits: first(outputs.logits),
            predictions: first(outputs.predictions),
          });
        }),
      );
    } finally {
      prepared.forEach((tensor, i) => {
        if (tensor !== inputs[i]) tensor.dispose();
      });
    }
  }

  /** Frees the model's tensors; the classifier cannot be used after. */
  dispose(): void {
    for (const tensor of [...this.model.parameters(), ...this.model.namedBuffers().values()]) tensor.dispose();
  }
}

/**
 * Loads a run's best (or last) checkpoint for inference. The model card comes from the checkpoint; a checkpoint
 * written before cards existed has it rebuilt from the run's data set, which must then be where the config says.
 */
export async function loadClassifier(runDirectory: string, options: LoadOptions = {}): Promise<Classifier> {
  const dir = RunDir.open(runDirectory);
  const config: Config = dir.config();
  const chosen = chooseCheckpoint(dir, options.checkpoint ?? 'best');
  const card = readCheckpointMeta(chosen.file).card ?? modelCard(config, loadRunData(config));
  const model = withModelState(chosen.file, (state) => {
    const built = buildModel(config, card);
    built.loadStateDict(state, { strict: true });
    return built;
  });
  const device = options.device ?? 'cpu';
  model.to(device);
  if (config.train.channelsLast) model.toChannelsLast();
  model.eval();
  const { adjustForEval } = createLoss(lossConfig(config), card.classCounts);
  const pass = new InferencePass(model, {
    device,
    precision: config.train.precision,
    channelsLast: config.train.channelsLast,
    adjustForEval,
  });
  return new Classifier(model, card, pass, { file: chosen.file, epoch: chosen.epoch });
}
