/**
 * The access-log instance shared by the file, stdout and stderr loggers, after
 * Envoy's `source/extensions/access_loggers/common/file_access_log_impl.h`:
 * compiled filter + compiled formatter + shared buffered file. `log()` runs on
 * the request path: it evaluates the filter, formats one line and appends it
 * to the file's buffer; it never blocks and never throws.
 */
import type { AccessLogInstance } from '../../../envoy/access_log/access_log.js';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import type { StreamInfo } from '../../../envoy/stream_info/stream_info.js';
import type { FormatterContext, Formatter } from '../../../logging/substitution_formatter.js';
import type { AccessLogFilter } from '../../../logging/access_log_filter.js';
import type { AccessLogFile } from '../../../logging/access_log_file.js';

export class FileAccessLog implements AccessLogInstance {
  /** Entries dropped because formatting threw (a misbehaving filter-state object, say). */
  formatErrors = 0;

  constructor(readonly file: AccessLogFile, private readonly formatter: Formatter,
              private readonly filter: AccessLogFilter | null) {}

  log(requestHeaders: HeaderMap | null, responseHeaders: HeaderMap | null,
      responseTrailers: HeaderMap | null, streamInfo: StreamInfo): void {
    const ctx: FormatterContext = { requestHeaders, responseHeaders, responseTrailers, streamInfo };
    try {
      if (this.filter !== null && !this.filter.evaluate(ctx)) return;
      this.file.write(this.formatter.format(ctx));
    } catch {
      // Logging must never fail the request.
      this.formatErrors++;
    }
  }
}
