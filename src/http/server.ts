import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import { LANDING_NODES, type ListenerInfo, type NodesSeen, renderLanding } from './landing.js';
import { basicAuth, type WebConfig } from './web-config.js';

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

/** The HTTP side: metrics, a landing page, and liveness and readiness probes. */
export function createHttpApp(options: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Read through a getter on every request, so that a reload (SIGHUP) takes effect at once.
  let authFor: { users: ReadonlyMap<string, string>; handler: ReturnType<typeof basicAuth> } | null = null;
  app.use((req, res, next) => {
    const web = options.web();
    if (web === undefined) return next();
    for (const name in web.headers) res.set(name, web.headers[name]);
    if (web.tls?.requestCert) {
      // Node refuses unverified client certificates only in the strictest mode; the others are checked here.
      const socket = req.socket as TLSSocket;
      const certificate = socket.getPeerCertificate();
      const given = certificate !== null && Object.keys(certificate).length > 0;
      const needsOne = web.tls.rejectUnauthorized === true || web.clientAuthType === 'RequireAnyClientCert';
      if (
        (needsOne && !given) ||
        (given && web.clientAuthType === 'VerifyClientCertIfGiven' && !socket.authorized)
      ) {
        res.status(403).type('text/plain').send('client certificate required\n');
        return;
      }
    }
    if (web.users.size === 0 || OPEN_PATHS.has(req.path)) return next();
    if (authFor === null || authFor.users !== web.users)
      authFor = { users: web.users, handler: basicAuth(web.users) };
    authFor.handler(req, res, next);
  });

  app.get(options.telemetryPath, async (_req, res, next) => {
    try {
      const body = await options.registry.metrics();
      // Explicit, so that scrapers never have to guess the exposition format.
      res.set('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
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
    server.headersTimeout = 10_000;
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
