// `scatter export`: a trained run's model in a file another runtime loads: ONNX (evaluation form, with the class
// names and input transforms in its metadata) or a plain state dict (safetensors with the model's own names,
// torchvision's for the ImageNet ResNets).
import path from 'node:path';

import { ONNX_OPSET, exportOnnx } from '../export/onnx.js';
import { loadClassifier } from '../predict/index.js';
import * as torch from '../torch/index.js';
import { describeEnvironment } from '../train/environment.js';
import { writeFileAtomic } from '../util/files.js';

export const EXPORT_FORMATS = ['onnx', 'state-dict'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  run: string;
  checkpoint: 'best' | 'last';
  format: ExportFormat;
  /** Default: RUN/model.onnx or RUN/model.safetensors. */
  out?: string;
}

/** Writes the export; returns the file written. */
export async function exportCommand(options: ExportOptions): Promise<string> {
  const classifier = await loadClassifier(options.run, { checkpoint: options.checkpoint });
  const out = options.out ?? path.join(options.run, options.format === 'onnx' ? 'model.onnx' : 'model.safetensors');
  const { file, epoch } = classifier.checkpoint;
  const { classNames, classCounts, inChannels, inputTransforms } = classifier.card;
  const metadata = {
    classNames: JSON.stringify(classNames),
    classCounts: JSON.stringify(classCounts),
    inChannels: String(inChannels),
    inputTransforms: JSON.stringify(inputTransforms),
    checkpoint: file,
    epoch: String(epoch),
  };
  try {
    if (options.format === 'onnx') {
      const offsets = classifier.scoreOffsets();
      const { scatter: version } = describeEnvironment('cpu', 1);
      writeFileAtomic(out, exportOnnx(classifier.model, { inChannels, scoreOffsets: offsets, metadata, producerVersion: String(version) }));
      offsets?.dispose();
      // The card beside the model too, for runtimes that do not expose ONNX metadata (onnxruntime-web; examples/browser).
      writeFileAtomic(
        `${out}.json`,
        `${JSON.stringify(
          { classNames, classCounts, inChannels, inputTransforms, checkpoint: file, epoch, outputs: ['logits', 'scores', 'embedding'] },
          null,
          2,
        )}\n`,
      );
      process.stderr.write(
        `scatter: exported ${file} (epoch ${epoch}) to ${out} (opset ${ONNX_OPSET}; input images N x ${inChannels} x H x W; ` +
          'outputs logits, scores, embedding)\n',
      );
    } else {
      const state = classifier.model.stateDict();
      torch.safetensors.saveFile(state, out, metadata);
      for (const tensor of Object.values(state)) tensor.dispose();
      process.stderr.write(
        `scatter: exported ${file} (epoch ${epoch}) to ${out} (${Object.keys(state).length} tensors, the model's state dict)\n`,
      );
    }
  } finally {
    classifier.dispose();
  }
  return out;
}
