/**
 * A lookup index over a virtual host's routes that keeps Envoy's semantics
 * (routes in order, first match wins) but avoids testing every route.
 *
 * Consecutive routes whose path specifier is a case-sensitive `prefix`,
 * `path` or `path_separated_prefix` form a run. Each such route can only match
 * a path that starts with its configured string, so a run is indexed by a
 * character trie of those strings: walking the request path down the trie
 * yields exactly the routes of the run whose string is a prefix of the path
 * (usually one or two), and only those are fully tested (headers, query,
 * runtime_fraction...). The lowest-numbered full match wins. Other routes
 * (safe_regex, case-insensitive, connect) are tested one by one, in order,
 * between the runs.
 *
 * Short runs are not indexed: a few `startsWith` calls are cheaper than a walk.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { RouteImpl } from './route_entry_impl.js';

/** Runs shorter than this are scanned linearly. */
export const MIN_INDEXED_RUN = 8;

interface TrieNode {
  /** Indexes (ascending) of the routes whose key ends at this node, or null. */
  routes: number[] | null;
  children: Map<number, TrieNode> | null;
}

/** A trie over the keys of routes[start, end). */
export class PrefixRun {
  readonly start: number;
  readonly end: number;
  private readonly root: TrieNode = { routes: null, children: null };

  constructor(routes: readonly RouteImpl[], start: number, end: number) {
    this.start = start;
    this.end = end;
    for (let i = start; i < end; i++) {
      const key = routes[i]!.pathMatcher.indexKey!;
      let node = this.root;
      for (let d = 0; d < key.length; d++) {
        const c = key.charCodeAt(d);
        if (node.children === null) node.children = new Map();
        let next = node.children.get(c);
        if (next === undefined) node.children.set(c, next = { routes: null, children: null });
        node = next;
      }
      (node.routes ??= []).push(i);
    }
  }

  /** Index of the first route of the run that matches, or -1. */
  find(routes: readonly RouteImpl[], headers: HeaderMap, path: string, matchPath: string, random: number): number {
    const start = this.start;
    let best = this.end;
    let node: TrieNode | undefined = this.root;
    const n = matchPath.length;
    for (let d = 0; ; d++) {
      const rs = node.routes;
      if (rs !== null) {
        for (let i = 0; i < rs.length; i++) {
          const idx = rs[i]!;
          if (idx >= best) break;
          if (routes[idx]!.matches(headers, path, matchPath, random)) {
            best = idx;
            break;
          }
        }
        if (best === start) break;
      }
      if (d >= n || node.children === null) break;
      node = node.children.get(matchPath.charCodeAt(d));
      if (node === undefined) break;
    }
    return best === this.end ? -1 : best;
  }
}

/**
 * The scan plan of a virtual host: for each position either a single route
 * (run === null) or an indexed run. Null when nothing is worth indexing.
 */
export function buildRouteIndex(routes: readonly RouteImpl[]): Array<PrefixRun | RouteImpl> | null {
  const plan: Array<PrefixRun | RouteImpl> = [];
  let indexed = false;
  let i = 0;
  while (i < routes.length) {
    if (routes[i]!.pathMatcher.indexKey === null) {
      plan.push(routes[i]!);
      i++;
      continue;
    }
    let j = i;
    while (j < routes.length && routes[j]!.pathMatcher.indexKey !== null) j++;
    if (j - i >= MIN_INDEXED_RUN) {
      plan.push(new PrefixRun(routes, i, j));
      indexed = true;
    } else {
      for (let k = i; k < j; k++) plan.push(routes[k]!);
    }
    i = j;
  }
  return indexed ? plan : null;
}
