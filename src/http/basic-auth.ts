import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Registry } from 'prom-client';
import type { CounterCell } from '../metrics/hot-counter.js';
import { HotCounter } from '../metrics/hot-counter.js';
import { BcryptPool } from './bcrypt-pool.js';

/** Most good checks remembered, so a scrape every few seconds costs one bcrypt run, not one each. */
export const CACHE_LIMIT = 256;
/**
 * Most bcrypt checks queued or running. Past it a request is refused at once with 429: a flood
 * of wrong passwords then costs the workers a bounded backlog and the main thread almost nothing.
 */
export const MAX_PENDING_CHECKS = 16;
/**
 * Most of those one client address may hold, so that a single source guessing passwords cannot
 * keep out a Prometheus whose good check is not cached yet (after a restart or a reload).
 */
export const MAX_PENDING_PER_SOURCE = MAX_PENDING_CHECKS / 4;

export type AuthResult = 'ok' | 'cached' | 'wrong' | 'missing' | 'overloaded' | 'error';
const RESULTS: readonly AuthResult[] = ['ok', 'cached', 'wrong', 'missing', 'overloaded', 'error'];

/** What one set of users needs; rebuilt when a reload brings a new set, which also empties the cache. */
interface UserState {
  users: ReadonlyMap<string, string>;
  /** SHA-256 of user and password of recent good checks */
  good: Set<string>;
  /** an unknown user is checked against this, so that it costs what a wrong password costs */
  dummy: string;
}

/**
 * A hash that no password matches (its digest part is not one bcrypt produces for these
 * inputs in practice, and its result is ignored anyway) with the highest cost among the users,
 * so that an unknown user takes as long as a known one with a wrong password.
 */
function dummyHash(users: ReadonlyMap<string, string>): string {
  let cost = 10;
  let found = false;
  for (const hash of users.values()) {
    const c = Number(hash.slice(hash.indexOf('$', 1) + 1, hash.indexOf('$', 1) + 3));
    if (Number.isInteger(c) && (!found || c > cost)) {
      cost = c;
      found = true;
    }
  }
  return `$2b$${String(cost).padStart(2, '0')}$${'C'.repeat(53)}`;
}

/**
 * HTTP basic auth against bcrypt hashes, checked in worker threads (see BcryptPool) with a
 * bounded backlog, a bounded cache of good checks, and every outcome counted.
 */
export class BasicAuth {
  readonly pool: BcryptPool;
  private state: UserState | null = null;
  private readonly metric: HotCounter<'result'>;
  private cells: Record<AuthResult, CounterCell> | null = null;
  /** pending checks by client address; an entry lives only while its checks do, so at most 16 */
  private readonly bySource = new Map<string, number>();

  constructor(registry: Registry, pool = new BcryptPool()) {
    this.pool = pool;
    this.metric = new HotCounter(
      registry,
      'sip_exporter_http_auth_total',
      'HTTP basic auth checks by result: ok, cached (a recent good check), wrong (wrong or unknown user or password), missing (no or malformed credentials), overloaded (refused with 429, too many checks pending in all or from one address), error (the check failed).',
      ['result'],
    );
  }

  private count(result: AuthResult): void {
    // Series appear once basic auth is in use; an exporter without it shows none.
    if (this.cells === null) {
      const cells = {} as Record<AuthResult, CounterCell>;
      for (const r of RESULTS) cells[r] = this.metric.cell({ result: r });
      this.cells = cells;
    }
    this.cells[result].value++;
  }

  /** Lets the request through (`next`) or answers 401, 429 or 500. */
  check(users: ReadonlyMap<string, string>, req: Request, res: Response, next: () => void): void {
    let state = this.state;
    if (state === null || state.users !== users) {
      state = { users, good: new Set(), dummy: dummyHash(users) };
      this.state = state;
    }
    const deny = () => {
      res
        .set('WWW-Authenticate', 'Basic realm="sip-response-exporter"')
        .status(401)
        .type('text/plain')
        .send('unauthorized\n');
    };
    const header = req.headers.authorization ?? '';
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    if (match === null) {
      this.count('missing');
      deny();
      return;
    }
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      this.count('missing');
      deny();
      return;
    }
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = users.get(user);
    const key = createHash('sha256').update(`${user}\0${password}`).digest('hex');
    if (hash !== undefined && state.good.has(key)) {
      this.count('cached');
      next();
      return;
    }
    const source = req.socket.remoteAddress ?? '';
    const fromSource = this.bySource.get(source) ?? 0;
    if (this.pool.pending >= MAX_PENDING_CHECKS || fromSource >= MAX_PENDING_PER_SOURCE) {
      this.count('overloaded');
      res.set('Retry-After', '1').status(429).type('text/plain').send('too many password checks, retry\n');
      return;
    }
    this.bySource.set(source, fromSource + 1);
    const release = () => {
      const left = (this.bySource.get(source) ?? 1) - 1;
      if (left <= 0) this.bySource.delete(source);
      else this.bySource.set(source, left);
    };
    const good = state.good;
    this.pool.compare(password, hash ?? state.dummy).then(
      (ok) => {
        release();
        if (!ok || hash === undefined) {
          this.count('wrong');
          deny();
          return;
        }
        if (good.size >= CACHE_LIMIT) good.clear();
        good.add(key);
        this.count('ok');
        next();
      },
      () => {
        release();
        this.count('error');
        res.status(500).type('text/plain').send('cannot check the password\n');
      },
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
