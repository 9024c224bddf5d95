import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import express from 'express';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { BasicAuth, MAX_PENDING_CHECKS, MAX_PENDING_PER_SOURCE } from '../../src/http/basic-auth.js';
import { BcryptPool } from '../../src/http/bcrypt-pool.js';
import { samples, sampleValue, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

let exporter: Exporter | null = null;
let server: Server | null = null;
let auth: BasicAuth | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
  if (server !== null) {
    const s = server;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  server = null;
  await auth?.close();
  auth = null;
});

function webConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sre-auth-')), 'web.yml');
  writeFileSync(path, text);
  return path;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** One GET on a fresh connection; resolves with the status and the Retry-After header. */
function get(
  port: number,
  authorization: string,
  agent: Agent,
  localAddress = '127.0.0.1',
): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/metrics', agent, localAddress, headers: { authorization } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A compare pool that remembers which hashes it was asked to compare against. */
class RecordingPool extends BcryptPool {
  readonly asked: string[] = [];
  override compare(password: string, hash: string): Promise<boolean> {
    this.asked.push(hash);
    return super.compare(password, hash);
  }
}

/** BasicAuth alone in front of a real HTTP server. */
async function authServer(users: Map<string, string>, pool: BcryptPool): Promise<string> {
  const registry = new Registry();
  auth = new BasicAuth(registry, pool);
  const a = auth;
  const app = express();
  app.use((req, res, next) => a.check(users, req, res, next));
  app.get('/metrics', async (_req, res) => {
    res.type('text/plain').send(await registry.metrics());
  });
  const s = app.listen(0, '127.0.0.1');
  server = s;
  await new Promise((resolve) => s.once('listening', resolve));
  const address = s.address();
  return `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
}

describe('basic auth under a flood of wrong passwords', () => {
  it('keeps counting HEP and answering good scrapes, refuses the excess with 429, and leaves the main thread idle', async () => {
    // Cost 11: each check takes long enough that the backlog is still being worked off while
    // the good scrape and the HEP packet go through.
    const hash = bcrypt.hashSync('s3cret', 11);
    exporter = await startExporter({
      'web.config.file': webConfig(`basic_auth_users:\n  prometheus: "${hash}"\n`),
    });
    const port = exporter.httpPort;
    const http = request(`http://127.0.0.1:${port}`);
    // The first good scrape runs bcrypt; the ones during the flood are answered from the cache,
    // as Prometheus's scrapes are once it has been let in.
    await http.get('/metrics').auth('prometheus', 's3cret').expect(200);

    const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
    const N = 200;
    let settled = 0;
    let firstRefusal: () => void = () => {};
    const refused = new Promise<void>((resolve) => {
      firstRefusal = resolve;
    });
    let eluStart: ReturnType<typeof performance.eventLoopUtilization> | null = null;
    const bad = Array.from({ length: N }, (_, i) =>
      // From four addresses, so that together they fill the whole backlog.
      get(
        port,
        basic(i % 2 === 0 ? 'prometheus' : `intruder${i}`, `guess${i}`),
        agent,
        `127.0.0.${2 + (i % 4)}`,
      ).then((r) => {
        settled++;
        if (r.status === 429 && eluStart === null) {
          eluStart = performance.eventLoopUtilization();
          firstRefusal();
        }
        return r;
      }),
    );
    // The backlog is full from here on (or, were nothing ever refused, the flood is over and
    // the assertions below say so).
    await Promise.race([refused, Promise.all(bad)]);
    eluStart ??= performance.eventLoopUtilization();

    const s = udpSender();
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 486, callId: 'flood' }) }),
      exporter.source('hep').listener!.udpPort,
    );
    const during = await eventually(
      async () => (await http.get('/metrics').auth('prometheus', 's3cret').expect(200)).text,
      (t) => sampleValue(t, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}') === 1,
      45_000,
    );
    const settledWhenServed = settled;
    expect(sampleValue(during, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}')).toBe(1);

    const results = await Promise.all(bad);
    const elu = performance.eventLoopUtilization(eluStart!);
    await closeUdp(s);
    agent.destroy();

    // The good scrape and the packet went through while wrong passwords were still being checked.
    expect(settledWhenServed).toBeLessThan(N);
    const unauthorized = results.filter((r) => r.status === 401).length;
    const tooMany = results.filter((r) => r.status === 429);
    expect(unauthorized + tooMany.length).toBe(N);
    expect(unauthorized).toBeGreaterThanOrEqual(MAX_PENDING_CHECKS);
    expect(tooMany.length).toBeGreaterThan(0);
    for (const r of tooMany) expect(r.retryAfter).toBe('1');
    // bcrypt ran in the workers: the main thread was mostly waiting while they worked the backlog
    // off, where bcrypt on it would keep it busy all along.
    expect(elu.utilization).toBeLessThan(0.5);

    const after = (await http.get('/metrics').auth('prometheus', 's3cret').expect(200)).text;
    const counted = samples(after, 'sip_exporter_http_auth_total');
    expect(counted['{result="ok"}']).toBe(1);
    expect(counted['{result="wrong"}']).toBe(unauthorized);
    expect(counted['{result="overloaded"}']).toBe(tooMany.length);
    expect(counted['{result="cached"}']).toBeGreaterThanOrEqual(2);
    expect(counted['{result="missing"}']).toBe(0);
    expect(counted['{result="error"}']).toBe(0);
  });
});

