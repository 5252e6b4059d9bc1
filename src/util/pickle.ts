// A safe unpickler for protocol-2 pickles (Python 2's cPickle, Python 3's protocol 2, torch.save's data.pkl).
// Nothing is ever executed: a pickle's GLOBAL is looked up in the caller's allow-list (as torch.load's
// weights_only mode does), and any other global is an error that names it. The callers give
// meaning to what their files name: CIFAR's numpy arrays (data/pickle.ts), torch's tensors (torch/pth.ts).

/** A global the pickle named and the reader allows ('module.name'); calling it (REDUCE) runs `call`, if it has one. */
export class PickleGlobal {
  constructor(
    readonly name: string,
    readonly call: ((args: unknown[]) => unknown) | null,
  ) {}
}

export interface UnpickleOptions {
  /**
   * The allowed globals, by 'module.name': what calling each makes of its arguments, or null for one that is only
   * passed as a value (numpy.ndarray, torch.FloatStorage). The functions throw plain Errors; the reader adds the
   * file and the position.
   */
  globals: Readonly<Record<string, ((args: unknown[]) => unknown) | null>>;
  /** BUILD: sets `state` on `target` (an object a global made); absent: BUILD is an error. */
  build?: (target: unknown, state: unknown) => void;
  /** BINPERSID: the object a persistent id stands for (torch's storages); absent: persistent ids are an error. */
  persistentLoad?: (id: unknown) => unknown;
  /** What the pickles of this kind may name, for the error that refuses another global ('numpy arrays, ...'). */
  allowedWhat: string;
}

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

/** The little-endian two's-complement integer of LONG1's bytes: a number where it is exact, else a bigint. */
function littleEndianInteger(bytes: Uint8Array): number | bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes.length > 0 && bytes[bytes.length - 1]! >= 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/**
 * Reads one pickle. Dicts become Maps (byte-string keys as latin-1 strings), lists and tuples arrays, byte
 * strings Uint8Arrays (views into `bytes`), floats and ints numbers (ints beyond 2^53 bigints); globals make what
 * options.globals says. Errors name `file`, the problem and the byte.
 */
export function unpickle(bytes: Uint8Array, file: string, options: UnpickleOptions): unknown {
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
  /** The number of `size` bytes at the position, which moves past it. */
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
    for (let i = 0; i < pairs.length; i += 2) dict.set(pickledText(pairs[i]) ?? pairs[i], pairs[i + 1]);
  };
  /** Runs a caller's function; its errors get the file and the position. */
  const guarded = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      throw fail((error as Error).message);
    }
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PickleGlobal) || !Array.isArray(args)) throw fail('REDUCE of something that is not an allowed global');
    const run = callable.call;
    if (run === null) throw fail(`cannot call ${callable.name}`);
    return guarded(() => run(args));
  };

  for (;;) {
    const opcode = uint8();
    switch (opcode) {
      case 0x80: {
        // PROTO
        const protocol = uint8();
        if (protocol > 2)
          throw fail(`pickle protocol ${protocol} (this reader knows protocols up to 2, which torch.save and the CIFAR files use)`);
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
      case 0x8a:
        stack.push(littleEndianInteger(take(uint8())));
        break; // LONG1
      case 0x47:
        stack.push(number(8, (offset) => view.getFloat64(offset, false)));
        break; // BINFLOAT (big-endian)
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
        if (!Object.hasOwn(options.globals, name)) throw fail(`refers to ${name} (only ${options.allowedWhat} are read)`);
        stack.push(new PickleGlobal(name, options.globals[name]!));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x51: {
        // BINPERSID
        const load = options.persistentLoad;
        if (load === undefined) throw fail('persistent id in a pickle that should have none');
        const id = pop();
        stack.push(guarded(() => load(id)));
        break;
      }
      case 0x62: {
        // BUILD
        const build = options.build;
        if (build === undefined) throw fail('BUILD in a pickle that should have none');
        const state = pop();
        const target = top();
        guarded(() => build(target, state));
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
