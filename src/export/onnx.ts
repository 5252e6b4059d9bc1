// A trained model as an ONNX graph in evaluation form, for onnxruntime (Node, the browser) and any ONNX runtime:
// batch norm folded into the convolution before it, the whitening neck folded into one affine map
// ((x - mu) W as a single matrix product plus a constant), the cosine classifier's normalisation kept. Outputs:
// `logits` (the model's), `scores` (what evaluation ranks: the logits plus the post-hoc adjustment, where the loss
// has one) and `embedding` (the classifier's input, after the neck). The input `images` is N x C x H x W, float32,
// transformed as the model card says (kept in the file's metadata with the class names).
import onnxProto from 'onnx-proto';

import { BatchNormNeck, ChannelWhitening, LearnableWeightScaling, TauNormalizedClassifier } from '../longtail/index.js';
import { BasicBlock, Bottleneck, CifarResNet, type ImageClassifier, PadShortcut, ResNet } from '../models/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, CosineLinear, Identity, Linear, type Module, Sequential } from '../nn/index.js';
import * as torch from '../torch/index.js';

const { onnx } = onnxProto;
type Tensor = torch.Tensor;

/** The opset the graph is written for (ONNX 1.12+, onnxruntime 1.12+). */
export const ONNX_OPSET = 17;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

type Attribute = number | number[] | string;

