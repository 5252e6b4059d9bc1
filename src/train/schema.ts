// A small declarative schema for YAML configs: it fills defaults, rejects unknown keys and wrong types
// with messages that name the key and what it allows, and gives the config's TypeScript type by inference.

interface FieldBase {
  doc: string;
}

export interface NumberField extends FieldBase {
  kind: 'number';
  integer?: boolean;
  min?: number;
  max?: number;
  default: number | null;
}

export interface StringField extends FieldBase {
  kind: 'string';
  default: string | null;
}

export interface EnumField<V extends string = string> extends FieldBase {
  kind: 'enum';
  values: readonly V[];
  default: V | null;
}

export interface BooleanField extends FieldBase {
  kind: 'boolean';
  default: boolean;
}

export interface NumberListField extends FieldBase {
  kind: 'numberList';
  default: number[];
}

/** A list whose items a function checks and puts in a canonical form (it throws an Error saying what is wrong). */
export interface ListField<T = unknown> extends FieldBase {
  kind: 'list';
  /** What the items are, for messages and --help. */
  items: string;
  default: null;
  /** The items checked; `where` names the key for the error message. */
  parse: (value: unknown, where: string) => T[];
}

export interface SectionField<F extends Fields = Fields> extends FieldBase {
  kind: 'section';
  fields: F;
}

export type Field = NumberField | StringField | EnumField | BooleanField | NumberListField | ListField | SectionField;
export type Fields = { readonly [key: string]: Field };

/** The value type a field validates to (null where a field has no default and was not given). */
export type Infer<F> =
  F extends SectionField<infer Inner>
    ? { [K in keyof Inner]: Infer<Inner[K]> }
    : F extends EnumField<infer V>
      ? F['default'] extends null
        ? V | null
        : V
      : F extends NumberField
        ? F['default'] extends null
          ? number | null
          : number
        : F extends StringField
          ? F['default'] extends null
            ? string | null
            : string
          : F extends BooleanField
            ? boolean
            : F extends NumberListField
              ? number[]
              : F extends ListField<infer T>
                ? T[] | null
                : never;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function describe(field: Field): string {
  switch (field.kind) {
    case 'number': {
      const range = [field.min !== undefined ? `>= ${field.min}` : '', field.max !== undefined ? `<= ${field.max}` : '']
        .filter(Boolean)
        .join(' and ');
      return `${field.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}${field.default === null ? ' or null' : ''}`;
    }
    case 'string':
      return `a string${field.default === null ? ' or null' : ''}`;
    case 'enum':
      return `one of ${field.values.join(', ')}${field.default === null ? ' (or null)' : ''}`;
    case 'boolean':
      return 'true or false';
    case 'numberList':
      return 'a list of numbers';
    case 'list':
      return `a list of ${field.items} or null`;
    case 'section':
      return `a mapping with keys ${Object.keys(field.fields).join(', ')}`;
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  // JSON has no NaN or infinity (it would print them as null): YAML's .nan and .inf are named as what they are.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return (
    JSON.stringify(value, (_, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? String(item) : item)) ?? String(value)
  );
}

function validateField(field: Field, value: unknown, key: string): unknown {
  const wrong = (): never => {
    throw new ConfigError(`config key '${key}': expected ${describe(field)}, got ${show(value)}`);
  };
  if (field.kind === 'section') return validateSection(field.fields, value, key);
  if (field.kind === 'list') {
    if (value === undefined || value === null) return null;
    try {
      return field.parse(value, `config key '${key}'`);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  }
  if (value === undefined) return field.kind === 'numberList' ? [...field.default] : field.default;
  if (value === null) return 'default' in field && field.default === null ? null : wrong();
  switch (field.kind) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrong();
      if (field.integer && !Number.isInteger(value)) return wrong();
      if ((field.min !== undefined && value < field.min) || (field.max !== undefined && value > field.max)) return wrong();
      return value;
    case 'string':
      return typeof value === 'string' ? value : wrong();
    case 'enum':
      return typeof value === 'string' && field.values.includes(value) ? value : wrong();
    case 'boolean':
      return typeof value === 'boolean' ? value : wrong();
    case 'numberList':
      return Array.isArray(value) && value.every((item) => typeof item === 'number' && Number.isFinite(item)) ? value : wrong();
  }
}

function validateSection(fields: Fields, value: unknown, key: string): Record<string, unknown> {
  const where = key === '' ? 'the config' : `config key '${key}'`;
  const source = value ?? {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw new ConfigError(`${where}: expected a mapping with keys ${Object.keys(fields).join(', ')}, got ${show(value)}`);
  }
  for (const name of Object.keys(source)) {
    if (!(name in fields)) {
      const path = key === '' ? name : `${key}.${name}`;
      throw new ConfigError(`unknown config key '${path}' (allowed here: ${Object.keys(fields).join(', ')})`);
    }
  }
  const result: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    result[name] = validateField(field, (source as Record<string, unknown>)[name], key === '' ? name : `${key}.${name}`);
  }
  return result;
}

/** Validates a parsed YAML document against a schema, filling defaults. */
export function validate<F extends Fields>(fields: F, document: unknown): Infer<SectionField<F>> {
  return validateSection(fields, document, '') as Infer<SectionField<F>>;
}

/** Sets `dotted.key` in a parsed document to `value`, creating sections on the way; checks the key exists. */
export function setKey(fields: Fields, document: Record<string, unknown>, dottedKey: string, value: unknown): void {
  const parts = dottedKey.split('.');
  let section: Fields = fields;
  let target = document;
  parts.forEach((part, index) => {
    const field = section[part];
    const path = parts.slice(0, index + 1).join('.');
    if (field === undefined) {
      throw new ConfigError(`unknown config key '${path}' (allowed here: ${Object.keys(section).join(', ')})`);
    }
    if (index === parts.length - 1) {
      target[part] = value;
      return;
    }
    if (field.kind !== 'section') throw new ConfigError(`config key '${path}' is not a section: '${dottedKey}' cannot be set`);
    const next = target[part];
    if (next === undefined || next === null) target[part] = {};
    else if (typeof next !== 'object' || Array.isArray(next)) throw new ConfigError(`config key '${path}': expected a mapping`);
    target = target[part] as Record<string, unknown>;
    section = field.fields;
  });
}

/** One line per key with its meaning and default, for `--help`. */
export function documentation(fields: Fields, prefix = ''): string[] {
  return Object.entries(fields).flatMap(([name, field]) => {
    const key = `${prefix}${name}`;
    if (field.kind === 'section') return [`${key}: ${field.doc}`, ...documentation(field.fields, `${key}.`)];
    return [`  ${key} (${describe(field)}; default ${show(field.default)}): ${field.doc}`];
  });
}
