/**
 * Field paths as they appear in errors: proto field names joined by `.`,
 * list indexes as `[0]` and map keys as `["key"]`, e.g.
 * `static_resources.clusters[0].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`.
 * The content of an `Any` continues the path of the Any field itself
 * (`...filters[0].typed_config.stat_prefix`), as in its JSON form.
 */

export type PathSegment = string | number | { readonly key: string };

/** Appends a field name. */
export function fieldChild(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** Appends a list index. */
export function indexChild(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** Appends a map key. */
export function mapKeyChild(path: string, key: string): string {
  return `${path}[${JSON.stringify(key)}]`;
}

/**
 * Splits a path made by the helpers above into segments: field names as
 * strings, list indexes as numbers, map keys as `{key}`.
 */
export function parseFieldPath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      if (path[i + 1] === '"') {
        // A JSON string: find its closing quote, honouring escapes.
        let j = i + 2;
        while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
        out.push({ key: JSON.parse(path.slice(i + 1, j + 1)) as string });
        i = j + 2; // skip `"]`
      } else {
        const j = path.indexOf(']', i);
        out.push(Number(path.slice(i + 1, j)));
        i = j + 1;
      }
      continue;
    }
    let j = i;
    while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
    out.push(path.slice(i, j));
    i = j;
  }
  return out;
}
