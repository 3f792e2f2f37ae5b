/**
 * State-changing commands, after Envoy's `server_cmd_handler.cc` and
 * `listeners_handler.cc`: `/healthcheck/fail`, `/healthcheck/ok`,
 * `/quitquitquit`, `/drain_listeners`. All answer `OK\n`.
 */
import type { AdminRequest, AdminResponse, AdminServerContext } from './admin_types.js';

export function handleHealthcheckFail(ctx: AdminServerContext): AdminResponse {
  ctx.failHealthcheck(true);
  return { status: 200, body: 'OK\n' };
}

export function handleHealthcheckOk(ctx: AdminServerContext): AdminResponse {
  ctx.failHealthcheck(false);
  return { status: 200, body: 'OK\n' };
}

/** Answers first, then shuts the server down. */
export function handleQuitQuitQuit(ctx: AdminServerContext): AdminResponse {
  return { status: 200, body: 'OK\n', afterSend: () => ctx.shutdown() };
}

/** `?graceful`, `?inboundonly`, `?skip_exit` are flags (presence only). */
export function handleDrainListeners(ctx: AdminServerContext, req: AdminRequest): AdminResponse {
  ctx.drainListeners?.({
    graceful: req.query.has('graceful'),
    inboundOnly: req.query.has('inboundonly'),
    skipExit: req.query.has('skip_exit'),
  });
  return { status: 200, body: 'OK\n' };
}
