// Plain objects as flat maps: how configs and recipes are compared key by key.

/** Dotted key -> JSON value of every leaf of a nested object (lists are leaves). */
export function leaves(value: unknown, prefix = '', found = new Map<string, string>()): Map<string, string> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) leaves(inner, prefix === '' ? key : `${prefix}.${key}`, found);
  } else {
    found.set(prefix, JSON.stringify(value));
  }
  return found;
}
