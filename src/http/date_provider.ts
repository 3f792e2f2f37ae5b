/** The `date` response header, formatted once per second (Envoy's TlsCachingDateProvider). */
let cachedSecond = -1;
let cached = '';

export function currentHttpDate(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== cachedSecond) {
    cachedSecond = sec;
    cached = new Date(sec * 1000).toUTCString();
  }
  return cached;
}
