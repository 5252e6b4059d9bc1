// The Tensor class: PyTorch's tensor methods in camelCase, each one call to a libtorch operator.
import { type Device, type Dtype, type TypedArray, isDtypeName, isFloating } from './dtype.js';
import { type Disposable, trackInScope } from './memory.js';
import { type Handle, native } from './native.js';

/** What an operator accepts from TypeScript; numbers where a tensor is expected act as Python scalars. */
export type OpArg = Tensor | number | bigint | boolean | string | null | undefined | readonly OpArg[];

const opIds = new Map<string, number>();

/** The addon's id for an operator named like "add.Tensor" (aten::add, overload Tensor) or "relu". */
function opId(key: string): number {
  let id = opIds.get(key);
  if (id === undefined) {
    const dot = key.indexOf('.');
    const name = dot < 0 ? key : key.slice(0, dot);
    id = native.findOp(`aten::${name}`, dot < 0 ? '' : key.slice(dot + 1));
    opIds.set(key, id);
  }
  return id;
}

function toNative(arg: OpArg): unknown {
  if (arg instanceof Tensor) return arg.handle;
  if (Array.isArray(arg)) return arg.map(toNative);
  return arg;
}

// The addon returns tensor handles (Externals), arrays, null, numbers, booleans and strings: an object
// that is no array is a handle (a JavaScript test; util.types.isExternal is a call into C++).
function fromNative(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(fromNative);
  return new Tensor(value as Handle);
}

type NativeCall = (id: number, ...args: unknown[]) => unknown;

// The arguments go to the addon as its call's own arguments. The common arities are spelled out so
// that no array is built for them (V8 then also drops the rest array of op's callers).
function invoke(call: NativeCall, key: string, args: readonly OpArg[]): unknown {
  const id = opId(key);
  switch (args.length) {
    case 0:
      return call(id);
    case 1:
      return call(id, toNative(args[0]));
    case 2:
      return call(id, toNative(args[0]), toNative(args[1]));
    case 3:
      return call(id, toNative(args[0]), toNative(args[1]), toNative(args[2]));
    case 4:
      return call(id, toNative(args[0]), toNative(args[1]), toNative(args[2]), toNative(args[3]));
    default:
      return call(id, ...args.map(toNative));
  }
}

/** Calls a libtorch operator and returns its result with tensors wrapped. */
export function callOp(key: string, ...args: OpArg[]): unknown {
  return fromNative(invoke(native.callOp, key, args));
}

/** Calls an operator that returns one tensor. */
export function op(key: string, ...args: OpArg[]): Tensor {
  return callOp(key, ...args) as Tensor;
}

/** Calls an operator that returns several tensors (a tuple or a list). */
export function ops(key: string, ...args: OpArg[]): Tensor[] {
  return callOp(key, ...args) as Tensor[];
}

/** Calls an in-place operator: its result is its first argument, so no new handle is made. */
export function opInPlace(key: string, ...args: OpArg[]): void {
  invoke(native.callOpDiscarding, key, args);
}

/** The schema text of an operator, for error messages and exploration. */
export function opSchema(key: string): string {
  return native.opSchema(opId(key));
}

export type MemoryFormat = 'contiguous' | 'channelsLast' | 'preserve';
export type Scalar = number | boolean;
export type Dims = number | readonly number[];

export interface ToOptions {
  dtype?: Dtype;
  device?: Device;
  memoryFormat?: MemoryFormat;
  copy?: boolean;
}

export interface ReduceOptions {
  dim?: Dims;
  keepdim?: boolean;
}

export interface VarianceOptions extends ReduceOptions {
  /** Bessel's correction: 1 (default) for the unbiased estimate, 0 for the population variance. */
  correction?: number;
}

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

function dimList(dim: Dims | undefined): readonly number[] | undefined {
  if (dim === undefined) return undefined;
  return typeof dim === 'number' ? [dim] : dim;
}

// The safety net for tensors outside scopes that JavaScript drops without disposing (scoped tensors are
// always disposed by their scope, so they skip the registry's cost).
const droppedTensors = new FinalizationRegistry<Handle>((handle) => native.dispose(handle));

export class Tensor implements Disposable {
  #handle: Handle | null;
  #watched = false;

