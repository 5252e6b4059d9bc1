// A minimal, safe unpickler for the CIFAR "python version" files: protocol-2 pickles of a dict with
// numpy uint8 arrays (numpy's _reconstruct + dtype + raw bytes), lists of ints and strings. Written
// by Python 2's cPickle (the official files: byte strings are BINSTRING) or Python 3 with protocol 2
// (byte strings become _codecs.encode(text, 'latin1') calls). Nothing is ever executed: the only
// globals understood are the four that such files name, and any other is an error.

/** A numpy array as pickled: shape, dtype name ('u1', ...) and its raw C-order bytes. */
export class NdArray {
  shape: number[] = [];
  dtype = '';
  data: Uint8Array = new Uint8Array(0);
}

class NumpyDtype {
  constructor(readonly name: string) {}
}

class PickleGlobal {
  constructor(readonly name: string) {}
}

const KNOWN_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
]);

const MARK = Symbol('MARK');

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A Python 2 str or Python 3 str/bytes value as a JavaScript string (byte strings read as latin-1). */
export function pickledText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return latin1(value);
  return undefined;
}

/**
 * Reads one pickle. Dicts become Maps with string keys, lists and tuples arrays, byte strings
 * Uint8Arrays (views into `bytes`), numpy arrays NdArrays. Errors name `file` and the problem.
 */
export function unpickle(bytes: Uint8Array, file: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let position = 0;

  const fail = (problem: string): Error => new Error(`${file}: unreadable pickle: ${problem} at byte ${position}`);
  const need = (count: number): void => {
    if (position + count > bytes.length) throw fail(`truncated (needs ${count} more bytes, the file has ${bytes.length - position})`);
  };
  const take = (count: number): Uint8Array => {
    need(count);
    position += count;
    return bytes.subarray(position - count, position);
  };
  const uint8 = (): number => take(1)[0]!;
  /** The little-endian number of `size` bytes at the position, which moves past it. */
  const number = (size: number, read: (offset: number) => number): number => {
    need(size);
    position += size;
    return read(position - size);
  };
  const uint16 = (): number => number(2, (offset) => view.getUint16(offset, true));
  const int32 = (): number => number(4, (offset) => view.getInt32(offset, true));
  const uint32 = (): number => number(4, (offset) => view.getUint32(offset, true));
  const line = (): string => {
    const end = bytes.indexOf(0x0a, position);
    if (end < 0) throw fail('unterminated GLOBAL name');
    const text = latin1(bytes.subarray(position, end));
    position = end + 1;
    return text;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popToMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw fail('no MARK on the stack');
    return stack.splice(at).slice(1);
  };
  const topList = (): unknown[] => {
    const list = top();
    if (!Array.isArray(list)) throw fail('APPEND to something that is not a list');
    return list;
  };
  const setItems = (pairs: unknown[]): void => {
    const dict = top();
    if (!(dict instanceof Map)) throw fail('SETITEM on something that is not a dict');
    for (let i = 0; i < pairs.length; i += 2) {
      const key = pickledText(pairs[i]) ?? pairs[i];
      dict.set(key, pairs[i + 1]);
    }
  };

  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PickleGlobal) || !Array.isArray(args)) throw fail('REDUCE of something that is not a known global');
    switch (callable.name) {
      case 'numpy.core.multiarray._reconstruct':
      case 'numpy._core.multiarray._reconstruct': // an empty array that BUILD fills in
        if (args[0] instanceof PickleGlobal && args[0].name === 'numpy.ndarray') return new NdArray();
        break;
      case 'numpy.dtype': {
        const name = pickledText(args[0]);
        if (name === undefined) throw fail('numpy.dtype without a type name');
        return new NumpyDtype(name);
      }
      case '_codecs.encode': {
        const [text, encoding] = args;
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1'))
          throw fail('_codecs.encode other than of latin-1 text');
        for (let i = 0; i < text.length; i++) {
          if (text.charCodeAt(i) > 255) throw fail('latin-1 text outside 0..255');
        }
        const encoded = Buffer.from(text, 'latin1');
        return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length);
      }
    }
    throw fail(`cannot call ${callable.name}`);
  };

  const build = (target: unknown, state: unknown): void => {
    if (target instanceof NumpyDtype) return; // state: byte order and flags; 'u1' and friends need none
    if (!(target instanceof NdArray) || !Array.isArray(state) || state.length !== 5)
      throw fail('BUILD of something that is not a numpy array');
    const [, shape, dtype, fortranOrder, data] = state;
    if (!(dtype instanceof NumpyDtype)) throw fail('numpy array without a dtype');
    if (fortranOrder !== false) throw fail('Fortran-ordered numpy array');
    if (!(data instanceof Uint8Array)) throw fail('numpy array of Python objects');
    if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size))) throw fail('numpy array without a shape');
    target.shape = shape as number[];
    target.dtype = dtype.name;
    target.data = data;
  };

  for (;;) {
    const opcode = uint8();
    switch (opcode) {
      case 0x80: {
        // PROTO
        const protocol = uint8();
        if (protocol > 2) throw fail(`pickle protocol ${protocol} (this reader knows protocol 2, the format of the official files)`);
        break;
      }
      case 0x2e: // STOP
        return pop();
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d: // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x71:
        memo.set(uint8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(uint32(), top());
        break; // LONG_BINPUT
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = opcode === 0x68 ? uint8() : uint32();
        if (!memo.has(key)) throw fail(`memo ${key} was never stored`);
        stack.push(memo.get(key));
        break;
      }
      case 0x55:
        stack.push(take(uint8()));
        break; // SHORT_BINSTRING
      case 0x54: {
        // BINSTRING
        const length = int32();
        if (length < 0) throw fail('negative string length');
        stack.push(take(length));
        break;
      }
      case 0x58:
        stack.push(Buffer.from(take(uint32())).toString('utf8'));
        break; // BINUNICODE
      case 0x4a:
        stack.push(int32());
        break; // BININT
      case 0x4b:
        stack.push(uint8());
        break; // BININT1
      case 0x4d:
        stack.push(uint16());
        break; // BININT2
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const items = Array.from({ length: opcode - 0x84 }, pop).reverse();
        stack.push(items);
        break;
      }
      case 0x74:
        stack.push(popToMark());
        break; // TUPLE
      case 0x63: {
        // GLOBAL
        const name = `${line()}.${line()}`;
        if (!KNOWN_GLOBALS.has(name)) throw fail(`refers to ${name} (only numpy arrays, lists, dicts and strings are read)`);
        stack.push(new PickleGlobal(name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        topList().push(item);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popToMark();
        const list = topList();
        for (const item of items) list.push(item);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems([key, value]);
        break;
      }
      case 0x75:
        setItems(popToMark());
        break; // SETITEMS
      default:
        position--;
        throw fail(`unsupported opcode 0x${opcode.toString(16).padStart(2, '0')}`);
    }
  }
}
