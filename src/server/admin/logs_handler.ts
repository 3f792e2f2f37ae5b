/**
 * `/logging`, after Envoy's `logs_handler.cc`: with no parameters it lists
 * the loggers; `?level=<l>` sets all; `?<logger>=<l>` sets one;
 * `?paths=a:debug,b:info` sets several. Errors answer 400 with Envoy's
 * usage text, followed by the logger list.
 */
import { LOG_LEVELS, type AdminLoggerRegistry, type AdminRequest, type AdminResponse, type LogLevel } from './admin_types.js';

function parseLevel(s: string): LogLevel | undefined {
  return (LOG_LEVELS as readonly string[]).includes(s) ? (s as LogLevel) : undefined;
}

/** Applies the request's changes; returns an error message or undefined. */
function changeLogLevels(registry: AdminLoggerRegistry, query: URLSearchParams): string | undefined {
  const params = [...query.entries()].filter(([k, v]) => !((k === 'level' || k === 'paths') && v === ''));
  if (params.length === 0) return undefined;
  if (params.length !== 1) return 'invalid number of parameters';
  const [key, value] = params[0]!;

  if (key === 'level') {
    const level = parseLevel(value);
    if (level === undefined) return 'unknown logger level';
    registry.setAllLevels(level);
    return undefined;
  }

  const changes = new Map<string, LogLevel>();
  if (key === 'paths') {
    for (const pair of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const colon = pair.indexOf(':');
      const name = colon === -1 ? pair : pair.slice(0, colon).trim();
      const levelText = colon === -1 ? '' : pair.slice(colon + 1).trim();
      if (name === '' || levelText === '') return 'empty logger name or empty logger level';
      const level = parseLevel(levelText);
      if (level === undefined) return 'unknown logger level';
      changes.set(name, level);
    }
  } else {
    const level = parseLevel(value);
    if (level === undefined) return 'unknown logger level';
    changes.set(key, level);
  }

  const known = new Set(registry.loggers().map((l) => l.name));
  for (const name of changes.keys()) if (!known.has(name)) return 'unknown logger name';
  for (const [name, level] of changes) registry.setLevel(name, level);
  return undefined;
}

/** POST /logging. */
export function handleLogging(registry: AdminLoggerRegistry, req: AdminRequest): AdminResponse {
  let body = '';
  let status = 200;
  const error = changeLogLevels(registry, req.query);
  if (error !== undefined) {
    status = 400;
    body += `error: ${error}\n\n`;
    body += 'usage: /logging?<name>=<level> (change single level)\n';
    body += 'usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n';
    body += 'usage: /logging?level=<level> (change all levels)\n';
    body += `levels: ${LOG_LEVELS.map((l) => `${l} `).join('')}\n`;
  }
  body += 'active loggers:\n';
  for (const l of registry.loggers()) body += `  ${l.name}: ${l.level}\n`;
  body += '\n';
  return { status, body };
}
