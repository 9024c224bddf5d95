import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket, TlsOptions } from 'node:tls';
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import { OPENMETRICS_CONTENT_TYPE, openMetrics } from '../metrics/openmetrics.js';
import { BasicAuth } from './basic-auth.js';
import { LANDING_NODES, type ListenerInfo, type NodesSeen, renderLanding } from './landing.js';
import { prefersOpenMetrics } from './negotiate.js';
import type { ClientAuthType, WebConfig } from './web-config.js';

export type { ListenerInfo, NodesSeen } from './landing.js';

export interface HttpOptions {
  registry: Registry;
  telemetryPath: string;
  /** true when every configured listener is bound */
  ready: () => boolean;
  listeners: () => ListenerInfo[];
  /** the first `max` nodes seen with their source, for the landing page */
  nodes?: (max: number) => NodesSeen;
  /** from --web.config.file: TLS, basic auth, extra headers; undefined when there is none */
  web: () => WebConfig | undefined;
}

/** Liveness and readiness stay open so that orchestrators can probe without credentials. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** What an app must release when its server closes: the bcrypt workers. */
const closers = new WeakMap<Express, () => Promise<void>>();

/**
 * Node refuses a client certificate during the handshake only in the strictest mode
 * (rejectUnauthorized); the others are checked here, on every request. Checking per request also
 * holds a kept-alive connection, made before a reload changed the mode, to the new mode.
 */
function clientCertificateAccepted(mode: ClientAuthType, socket: TLSSocket): boolean {
  if (mode === 'NoClientCert' || mode === 'RequestClientCert') return true;
  // A plain socket cannot carry one; reload keeps TLS as started, so this is only a safeguard.
  const certificate = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
  const given = certificate !== null && Object.keys(certificate).length > 0;
  if (mode === 'RequireAnyClientCert') return given;
  if (mode === 'VerifyClientCertIfGiven') return !given || socket.authorized;
  return given && socket.authorized;
}

/**
 * Applies the TLS part of a reloaded web config to new connections: the certificate, key and CA
 * through setSecureContext, and whether to ask for and insist on a client certificate through
 * the server's requestCert and rejectUnauthorized, which Node reads for every new connection
 * but which setSecureContext leaves alone.
 */
export function applyTls(server: HttpsServer, tls: TlsOptions): void {
  server.setSecureContext(tls);
  const modes = server as HttpsServer & { requestCert: boolean; rejectUnauthorized: boolean };
  modes.requestCert = tls.requestCert === true;
  modes.rejectUnauthorized = tls.rejectUnauthorized !== false;
}

/** The HTTP side: metrics, a landing page, and liveness and readiness probes. */
export function createHttpApp(options: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const auth = new BasicAuth(options.registry);
  closers.set(app, () => auth.close());
  // Read through a getter on every request, so that a reload (SIGHUP) takes effect at once.
  app.use((req, res, next) => {
    const web = options.web();
    if (web === undefined) return next();
    for (const name in web.headers) res.set(name, web.headers[name]);
    if (!clientCertificateAccepted(web.clientAuthType, req.socket as TLSSocket)) {
      res.status(403).type('text/plain').send('client certificate required\n');
      return;
    }
    if (web.users.size === 0 || OPEN_PATHS.has(req.path)) return next();
    auth.check(web.users, req, res, next);
  });

  app.get(options.telemetryPath, async (req, res, next) => {
    try {
      // OpenMetrics (with exemplars) only when the scraper prefers it; the text format otherwise.
      // Both read the same metric objects and change none, so scrapes of either run side by side.
      const om = prefersOpenMetrics(req.headers.accept);
      const body = om ? await openMetrics(options.registry) : await options.registry.metrics();
      // Explicit, so that scrapers never have to guess the exposition format.
      res.set('Content-Type', om ? OPENMETRICS_CONTENT_TYPE : 'text/plain; version=0.0.4; charset=utf-8');
      res.vary('Accept');
      res.send(body);
    } catch (err) {
      next(err);
    }
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/readyz', (_req, res) => {
    const ready = options.ready();
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ready\n' : 'not ready: a listener is not bound\n');
  });

  app.get('/', (_req, res) => {
    res
      .type('html')
      .send(renderLanding(options.telemetryPath, options.listeners(), options.nodes?.(LANDING_NODES)));
  });

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  return app;
}

export function listenHttp(
  app: Express,
  host: string | undefined,
  port: number,
  web?: WebConfig,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = web?.tls ? createHttpsServer(web.tls, app) : createServer(app);
    // Slow or stuck scrapers must not hold sockets forever.
    server.requestTimeout = 30_000;
    server.on('close', () => {
      closers.get(app)?.();
    });
    server.headersTimeout = 10_000;
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
