/**
 * The admin index and help text. The text form is Envoy's `getHelp()`
 * byte for byte (`admin commands are:` then one line per endpoint, sorted,
 * `(POST)` on the mutating ones, parameter lines under them); the HTML form
 * is a small page with the same table, links for GET endpoints and forms
 * for POST ones.
 */
import type { AdminParamDescriptor } from './admin_types.js';

/** What the index needs to know about a registered endpoint. */
export interface AdminEndpointInfo {
  readonly prefix: string;
  readonly helpText: string;
  readonly mutatesServerState: boolean;
  readonly params: readonly AdminParamDescriptor[];
}

function sortedEndpoints(endpoints: readonly AdminEndpointInfo[]): AdminEndpointInfo[] {
  return [...endpoints].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
}

/** Envoy's AdminImpl::getHelp. */
export function renderHelpText(endpoints: readonly AdminEndpointInfo[]): string {
  let out = 'admin commands are:\n';
  for (const e of sortedEndpoints(endpoints)) {
    out += `  ${e.prefix}${e.mutatesServerState ? ' (POST)' : ''}: ${e.helpText}\n`;
    for (const p of e.params) {
      out += `      ${p.id}: ${p.help}`;
      if (p.choices !== undefined) out += `; One of (${p.choices.join(', ')})`;
      out += '\n';
    }
  }
  return out;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderHelpHtml(endpoints: readonly AdminEndpointInfo[]): string {
  const rows = sortedEndpoints(endpoints).map((e) => {
    const path = escapeHtml(e.prefix);
    const link = e.mutatesServerState
      ? `<form action="${path}" method="post"><button type="submit">${path}</button></form>`
      : `<a href="${path}">${path}</a>`;
    const params = e.params.map((p) => `<br><code>${escapeHtml(p.id)}</code>: ${escapeHtml(p.help)}`).join('');
    return `<tr><td>${link}</td><td>${escapeHtml(e.helpText)}${params}</td></tr>`;
  });
  return '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Legate Admin</title></head><body>\n' +
    '<h1>Legate Admin</h1>\n<table>\n<thead><tr><th>Command</th><th>Description</th></tr></thead>\n<tbody>\n' +
    `${rows.join('\n')}\n</tbody>\n</table>\n</body></html>\n`;
}
