// Where scatter's native addons sit: native/build/Release at the package root (src/util at run time is
// dist/src/util).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function nativeAddonFile(name: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', '..', 'native', 'build', 'Release', `${name}.node`);
}