/** Nodes and constants of the graph being written, with fresh names. */
class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  #count = 0;

  #name(prefix: string): string {
    return `${prefix}_${this.#count++}`;
  }

  /** A float32 constant holding `tensor`'s values (copied; the tensor is not kept). */
  constant(tensor: Tensor, prefix = 'const'): string {
    const name = this.#name(prefix);
    const data = torch.noGrad(() => tensor.detach().to('float32').cpu().contiguous().toTypedArray()) as Float32Array;
    this.initializers.push({
      name,
      dataType: FLOAT,
      dims: tensor.shape,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  ints(values: readonly number[], prefix = 'ints'): string {
    const name = this.#name(prefix);
    const data = BigInt64Array.from(values.map((value) => BigInt(value)));
    this.initializers.push({ name, dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  node(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, output?: string): string {
    const out = output ?? this.#name(opType.toLowerCase());
    const attribute = Object.entries(attributes).map(([name, value]) => {
      const AttributeType = onnx.AttributeProto.AttributeType;
      if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
      if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
      return Number.isInteger(value) ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
    });
    this.nodes.push({ opType, input: [...inputs], output: [out], attribute });
    return out;
  }
}

/** Raised for a layer that has no ONNX form here; names it and where it sits in the model. */
function unsupported(module: Module, where: string): never {
  throw new Error(`export: ${where} is a ${module.constructor.name}, which the ONNX export does not support`);
}

/** The per-channel scale and shift of batch norm in evaluation form: y = x * scale + shift. */
function batchNormAffine(bn: BatchNorm1d | BatchNorm2d): { scale: Tensor; shift: Tensor } {
  const mean = bn.runningMean;
  const variance = bn.runningVar;
  if (mean === null || variance === null) throw new Error('export: a batch norm without running statistics has no evaluation form');
  const scale = variance
    .add(bn.eps)
    .rsqrt()
    .mul(bn.weight ?? 1);
  return { scale, shift: (bn.bias ?? torch.zerosLike(mean)).sub(mean.mul(scale)) };
}

/** conv followed by bn, as one convolution: the weights scaled per output channel, the shift as its bias. */
function convBatchNorm(g: GraphBuilder, conv: Conv2d, bn: BatchNorm2d, input: string): string {
  const { scale, shift } = batchNormAffine(bn);
  const weight = conv.weight.mul(scale.view([-1, 1, 1, 1]));
  const bias = conv.bias === null ? shift : conv.bias.mul(scale).add(shift);
  const [padH, padW] = conv.padding;
  return g.node('Conv', [input, g.constant(weight, 'conv_w'), g.constant(bias, 'conv_b')], {
    kernel_shape: conv.kernelSize,
    strides: conv.stride,
    pads: [padH, padW, padH, padW],
    dilations: conv.dilation,
    group: conv.groups,
  });
}

function shortcut(g: GraphBuilder, module: Module | null, input: string, where: string): string {
  if (module === null) return input;
  if (module instanceof PadShortcut) {
    const sliced = g.node('Slice', [input, g.ints([0, 0]), g.ints([2 ** 62, 2 ** 62]), g.ints([2, 3]), g.ints([2, 2])]);
    const p = module.padChannels;
    return g.node('Pad', [sliced, g.ints([0, p, 0, 0, 0, p, 0, 0])], { mode: 'constant' });
  }
  if (module instanceof Sequential && module.length === 2 && module.at(0) instanceof Conv2d && module.at(1) instanceof BatchNorm2d) {
    return convBatchNorm(g, module.at(0) as Conv2d, module.at(1) as BatchNorm2d, input);
  }
  return unsupported(module, `${where}'s shortcut`);
}

function block(g: GraphBuilder, module: Module, input: string, where: string): string {
  let residual: string;
  if (module instanceof BasicBlock) {
    const out = g.node('Relu', [convBatchNorm(g, module.conv1, module.bn1, input)]);
    residual = convBatchNorm(g, module.conv2, module.bn2, out);
  } else if (module instanceof Bottleneck) {
    let out = g.node('Relu', [convBatchNorm(g, module.conv1, module.bn1, input)]);
    out = g.node('Relu', [convBatchNorm(g, module.conv2, module.bn2, out)]);
    residual = convBatchNorm(g, module.conv3, module.bn3, out);
  } else {
    return unsupported(module, where);
  }
  return g.node('Relu', [g.node('Add', [residual, shortcut(g, module.shortcut, input, where)])]);
}

function stage(g: GraphBuilder, module: Sequential, input: string, where: string): string {
  let out = input;
  for (let i = 0; i < module.length; i++) out = block(g, module.at(i), out, `${where}.${i}`);
  return out;
}

/** The backbone: images to pooled features (N x featureDim). */
function backbone(g: GraphBuilder, model: ImageClassifier, input: string): string {
  let out: string;
  if (model instanceof CifarResNet) {
    out = g.node('Relu', [convBatchNorm(g, model.conv1, model.bn1, input)]);
    for (const name of ['layer1', 'layer2', 'layer3'] as const) out = stage(g, model[name], out, name);
  } else if (model instanceof ResNet) {
    out = g.node('Relu', [convBatchNorm(g, model.conv1, model.bn1, input)]);
    const { kernelSize, options } = model.maxpool;
    const pair = (value: number | readonly number[] | undefined, fallback: readonly number[]): number[] =>
      value === undefined ? [...fallback] : typeof value === 'number' ? [value, value] : [...value];
    const kernel = pair(kernelSize, []);
    const padding = pair(options.padding, [0, 0]);
    out = g.node('MaxPool', [out], {
      kernel_shape: kernel,
      strides: pair(options.stride, kernel),
      pads: [...padding, ...padding],
      ceil_mode: options.ceilMode === true ? 1 : 0,
    });
    for (const name of ['layer1', 'layer2', 'layer3', 'layer4'] as const) out = stage(g, model[name], out, name);
  } else {
    return unsupported(model, 'the model');
  }
  return g.node('Flatten', [g.node('GlobalAveragePool', [out])], { axis: 1 });
}

/** The neck in evaluation form: identity, batch norm as scale and shift, whitening as one affine map. */
function neck(g: GraphBuilder, module: Module, input: string): string {
  if (module instanceof Identity) return input;
  if (module instanceof BatchNormNeck || module instanceof BatchNorm1d) {
    const { scale, shift } = batchNormAffine(module);
    return g.node('Add', [g.node('Mul', [input, g.constant(scale, 'bn_scale')]), g.constant(shift, 'bn_shift')]);
  }
  if (module instanceof ChannelWhitening) {
    // (x - mu) W (+ affine: * w + b) = x M + c, with M = blockdiag(W_1, ..., W_G) (diag(w)) and c = -mu M (+ b).
    let matrix = torch.op(
      'block_diag',
      Array.from({ length: module.groups }, (_, k) => module.runningWhitening.select(0, k)),
    ) as Tensor;
    if (module.weight !== null) matrix = matrix.mul(module.weight.view([1, -1]));
    let offset = module.runningMean.view([1, -1]).matmul(matrix).neg().view([-1]);
    if (module.bias !== null) offset = offset.add(module.bias);
    return g.node('Gemm', [input, g.constant(matrix, 'whitening'), g.constant(offset, 'whitening_offset')]);
  }
  return unsupported(module, 'the neck');
}

function classifier(g: GraphBuilder, module: Module, input: string): string {
  if (module instanceof Linear) {
    return g.node('Gemm', [input, g.constant(module.weight, 'fc_w'), ...(module.bias === null ? [] : [g.constant(module.bias, 'fc_b')])], {
      transB: 1,
    });
  }
  if (module instanceof CosineLinear) {
    // torch's normalize: x / max(||x||, 1e-12); the weights' columns normalised at export.
    const norm = g.node('Max', [g.node('ReduceL2', [input], { axes: [1], keepdims: 1 }), g.constant(torch.tensor([1e-12]), 'eps')]);
    const cosines = g.node('MatMul', [
      g.node('Div', [input, norm]),
      g.constant(torch.nn.functional.normalize(module.weight, 2, 0), 'cos_w'),
    ]);
    return module.scale === 1 ? cosines : g.node('Mul', [cosines, g.constant(torch.tensor([module.scale]), 'cos_scale')]);
  }
  if (module instanceof TauNormalizedClassifier) {
    const { weight, bias } = module.base;
    const scaled = weight.div(weight.norm(2, { dim: 1, keepdim: true }).pow(module.tau));
    const keep = module.keepBias && bias !== null;
    return g.node('Gemm', [input, g.constant(scaled, 'tau_w'), ...(keep ? [g.constant(bias, 'tau_b')] : [])], { transB: 1 });
  }
  if (module instanceof LearnableWeightScaling) {
    return g.node('Mul', [classifier(g, module.base, input), g.constant(module.scales, 'lws_scales')]);
  }
  return unsupported(module, 'the classifier');
}

export interface OnnxExportOptions {
  /** Channels of the input images (the model card's inChannels). */
  inChannels: number;
  /** Added to the logits to give `scores`, what evaluation ranks (the post-hoc adjustment); null: none. */
  scoreOffsets?: Tensor | null;
  /** Strings kept in the file's metadata_props (class names, transforms, the run it came from). */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** The model (in evaluation mode: its running statistics) as an ONNX model's bytes. */
export function exportOnnx(model: ImageClassifier, options: OnnxExportOptions): Uint8Array {
  return torch.noGrad(() =>
    torch.scope(() => {
      const g = new GraphBuilder();
      const features = backbone(g, model, 'images');
      const embedding = g.node('Identity', [neck(g, model.neck, features)], {}, 'embedding');
      const logits = g.node('Identity', [classifier(g, model.classifier, embedding)], {}, 'logits');
      const offsets = options.scoreOffsets ?? null;
      g.node(
        offsets === null ? 'Identity' : 'Add',
        offsets === null ? [logits] : [logits, g.constant(offsets.view([1, -1]), 'score_offsets')],
        {},
        'scores',
      );
      const dim = (value: number | string) => (typeof value === 'number' ? { dimValue: value } : { dimParam: value });
      const valueInfo = (name: string, dims: (number | string)[]) => ({
        name,
        type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map(dim) } } },
      });
      const numClasses = Number((model.classifier as Module & { outFeatures?: number }).outFeatures ?? NaN);
      const classes = Number.isFinite(numClasses) ? numClasses : 'classes';
      const graph: onnxProto.onnx.IGraphProto = {
        name: model.constructor.name,
        node: g.nodes,
        initializer: g.initializers,
        input: [valueInfo('images', ['N', options.inChannels, 'height', 'width'])],
        output: [valueInfo('logits', ['N', classes]), valueInfo('scores', ['N', classes]), valueInfo('embedding', ['N', model.featureDim])],
      };
      const proto = onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: '', version: ONNX_OPSET }],
        producerName: 'scatter',
        producerVersion: options.producerVersion ?? '',
        graph,
        metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      });
      return onnx.ModelProto.encode(proto).finish();
    }),
  );
}
