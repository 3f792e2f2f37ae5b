/** Address helpers: Envoy prints IPv4 as `1.2.3.4:80` and IPv6 as `[::1]:80`. */
import { isIPv6 } from 'node:net';

export function addressToString(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '-';
  // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
  if (ip.startsWith('::ffff:') && ip.indexOf('.') !== -1) ip = ip.slice(7);
  // No ':' means not IPv6: skip the (costly) IPv6 check for the common IPv4 case.
  return ip.indexOf(':') !== -1 && isIPv6(ip) ? `[${ip}]:${port ?? 0}` : `${ip}:${port ?? 0}`;
}

/** Splits `ip:port` / `[ip]:port` into its parts. */
export function splitAddress(addr: string): { ip: string; port: number } {
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    return { ip: addr.slice(1, end), port: Number(addr.slice(end + 2)) };
  }
  const i = addr.lastIndexOf(':');
  return { ip: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/** True for RFC 1918, loopback, link-local and unique-local addresses (Envoy's "internal"). */
export function isInternalAddress(ip: string): boolean {
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  if (ip.includes(':')) {
    const l = ip.toLowerCase();
    return l === '::1' || l.startsWith('fc') || l.startsWith('fd');
  }
  const p = ip.split('.').map(Number);
  if (p.length !== 4) return false;
  return p[0] === 10 || p[0] === 127 || (p[0] === 172 && p[1]! >= 16 && p[1]! <= 31) || (p[0] === 192 && p[1] === 168);
}
