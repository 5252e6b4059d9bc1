// The `torch` namespace: scatter's tensor library over libtorch, named after PyTorch's.
export { Tensor, callOp, op, opSchema } from './tensor.js';
export type { MemoryFormat, OpArg, ReduceOptions, ToOptions, ValuesIndices, VarianceOptions } from './tensor.js';
export { DTYPES, bytesPerElement, isFloating } from './dtype.js';
export type { Device, Dtype, TypedArray } from './dtype.js';
export * from './creation.js';
export * from './functions.js';
// Functionals as PyTorch spells them: every one under torch.nn.functional, and at the top level those PyTorch has
// there too (torch.conv2d, torch.relu, ...); the losses, linear, pad, normalize and the like only under functional.
export * as nn from './nn.js';
export { batchNorm, conv2d, cosineSimilarity, dropout, layerNorm, logSoftmax, maxPool2d, relu, sigmoid, softmax } from './functional.js';
export { enableGrad, grad, isGradEnabled, noGrad, zeroGrad } from './autograd.js';
export { keep, memory, scope } from './memory.js';
export {
  autocast,
  cuda,
  getNumThreads,
  getRngState,
  manualSeed,
  setNumThreads,
  setParentDeathSignal,
  setRngState,
  version,
} from './runtime.js';
export type { Graph as CudaGraph, SideStream as CudaSideStream } from './graphs.js';
export * as distributed from './distributed.js';
export * as linalg from './linalg.js';
export * as pth from './pth.js';
export * as safetensors from './safetensors.js';
export { gradcheck } from './gradcheck.js';
export type { GradcheckOptions, GradcheckResult } from './gradcheck.js';
