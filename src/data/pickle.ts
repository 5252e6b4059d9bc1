// The CIFAR "python version" files: protocol-2 pickles of a dict with numpy uint8 arrays (numpy's _reconstruct +
// dtype + raw bytes), lists of ints and strings. Written by Python 2's cPickle (the official files: byte strings
// are BINSTRING) or Python 3 with protocol 2 (byte strings become _codecs.encode(text, 'latin1') calls). Read by
// the safe unpickler (util/pickle.ts): the only globals understood are the five such files name.
import { PickleGlobal, pickledText, unpickle as unpickleSafely } from '../util/pickle.js';

export { pickledText };

/** A numpy array as pickled: shape, dtype name ('u1', ...) and its raw C-order bytes. */
export class NdArray {
  shape: number[] = [];
  dtype = '';
  data: Uint8Array = new Uint8Array(0);
}

class NumpyDtype {
  constructor(readonly name: string) {}
}

/** numpy's _reconstruct(ndarray, ...): an empty array that BUILD fills in. */
function reconstruct(args: unknown[]): NdArray {
  if (!(args[0] instanceof PickleGlobal && args[0].name === 'numpy.ndarray')) throw new Error('_reconstruct of something but an ndarray');
  return new NdArray();
}

const NUMPY_GLOBALS = {
  'numpy.core.multiarray._reconstruct': reconstruct,
  'numpy._core.multiarray._reconstruct': reconstruct,
  'numpy.ndarray': null,
  'numpy.dtype': (args: unknown[]): NumpyDtype => {
    const name = pickledText(args[0]);
    if (name === undefined) throw new Error('numpy.dtype without a type name');
    return new NumpyDtype(name);
  },
  '_codecs.encode': (args: unknown[]): Uint8Array => {
    const [text, encoding] = args;
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1'))
      throw new Error('_codecs.encode other than of latin-1 text');
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 255) throw new Error('latin-1 text outside 0..255');
    }
    const encoded = Buffer.from(text, 'latin1');
    return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length);
  },
};

function build(target: unknown, state: unknown): void {
  if (target instanceof NumpyDtype) return; // state: byte order and flags; 'u1' and friends need none
  if (!(target instanceof NdArray) || !Array.isArray(state) || state.length !== 5)
    throw new Error('BUILD of something that is not a numpy array');
  const [, shape, dtype, fortranOrder, data] = state;
  if (!(dtype instanceof NumpyDtype)) throw new Error('numpy array without a dtype');
  if (fortranOrder !== false) throw new Error('Fortran-ordered numpy array');
  if (!(data instanceof Uint8Array)) throw new Error('numpy array of Python objects');
  if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size))) throw new Error('numpy array without a shape');
  target.shape = shape as number[];
  target.dtype = dtype.name;
  target.data = data;
}

/**
 * Reads one CIFAR pickle. Dicts become Maps with string keys, lists and tuples arrays, byte strings
 * Uint8Arrays (views into `bytes`), numpy arrays NdArrays. Errors name `file` and the problem.
 */
export function unpickle(bytes: Uint8Array, file: string): unknown {
  return unpickleSafely(bytes, file, { globals: NUMPY_GLOBALS, build, allowedWhat: 'numpy arrays, lists, dicts and strings' });
}
