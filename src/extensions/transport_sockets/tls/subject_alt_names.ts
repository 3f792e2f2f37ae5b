/**
 * Subject alternative names of a certificate, from node's
 * X509Certificate.subjectAltName text (`DNS:a.com, URI:spiffe://x, IP Address:1.2.3.4, email:a@b`;
 * a value with special characters is JSON-quoted by node).
 */
export interface SubjectAltNames {
  readonly dns: string[];
  readonly uri: string[];
  readonly ip: string[];
  readonly email: string[];
}

export const NO_SANS: SubjectAltNames = Object.freeze({ dns: [], uri: [], ip: [], email: [] }) as SubjectAltNames;

export function parseSubjectAltNames(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], uri: [], ip: [], email: [] };
  if (text === undefined || text === '') return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const type = text.slice(i, colon).trim();
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      // JSON string: find its closing quote.
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      try { value = JSON.parse(text.slice(j, k + 1)) as string; } catch { value = text.slice(j + 1, k); }
      j = k + 1;
      const comma = text.indexOf(', ', j);
      i = comma === -1 ? text.length : comma + 2;
    } else {
      const comma = text.indexOf(', ', j);
      value = text.slice(j, comma === -1 ? text.length : comma);
      i = comma === -1 ? text.length : comma + 2;
    }
    switch (type) {
      case 'DNS': out.dns.push(value); break;
      case 'URI': out.uri.push(value); break;
      case 'IP Address': out.ip.push(value); break;
      case 'email': out.email.push(value); break;
    }
  }
  return out;
}

/** RFC 2253 text of a certificate subject/issuer (most specific first, `,`-separated), as Envoy prints it. */
export function rfc2253(nodeName: string): string {
  if (nodeName === '') return '';
  return nodeName.split('\n').reverse().map((part) => {
    const eq = part.indexOf('=');
    if (eq === -1) return part;
    const v = part.slice(eq + 1).replace(/([,+"\\<>;])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
    return `${part.slice(0, eq)}=${v}`;
  }).join(',');
}

/** DNS name matching with a leading `*.` wildcard covering exactly one label (RFC 6125). */
export function dnsNameMatch(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase(), n = name.toLowerCase();
  if (p === n) return true;
  if (!p.startsWith('*.')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot) === p.slice(1);
}