  /** Wraps a native handle; users create tensors with the torch.* factories instead. */
  constructor(handle: Handle) {
    this.#handle = handle;
    if (!trackInScope(this)) this.#watchForDrop(handle);
  }

  #watchForDrop(handle: Handle): void {
    droppedTensors.register(this, handle, this);
    this.#watched = true;
  }

  /** The native handle; throws once the tensor is disposed. */
  get handle(): Handle {
    if (this.#handle === null) throw new Error('this tensor was disposed');
    return this.#handle;
  }

  /** Frees the tensor's native memory now (views and autograd keep what they still need). */
  dispose(): void {
    const handle = this.releaseHandle();
    if (handle !== null) native.dispose(handle);
  }

  releaseHandle(): Handle | null {
    const handle = this.#handle;
    if (handle === null) return null;
    this.#handle = null;
    if (this.#watched) droppedTensors.unregister(this);
    return handle;
  }

  get isDisposed(): boolean {
    return this.#handle === null;
  }

  markGcManaged(): void {
    if (this.#handle === null || this.#watched) return;
    native.markGcManaged(this.#handle);
    this.#watchForDrop(this.#handle);
  }

  // --- what a tensor is -------------------------------------------------------------------------

  get shape(): number[] {
    return native.shape(this.handle);
  }

  size(dim?: number): number {
    const shape = this.shape;
    if (dim === undefined) return shape.reduce((a, b) => a * b, 1);
    const axis = dim < 0 ? dim + shape.length : dim;
    if (axis < 0 || axis >= shape.length) throw new RangeError(`size(${dim}): tensor has ${shape.length} dims`);
    return shape[axis]!;
  }

  get ndim(): number {
    return this.shape.length;
  }

  numel(): number {
    return this.size();
  }

  stride(): number[] {
    return native.strides(this.handle);
  }

  get dtype(): Dtype {
    return native.dtype(this.handle) as Dtype;
  }

  get device(): Device {
    return native.device(this.handle);
  }

  isContiguous(memoryFormat: 'contiguous' | 'channelsLast' = 'contiguous'): boolean {
    return native.isContiguous(this.handle, memoryFormat === 'channelsLast');
  }

  isFloatingPoint(): boolean {
    return isFloating(this.dtype);
  }

  /** True when both tensors view the same memory. */
  sharesStorageWith(other: Tensor): boolean {
    return native.sameStorage(this.handle, other.handle);
  }

  // --- autograd ---------------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }

  set requiresGrad(value: boolean) {
    this.requiresGrad_(value);
  }

  requiresGrad_(value = true): this {
    opInPlace('requires_grad_', this, value);
    return this;
  }

  /** The accumulated gradient of a leaf (a new handle on it at each read), or null. */
  get grad(): Tensor | null {
    const grad = native.getGrad(this.handle);
    return grad === null ? null : new Tensor(grad);
  }

  set grad(value: Tensor | null) {
    native.setGrad(this.handle, value === null ? null : value.handle);
  }

  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }

  /** The name of the autograd node that made this tensor, e.g. "MmBackward0", or null for a leaf. */
  get gradFn(): string | null {
    return native.gradFnName(this.handle);
  }

  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }

  /** Accumulates d(this)/d(leaf) into every leaf's grad; a non-scalar needs the gradient of its output. */
  backward(gradient?: Tensor | null, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const createGraph = options.createGraph ?? false;
    native.backward([this.handle], [gradient ? gradient.handle : null], options.retainGraph ?? createGraph, createGraph);
  }

  detach(): Tensor {
    return op('detach', this);
  }

  // --- conversion -------------------------------------------------------------------------------

  clone(memoryFormat?: MemoryFormat): Tensor {
    return op('clone', this, memoryFormat);
  }

  contiguous(memoryFormat: 'contiguous' | 'channelsLast' = 'contiguous'): Tensor {
    return op('contiguous', this, memoryFormat);
  }

  /** A tensor of another dtype, device or memory format (this same tensor when nothing changes). */
  to(target: Dtype | Device | ToOptions): Tensor {
    const options: ToOptions = typeof target === 'string' ? (isDtypeName(target) ? { dtype: target } : { device: target }) : target;
    if (options.device !== undefined) assertDeviceAvailable(options.device);
    return op(
      'to.dtype_layout',
      this,
      options.dtype,
      undefined,
      options.device,
      undefined,
      false,
      options.copy ?? false,
      options.memoryFormat,
    );
  }

  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }

  cuda(index = 0): Tensor {
    return this.to({ device: `cuda:${index}` });
  }

  float(): Tensor {
    return this.to('float32');
  }

  double(): Tensor {
    return this.to('float64');
  }

  long(): Tensor {
    return this.to('int64');
  }

  int(): Tensor {
    return this.to('int32');
  }

  bool(): Tensor {
    return this.to('bool');
  }

  /** The value of a one-element tensor (true/false read as 1/0). */
  item(): number {
    return Number(callOp('item', this));
  }

  /**
   * A copy of the elements in row-major order: float32 -> Float32Array, float64 -> Float64Array,
   * int64 -> BigInt64Array, int32 -> Int32Array, uint8 and bool -> Uint8Array, bfloat16 and float16 ->
   * Uint16Array of their bits.
   */
  toTypedArray(): TypedArray {
    const buffer = native.toBuffer(this.handle);
    switch (this.dtype) {
      case 'float32':
        return new Float32Array(buffer);
      case 'float64':
        return new Float64Array(buffer);
      case 'int64':
        return new BigInt64Array(buffer);
      case 'int32':
        return new Int32Array(buffer);
      case 'int16':
        return new Int16Array(buffer);
      case 'int8':
        return new Int8Array(buffer);
      case 'uint8':
      case 'bool':
        return new Uint8Array(buffer);
      case 'bfloat16':
      case 'float16':
        return new Uint16Array(buffer);
    }
  }

  /** The elements as JavaScript numbers in row-major order. */
  toArray(): number[] {
    const source = this.dtype === 'bfloat16' || this.dtype === 'float16' ? this.to('float32') : this;
    const data = source.toTypedArray();
    if (source !== this) source.dispose();
    return Array.from(data as ArrayLike<number | bigint>, Number);
  }

  /** The elements as nested arrays of numbers, like PyTorch's tolist(). */
  tolist(): unknown {
    const flat = this.toArray();
    const shape = this.shape;
    const build = (depth: number, offset: number): unknown => {
      if (depth === shape.length) return flat[offset];
      const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: shape[depth]! }, (_, i) => build(depth + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    if (this.isDisposed) return 'tensor(<disposed>)';
    const shape = this.shape;
    const total = shape.reduce((a, b) => a * b, 1);
    const suffix =
      `shape=[${shape.join(', ')}], dtype=${this.dtype}` +
      (this.device === 'cpu' ? '' : `, device=${this.device}`) +
      (this.requiresGrad ? ', requiresGrad=true' : '');
    if (total > 1000) return `tensor(<${total} elements>, ${suffix})`;
    const format = (value: unknown): string =>
      Array.isArray(value)
        ? `[${value.map(format).join(', ')}]`
        : Number.isInteger(value)
          ? String(value)
          : (value as number).toPrecision(6).replace(/\.?0+$/, '');
    return `tensor(${format(this.tolist())}, ${suffix})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // --- views and indexing -----------------------------------------------------------------------

  reshape(shape: readonly number[]): Tensor {
    return op('reshape', this, shape);
  }

  view(shape: readonly number[]): Tensor {
    return op('view', this, shape);
  }

  viewAs(other: Tensor): Tensor {
    return this.view(other.shape);
  }

  permute(dims: readonly number[]): Tensor {
    return op('permute', this, dims);
  }

  transpose(dim0: number, dim1: number): Tensor {
    return op('transpose.int', this, dim0, dim1);
  }

  /** The transpose of a matrix (a 0-d or 1-d tensor is returned as is). */
  t(): Tensor {
    return op('t', this);
  }

  flatten(startDim = 0, endDim = -1): Tensor {
    return op('flatten.using_ints', this, startDim, endDim);
  }

  unflatten(dim: number, sizes: readonly number[]): Tensor {
    return op('unflatten.int', this, dim, sizes);
  }

  squeeze(dim?: number): Tensor {
    return dim === undefined ? op('squeeze', this) : op('squeeze.dim', this, dim);
  }

  unsqueeze(dim: number): Tensor {
    return op('unsqueeze', this, dim);
  }

  expand(shape: readonly number[]): Tensor {
    return op('expand', this, shape);
  }

  expandAs(other: Tensor): Tensor {
    return op('expand_as', this, other);
  }

  repeat(repeats: readonly number[]): Tensor {
    return op('repeat', this, repeats);
  }

  narrow(dim: number, start: number, length: number): Tensor {
    return op('narrow', this, dim, start, length);
  }

  /** Elements start, start+step, ... below end along dim (a view); negative bounds count from the end. */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return op('slice.Tensor', this, dim, start ?? null, end ?? null, step);
  }

  /** The sub-tensor at `index` along dim, without that dim (x[i] is x.select(0, i)). */
  select(dim: number, index: number): Tensor {
    return op('select.int', this, dim, index);
  }

  indexSelect(dim: number, index: Tensor): Tensor {
    return op('index_select', this, dim, index);
  }

  /** Advanced indexing, x[i0, i1, ...] with integer or boolean tensors; null keeps a dim whole. */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return op('index.Tensor', this, indices);
  }

  /** x[indices] = values in place; with accumulate, repeated indices add up. */
  indexPut_(indices: readonly (Tensor | null)[], values: Tensor | number, accumulate = false): this {
    opInPlace('index_put_', this, indices, values, accumulate);
    return this;
  }

  gather(dim: number, index: Tensor): Tensor {
    return op('gather', this, dim, index);
  }

  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    return typeof src === 'number' ? op('scatter.value', this, dim, index, src) : op('scatter.src', this, dim, index, src);
  }

  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return op('scatter_add', this, dim, index, src);
  }

  maskedFill(mask: Tensor, value: Tensor | number): Tensor {
    return typeof value === 'number' ? op('masked_fill.Scalar', this, mask, value) : op('masked_fill.Tensor', this, mask, value);
  }

  maskedFill_(mask: Tensor, value: number): this {
    opInPlace('masked_fill_.Scalar', this, mask, value);
    return this;
  }

  /** Elements of this where condition holds, else of other. */
  where(condition: Tensor, other: Tensor | number): Tensor {
    return op('where.self', condition, this, other);
  }

  chunk(chunks: number, dim = 0): Tensor[] {
    return ops('chunk', this, chunks, dim);
  }

  /** Pieces of splitSize along dim (the last may be smaller), or pieces of the given sizes. */
  split(splitSize: number | readonly number[], dim = 0): Tensor[] {
    return typeof splitSize === 'number' ? ops('split.Tensor', this, splitSize, dim) : ops('split.sizes', this, splitSize, dim);
  }

  flip(dims: Dims): Tensor {
    return op('flip', this, dimList(dims));
  }

  roll(shifts: Dims, dims: Dims): Tensor {
    return op('roll', this, dimList(shifts), dimList(dims));
  }

  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return op('diagonal', this, offset, dim1, dim2);
  }

  tril(diagonal = 0): Tensor {
    return op('tril', this, diagonal);
  }

  triu(diagonal = 0): Tensor {
    return op('triu', this, diagonal);
  }

  // --- arithmetic (broadcasting; a number acts as a Python scalar) ------------------------------

  add(other: Tensor | number, alpha: number = 1): Tensor {
    return op('add.Tensor', this, other, alpha);
  }

  sub(other: Tensor | number, alpha: number = 1): Tensor {
    return op('sub.Tensor', this, other, alpha);
  }

  mul(other: Tensor | number): Tensor {
    return op('mul.Tensor', this, other);
  }

  /** Division; roundingMode 'trunc' or 'floor' for integer-style division. */
  div(other: Tensor | number, roundingMode?: 'trunc' | 'floor'): Tensor {
    return roundingMode === undefined ? op('div.Tensor', this, other) : op('div.Tensor_mode', this, other, roundingMode);
  }

  remainder(other: Tensor | number): Tensor {
    return op('remainder.Tensor', this, other);
  }

  neg(): Tensor {
    return op('neg', this);
  }

  reciprocal(): Tensor {
    return op('reciprocal', this);
  }

  pow(exponent: Tensor | number): Tensor {
    return typeof exponent === 'number' ? op('pow.Tensor_Scalar', this, exponent) : op('pow.Tensor_Tensor', this, exponent);
  }

  square(): Tensor {
    return op('square', this);
  }

  sqrt(): Tensor {
    return op('sqrt', this);
  }

  rsqrt(): Tensor {
    return op('rsqrt', this);
  }

  exp(): Tensor {
    return op('exp', this);
  }

  log(): Tensor {
    return op('log', this);
  }

  log1p(): Tensor {
    return op('log1p', this);
  }

  abs(): Tensor {
    return op('abs', this);
  }

  sign(): Tensor {
    return op('sign', this);
  }

  floor(): Tensor {
    return op('floor', this);
  }

  ceil(): Tensor {
    return op('ceil', this);
  }

  round(): Tensor {
    return op('round', this);
  }

  sin(): Tensor {
    return op('sin', this);
  }

  cos(): Tensor {
    return op('cos', this);
  }

  tanh(): Tensor {
    return op('tanh', this);
  }

  sigmoid(): Tensor {
    return op('sigmoid', this);
  }

  relu(): Tensor {
    return op('relu', this);
  }

  /** Limits every element to [min, max]; either bound may be omitted (null). */
  clamp(min: Tensor | number | null = null, max: Tensor | number | null = null): Tensor {
    const tensorBounds = min instanceof Tensor || max instanceof Tensor;
    return tensorBounds ? op('clamp.Tensor', this, min, max) : op('clamp', this, min, max);
  }

  maximum(other: Tensor | number): Tensor {
    return op('maximum', this, other);
  }

  minimum(other: Tensor | number): Tensor {
    return op('minimum', this, other);
  }

  // --- comparisons and logic ----------------------------------------------------------------------

  eq(other: Tensor | number): Tensor {
    return op('eq.Tensor', this, other);
  }

  ne(other: Tensor | number): Tensor {
    return op('ne.Tensor', this, other);
  }

  lt(other: Tensor | number): Tensor {
    return op('lt.Tensor', this, other);
  }

  le(other: Tensor | number): Tensor {
    return op('le.Tensor', this, other);
  }

  gt(other: Tensor | number): Tensor {
    return op('gt.Tensor', this, other);
  }

  ge(other: Tensor | number): Tensor {
    return op('ge.Tensor', this, other);
  }

  logicalAnd(other: Tensor): Tensor {
    return op('logical_and', this, other);
  }

  logicalOr(other: Tensor): Tensor {
    return op('logical_or', this, other);
  }

  logicalXor(other: Tensor): Tensor {
    return op('logical_xor', this, other);
  }

  logicalNot(): Tensor {
    return op('logical_not', this);
  }

  isnan(): Tensor {
    return op('isnan', this);
  }

  isfinite(): Tensor {
    return op('isfinite', this);
  }

  /** True when every element is non-zero (or along dim). */
  all(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? op('all', this) : op('all.dim', this, dim, keepdim);
  }

  any(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? op('any', this) : op('any.dim', this, dim, keepdim);
  }

  /** Same shape and elements. */
  equal(other: Tensor): boolean {
    return Boolean(callOp('equal', this, other));
  }

  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return Boolean(callOp('allclose', this, other, rtol, atol, false));
  }

  // --- reductions -----------------------------------------------------------------------------------

  sum(options: ReduceOptions & { dtype?: Dtype } = {}): Tensor {
    return op('sum.dim_IntList', this, dimList(options.dim) ?? null, options.keepdim ?? false, options.dtype);
  }

  mean(options: ReduceOptions = {}): Tensor {
    return op('mean.dim', this, dimList(options.dim) ?? null, options.keepdim ?? false);
  }

  prod(options: { dim?: number; keepdim?: boolean } = {}): Tensor {
    return options.dim === undefined ? op('prod', this) : op('prod.dim_int', this, options.dim, options.keepdim ?? false);
  }

  var(options: VarianceOptions = {}): Tensor {
    return op('var.correction', this, dimList(options.dim) ?? null, options.correction ?? 1, options.keepdim ?? false);
  }

  std(options: VarianceOptions = {}): Tensor {
    return op('std.correction', this, dimList(options.dim) ?? null, options.correction ?? 1, options.keepdim ?? false);
  }

  /** The largest element, or { values, indices } along dim. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return op('max', this);
    const [values, indices] = ops('max.dim', this, dim, keepdim);
    return { values: values!, indices: indices! };
  }

  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return op('min', this);
    const [values, indices] = ops('min.dim', this, dim, keepdim);
    return { values: values!, indices: indices! };
  }

  argmax(dim?: number, keepdim = false): Tensor {
    return op('argmax', this, dim ?? null, keepdim);
  }

  argmin(dim?: number, keepdim = false): Tensor {
    return op('argmin', this, dim ?? null, keepdim);
  }

  topk(k: number, options: { dim?: number; largest?: boolean; sorted?: boolean } = {}): ValuesIndices {
    const [values, indices] = ops('topk', this, k, options.dim ?? -1, options.largest ?? true, options.sorted ?? true);
    return { values: values!, indices: indices! };
  }

  sort(options: { dim?: number; descending?: boolean; stable?: boolean } = {}): ValuesIndices {
    const [values, indices] = ops('sort.stable', this, options.stable ?? false, options.dim ?? -1, options.descending ?? false);
    return { values: values!, indices: indices! };
  }

  argsort(options: { dim?: number; descending?: boolean; stable?: boolean } = {}): Tensor {
    const { values, indices } = this.sort(options);
    values.dispose();
    return indices;
  }

  logsumexp(dim: Dims, keepdim = false): Tensor {
    return op('logsumexp', this, dimList(dim), keepdim);
  }

  cumsum(dim: number, dtype?: Dtype): Tensor {
    return op('cumsum', this, dim, dtype);
  }

  /** The vector p-norm over all elements or over dim (p = 2 by default; Infinity for the max norm). */
  norm(p = 2, options: ReduceOptions = {}): Tensor {
    return op('linalg_vector_norm', this, p, dimList(options.dim) ?? null, options.keepdim ?? false);
  }

  // --- products ------------------------------------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return op('matmul', this, other);
  }

  mm(other: Tensor): Tensor {
    return op('mm', this, other);
  }

  bmm(other: Tensor): Tensor {
    return op('bmm', this, other);
  }

  outer(other: Tensor): Tensor {
    return op('outer', this, other);
  }

  dot(other: Tensor): Tensor {
    return op('dot', this, other);
  }

  // --- in place (what optimizers and running statistics need) ---------------------------------

  add_(other: Tensor | number, alpha: number = 1): this {
    opInPlace('add_.Tensor', this, other, alpha);
    return this;
  }

  sub_(other: Tensor | number, alpha: number = 1): this {
    opInPlace('sub_.Tensor', this, other, alpha);
    return this;
  }

  mul_(other: Tensor | number): this {
    opInPlace('mul_.Tensor', this, other);
    return this;
  }

  div_(other: Tensor | number): this {
    opInPlace('div_.Tensor', this, other);
    return this;
  }

  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value: number = 1): this {
    opInPlace('addcmul_', this, t1, t2, value);
    return this;
  }

  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value: number = 1): this {
    opInPlace('addcdiv_', this, t1, t2, value);
    return this;
  }

  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    opInPlace('lerp_.Scalar', this, end, weight);
    return this;
  }

  copy_(source: Tensor): this {
    opInPlace('copy_', this, source, false);
    return this;
  }

  zero_(): this {
    opInPlace('zero_', this);
    return this;
  }

  fill_(value: number | Tensor): this {
    if (typeof value === 'number') opInPlace('fill_.Scalar', this, value);
    else opInPlace('fill_.Tensor', this, value);
    return this;
  }

  clamp_(min: number | null = null, max: number | null = null): this {
    opInPlace('clamp_', this, min, max);
    return this;
  }

  uniform_(from = 0, to = 1): this {
    opInPlace('uniform_', this, from, to);
    return this;
  }

  normal_(mean = 0, std = 1): this {
    opInPlace('normal_', this, mean, std);
    return this;
  }
}

/** A clean error for CUDA on a libtorch without it, instead of libtorch's dispatcher dump. */
export function assertDeviceAvailable(device: Device): void {
  if (device.startsWith('cuda') && !native.cudaIsAvailable()) {
    throw new Error(`device '${device}' is unavailable: this libtorch has no CUDA (or sees no GPU); use 'cpu'`);
  }
}
