// Element types and devices, named as in PyTorch.
export const DTYPES = ['float32', 'float64', 'bfloat16', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'] as const;
export type Dtype = (typeof DTYPES)[number];

/** 'cpu', 'cuda' or 'cuda:N'. */
export type Device = string;

export const FLOATING_DTYPES: ReadonlySet<Dtype> = new Set<Dtype>(['float32', 'float64', 'bfloat16', 'float16']);

export function isDtypeName(name: string): name is Dtype {
  return (DTYPES as readonly string[]).includes(name);
}

export function isFloating(dtype: Dtype): boolean {
  return FLOATING_DTYPES.has(dtype);
}

export function bytesPerElement(dtype: Dtype): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'bfloat16':
    case 'float16':
    case 'int16':
      return 2;
    case 'int8':
    case 'uint8':
    case 'bool':
      return 1;
  }
}

export type TypedArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | BigInt64Array;

/** The dtype a typed array holds by default (Uint16Array is ambiguous and needs an explicit dtype). */
export function dtypeOfTypedArray(data: TypedArray): Dtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof BigInt64Array) return 'int64';
  throw new TypeError('a Uint16Array holds bfloat16 or float16 bits: pass { dtype } explicitly');
}
