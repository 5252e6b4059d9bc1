// Memory: tensors hold native memory that V8 cannot see the size of, so scatter frees it on purpose.
// - tensor.dispose() frees one tensor now;
// - scope(fn) frees every tensor created while fn runs, except those it returns or keep()s;
// - a FinalizationRegistry frees what JavaScript drops without disposing outside scopes (a safety net,
//   not a plan: it runs only when the collector finds the tensor and the event loop turns).
import { type Handle, native } from './native.js';

/** What a scope needs of a tensor (the Tensor class implements it). */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Called when the tensor leaves every scope: from then on the collector may be what frees it. */
  markGcManaged(): void;
  /** Marks the tensor disposed and hands over its native handle for the caller to free; null if it was already. */
  releaseHandle(): Handle | null;
}

// Each open scope's tensors, in creation order. Arrays, not Sets: every tensor joins one, and a Set
// must first give each new object an identity hash.
const scopes: Disposable[][] = [];

// The addon reports to V8 only the memory of tensors outside scopes (see native/src/handles.cc).
function openScope(): Disposable[] {
  const created: Disposable[] = [];
  scopes.push(created);
  native.setScopeDepth(scopes.length);
  return created;
}

function closeScope(): void {
  scopes.pop();
  native.setScopeDepth(scopes.length);
}

/** A tensor that outlives the scope it was made in joins the enclosing one, or the collector's care. */
function escapeToEnclosing(tensor: Disposable): void {
  if (scopes.length > 0) trackInScope(tensor);
  else tensor.markGcManaged();
}

/** Called by every new Tensor: the innermost open scope will dispose it unless it escapes. */
export function trackInScope(tensor: Disposable): boolean {
  const innermost = scopes[scopes.length - 1];
  innermost?.push(tensor);
  return innermost !== undefined;
}

/** Takes a tensor out of every open scope, so that it outlives them. */
export function keep<T extends Disposable>(tensor: T): T {
  // Searched from the end: what is kept was usually made last.
  for (const open of scopes) {
    let at = open.lastIndexOf(tensor);
    while (at >= 0) {
      open.splice(at, 1);
      at = at > 0 ? open.lastIndexOf(tensor, at - 1) : -1;
    }
  }
  tensor.markGcManaged();
  return tensor;
}

// Handles per native dispose call: arguments travel on the stack.
const DISPOSE_CHUNK = 1024;

/**
 * Disposes a scope's tensors, except those in `returned`, which move to the enclosing scope. The handles are
 * freed together, a chunk per native call: one crossing per tensor cost about as much as the operator call's
 * own conversions.
 */
function disposeScope(created: readonly Disposable[], returned: ReadonlySet<Disposable>): void {
  const handles: Handle[] = [];
  for (const tensor of created) {
    if (returned.size > 0 && returned.has(tensor)) {
      escapeToEnclosing(tensor);
      continue;
    }
    const handle = tensor.releaseHandle();
    if (handle === null) continue;
    handles.push(handle);
    if (handles.length === DISPOSE_CHUNK) {
      native.dispose(...handles);
      handles.length = 0;
    }
  }
  if (handles.length > 0) native.dispose(...handles);
}

function collectReturned(value: unknown, found: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('dispose' in value && 'isDisposed' in value) {
    found.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectReturned(item, found, seen);
  } else if (value instanceof Map) {
    for (const item of value.values()) collectReturned(item, found, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collectReturned(item, found, seen);
  }
}

const noTensors: ReadonlySet<Disposable> = new Set();

/**
 * Runs fn and disposes every tensor created during it, except the tensors found in its result (directly,
 * or inside arrays, Maps and plain objects), which move to the enclosing scope. Synchronous functions only:
 * an async function's tensors would be created after the scope closed.
 */
export function scope<T>(fn: () => T): T {
  const created = openScope();
  let result: T;
  try {
    result = fn();
  } catch (error) {
    closeScope();
    disposeScope(created, noTensors);
    throw error;
  }
  closeScope();
  if (result instanceof Promise) {
    disposeScope(created, noTensors);
    throw new TypeError('scope(fn): fn returned a Promise; scopes are for synchronous code');
  }
  const returned = new Set<Disposable>();
  collectReturned(result, returned, new Set());
  disposeScope(created, returned);
  return result;
}

/** Live tensor handles and the bytes of the distinct storages they hold (CPU and CUDA). */
export function memory(): { liveTensors: number; liveBytes: number } {
  return native.memory();
}
