// Making tensors: from JavaScript data, and PyTorch's factories.
import { type Device, type Dtype, type TypedArray, bytesPerElement, dtypeOfTypedArray } from './dtype.js';
import { native } from './native.js';
import { type MemoryFormat, Tensor, assertDeviceAvailable, op } from './tensor.js';

export interface TensorOptions {
  /** float32 unless stated (JavaScript numbers do not say whether they are integers). */
  dtype?: Dtype;
  device?: Device;
  requiresGrad?: boolean;
}

type Nested = number | boolean | bigint | readonly Nested[];

function finish(tensor: Tensor, options: TensorOptions): Tensor {
  let result = tensor;
  if (options.device !== undefined && options.device !== 'cpu') {
    result = tensor.to({ device: options.device });
    tensor.dispose();
  }
  if (options.requiresGrad) result.requiresGrad_(true);
  return result;
}

/** The factory arguments that every aten creation op takes: dtype, layout, device, pin_memory. */
function factoryArgs(
  options: TensorOptions,
  defaultDtype: Dtype | null = 'float32',
): [Dtype | null, undefined, Device | undefined, undefined] {
  if (options.device !== undefined) assertDeviceAvailable(options.device);
  return [options.dtype ?? defaultDtype, undefined, options.device, undefined];
}

function withGrad(tensor: Tensor, options: TensorOptions): Tensor {
  return options.requiresGrad ? tensor.requiresGrad_(true) : tensor;
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let level: Nested = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0] as Nested;
  }
  return shape;
}

function flattenInto(data: Nested, shape: number[], depth: number, out: (number | boolean | bigint)[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new TypeError(`tensor(): ragged nested array (too deep at depth ${depth})`);
    out.push(data as number | boolean | bigint);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new TypeError(`tensor(): ragged nested array: expected ${shape[depth]} items at depth ${depth}`);
  }
  for (const item of data as readonly Nested[]) flattenInto(item, shape, depth + 1, out);
}

function encode(values: (number | boolean | bigint)[], dtype: Dtype): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values, Number);
    case 'float64':
      return Float64Array.from(values, Number);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(typeof v === 'bigint' ? v : Math.trunc(Number(v))));
    case 'int32':
      return Int32Array.from(values, Number);
    case 'int16':
      return Int16Array.from(values, Number);
    case 'int8':
      return Int8Array.from(values, Number);
    case 'uint8':
      return Uint8Array.from(values, Number);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'bfloat16':
    case 'float16':
      return Float32Array.from(values, Number);
  }
}

/**
 * A tensor holding a copy of `data`: a number, nested arrays of numbers/booleans, or a typed array
 * (with options.shape, default 1-d). Numbers default to float32, booleans to bool, bigints to int64.
 */
export function tensor(data: Nested | TypedArray, options: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) return fromTypedArray(data as TypedArray, options);
  const shape = inferShape(data);
  const flat: (number | boolean | bigint)[] = [];
  flattenInto(data, shape, 0, flat);
  const first = flat[0];
  const dtype = options.dtype ?? (typeof first === 'boolean' ? 'bool' : typeof first === 'bigint' ? 'int64' : 'float32');
  // Half-precision types are filled through float32 and converted by libtorch (exact rounding).
  const stagingDtype = dtype === 'bfloat16' || dtype === 'float16' ? 'float32' : dtype;
  let result = new Tensor(native.fromBuffer(encode(flat, dtype), shape, stagingDtype));
  if (stagingDtype !== dtype) {
    const converted = result.to(dtype);
    result.dispose();
    result = converted;
  }
  return finish(result, options);
}

/** A tensor from a typed array (copied). Uint16Array needs dtype 'bfloat16' or 'float16' (raw bits). */
export function fromTypedArray(data: TypedArray, options: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  const dtype = options.dtype ?? dtypeOfTypedArray(data);
  const shape = [...(options.shape ?? [data.byteLength / bytesPerElement(dtype)])];
  return finish(new Tensor(native.fromBuffer(data, shape, dtype)), options);
}

export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return withGrad(op('zeros', shape, ...factoryArgs(options)), options);
}

export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return withGrad(op('ones', shape, ...factoryArgs(options)), options);
}

export function full(shape: readonly number[], value: number | boolean, options: TensorOptions = {}): Tensor {
  return withGrad(op('full', shape, value, ...factoryArgs(options)), options);
}

/** Uninitialised memory: fill it before reading. */
export function empty(shape: readonly number[], options: TensorOptions & { memoryFormat?: MemoryFormat } = {}): Tensor {
  return withGrad(op('empty.memory_format', shape, ...factoryArgs(options), options.memoryFormat), options);
}

/** start, start+step, ... below end; with one argument, 0 ... end-1. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  return withGrad(op('arange.start_step', from, to, step, ...factoryArgs(options, 'int64')), options);
}

export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  return withGrad(op('linspace', start, end, steps, ...factoryArgs(options)), options);
}

export function eye(n: number, options: TensorOptions = {}): Tensor {
  return withGrad(op('eye', n, ...factoryArgs(options)), options);
}

/** Uniform on [0, 1). */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return withGrad(op('rand', shape, ...factoryArgs(options)), options);
}

/** Standard normal. */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return withGrad(op('randn', shape, ...factoryArgs(options)), options);
}

/** Integers uniform on [low, high); int64 unless stated. */
export function randint(low: number, high: number, shape: readonly number[], options: TensorOptions = {}): Tensor {
  return op('randint.low', low, high, shape, ...factoryArgs(options, 'int64'));
}

/** A random permutation of 0 ... n-1 (int64). */
export function randperm(n: number, options: TensorOptions = {}): Tensor {
  return op('randperm', n, ...factoryArgs(options, 'int64'));
}

/** The options that make a tensor like `like` unless overridden (null dtype: like's own). */
function likeArgs(options: TensorOptions): [Dtype | null, undefined, Device | undefined, undefined] {
  return factoryArgs(options, null);
}

export function zerosLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return withGrad(op('zeros_like', like, ...likeArgs(options)), options);
}

export function onesLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return withGrad(op('ones_like', like, ...likeArgs(options)), options);
}

export function fullLike(like: Tensor, value: number, options: TensorOptions = {}): Tensor {
  return withGrad(op('full_like', like, value, ...likeArgs(options)), options);
}

export function emptyLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return withGrad(op('empty_like', like, ...likeArgs(options)), options);
}

export function randLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return withGrad(op('rand_like', like, ...likeArgs(options)), options);
}

export function randnLike(like: Tensor, options: TensorOptions = {}): Tensor {
  return withGrad(op('randn_like', like, ...likeArgs(options)), options);
}

export function randintLike(like: Tensor, low: number, high: number, options: TensorOptions = {}): Tensor {
  return op('randint_like.low_dtype', like, low, high, ...likeArgs(options));
}