describe('basic auth checks', () => {
  it('keeps one address guessing passwords from locking out another whose check is not cached', async () => {
    const pool = new BcryptPool();
    const users = new Map([['prometheus', bcrypt.hashSync('s3cret', 11)]]);
    const url = await authServer(users, pool);
    const port = Number(new URL(url).port);
    const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
    let refusedOne: () => void = () => {};
    const refused = new Promise<void>((resolve) => {
      refusedOne = resolve;
    });
    const flood = Array.from({ length: 40 }, (_, i) =>
      get(port, basic('prometheus', `guess${i}`), agent, '127.0.0.2').then((r) => {
        if (r.status === 429) refusedOne();
        return r;
      }),
    );
    // That address holds all the slots it may.
    await refused;
    expect(pool.pending).toBeLessThanOrEqual(MAX_PENDING_PER_SOURCE);
    // The first good check of another address needs bcrypt, and gets a slot.
    const good = await get(port, basic('prometheus', 's3cret'), agent, '127.0.0.1');
    const results = await Promise.all(flood);
    agent.destroy();
    expect(good.status).toBe(200);
    expect(results.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(MAX_PENDING_PER_SOURCE);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    expect(results.every((r) => r.status === 401 || r.status === 429)).toBe(true);
  });

  it('checks an unknown user with bcrypt at the same cost as a known one, in the worker', async () => {
    const pool = new RecordingPool();
    const users = new Map([
      ['low', bcrypt.hashSync('a', 4)],
      ['prometheus', bcrypt.hashSync('s3cret', 6).replace(/^\$2b/, '$2y')],
    ]);
    const url = await authServer(users, pool);
    const http = request(url);

    await http.get('/metrics').auth('nobody', 's3cret').expect(401);
    expect(pool.compares).toBe(1);
    expect(pool.asked).toHaveLength(1);
    // Not a user's hash, at the highest cost among the users.
    expect([...users.values()]).not.toContain(pool.asked[0]);
    expect(pool.asked[0]).toMatch(/^\$2b\$06\$/);

    await http.get('/metrics').auth('prometheus', 'wrong').expect(401);
    expect(pool.asked[1]).toBe(users.get('prometheus'));
    expect(pool.compares).toBe(2);

    const ok = await http.get('/metrics').auth('prometheus', 's3cret').expect(200);
    expect(pool.compares).toBe(3);
    await http.get('/metrics').auth('prometheus', 's3cret').expect(200);
    // The second good check came from the cache.
    expect(pool.compares).toBe(3);
    // Counted before the handler ran, so the page that let it in shows it.
    expect(ok.text).toContain('sip_exporter_http_auth_total{result="ok"} 1');

    const text = (await http.get('/metrics').auth('prometheus', 's3cret').expect(200)).text;
    expect(samples(text, 'sip_exporter_http_auth_total')).toEqual({
      '{result="ok"}': 1,
      '{result="cached"}': 2,
      '{result="wrong"}': 2,
      '{result="missing"}': 0,
      '{result="overloaded"}': 0,
      '{result="error"}': 0,
    });
  });

  it('answers 500, counts an error and recovers when a worker dies mid-check', async () => {
    const pool = new BcryptPool(1);
    // Cost 12: slow enough to stop the worker while it checks.
    const users = new Map([['prometheus', bcrypt.hashSync('s3cret', 12)]]);
    const url = await authServer(users, pool);
    const http = request(url);
    const failed = http
      .get('/metrics')
      .auth('prometheus', 'other')
      .then((r) => r);
    await eventually(
      () => pool.pending,
      (n) => n === 1,
    );
    const busy = (pool as unknown as { busy: Map<{ terminate: () => Promise<number> }, unknown> }).busy;
    await [...busy.keys()][0].terminate();
    expect((await failed).status).toBe(500);
    // The next check gets a new worker.
    await http.get('/metrics').auth('prometheus', 'other2').expect(401);
    const text = (await http.get('/metrics').auth('prometheus', 's3cret').expect(200)).text;
    const counted = samples(text, 'sip_exporter_http_auth_total');
    expect(counted['{result="error"}']).toBe(1);
    expect(counted['{result="wrong"}']).toBe(1);
  });

  it('never lets in, throws on or loses count of any credentials but the right ones', async () => {
    const pool = new BcryptPool(1);
    const users = new Map([['prometheus', bcrypt.hashSync('s3cret', 4)]]);
    const url = await authServer(users, pool);
    const http = request(url);
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .tuple(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }))
            .filter(([u, p]) => !(u === 'prometheus' && p === 's3cret'))
            .map(([u, p]) => basic(u, p)),
          fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
          fc.base64String().map((b) => `Basic ${b}`),
        ),
        async (header) => {
          requests++;
          const res = await http.get('/metrics').set('Authorization', header);
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
        },
      ),
      { numRuns: 150 },
    );
    const text = (await http.get('/metrics').auth('prometheus', 's3cret').expect(200)).text;
    const counted = samples(text, 'sip_exporter_http_auth_total');
    expect(counted['{result="wrong"}'] + counted['{result="missing"}']).toBe(requests);
    expect(counted['{result="error"}'] + counted['{result="overloaded"}']).toBe(0);
  });
});
