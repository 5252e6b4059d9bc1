// The `torch` namespace: scatter's tensor library over libtorch, named after PyTorch's.
export { Tensor, callOp, op, opSchema } from './tensor.js';
export type { MemoryFormat, OpArg, ReduceOptions, ToOptions, ValuesIndices, VarianceOptions } from './tensor.js';
export { DTYPES, bytesPerElement, isFloating } from './dtype.js';
export type { Device, Dtype, TypedArray } from './dtype.js';
export * from './creation.js';
export * from './functions.js';
export * from './functional.js';
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
export * as distributed from './distributed.js';
export * as linalg from './linalg.js';
export * as safetensors from './safetensors.js';
export { gradcheck } from './gradcheck.js';
export type { GradcheckOptions, GradcheckResult } from './gradcheck.js';
