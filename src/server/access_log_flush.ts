/** Flushes every access log file at shutdown (Envoy flushes on exit too). */
import { defaultAccessLogManager } from '../logging/access_log_file.js';

export async function flushAllAccessLogs(): Promise<void> {
  await defaultAccessLogManager().flush();
}
