import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial, readPem, TlsMaterialError } from '../../src/config/tls-material.js';
import { thrown } from '../helpers/errors.js';
import { makeTlsFixtures, type TlsFixtures } from '../helpers/tls.js';

const KEYS = { cert: 'x.cert_file', key: 'x.key_file', ca: 'x.client_ca_file' };

function failure(fn: () => unknown): TlsMaterialError {
  return thrown(TlsMaterialError, fn);
}

describe('TLS material', () => {
  let f: TlsFixtures;
  beforeAll(async () => {
    f = await makeTlsFixtures();
  }, 60_000);

  it('loads a certificate, its key and a CA made by openssl', () => {
    const material = loadTlsMaterial({ cert: f.cert, key: f.key, ca: f.ca }, KEYS);
    expect(material.cert.equals(readFileSync(f.cert))).toBe(true);
    expect(material.key.equals(readFileSync(f.key))).toBe(true);
    expect(material.ca?.equals(readFileSync(f.ca))).toBe(true);
    expect(loadTlsMaterial({ cert: f.cert, key: f.key, ca: '' }, KEYS).ca).toBeUndefined();
  });

  it('names the key and says what is wrong with each bad file, on one line', () => {
    const cases: Array<[Partial<{ cert: string; key: string; ca: string }>, string, RegExp]> = [
      [{ key: f.otherKey }, 'x.key_file', /does not match the certificate in .* \(x\.cert_file\)/],
      [{ cert: f.garbage }, 'x.cert_file', /holds no PEM certificate/],
      [{ cert: f.brokenCert }, 'x.cert_file', /the certificate in .*broken\.pem does not parse/],
      [{ key: f.garbage }, 'x.key_file', /is not an unencrypted PEM private key/],
      [{ key: f.cert }, 'x.key_file', /is not an unencrypted PEM private key/],
      [{ cert: f.missing }, 'x.cert_file', /cannot read .*missing\.pem: ENOENT/],
      [{ ca: f.key }, 'x.client_ca_file', /holds no PEM certificate.*a CA file lists/],
      [{ ca: f.brokenCert }, 'x.client_ca_file', /does not parse/],
    ];
    for (const [files, key, message] of cases) {
      const err = failure(() => loadTlsMaterial({ cert: f.cert, key: f.key, ca: '', ...files }, KEYS));
      expect(err.code, key).toBe('SRE_ERR_CONFIG');
      expect(err.key, String(message)).toBe(key);
      expect(err.message).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')}: `));
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('\n');
    }
  });

  it('checks every certificate of a chain or CA bundle, not only the first', () => {
    const bundle = `${f.cert}.bundle`;
    writeFileSync(bundle, Buffer.concat([readFileSync(f.ca), readFileSync(f.brokenCert)]));
    expect(failure(() => readPem(bundle, 'x.client_ca_file', 'CA')).message).toMatch(
      /certificate 2 of 2 in .* does not parse/,
    );
  });

  it('turns any file content into a coded error or a buffer, never an uncoded throw', () => {
    const path = `${f.cert}.fuzz`;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc
            .base64String({ maxLength: 400 })
            .map((b) =>
              new TextEncoder().encode(`-----BEGIN CERTIFICATE-----\n${b}\n-----END CERTIFICATE-----\n`),
            ),
          fc
            .base64String({ maxLength: 400 })
            .map((b) =>
              new TextEncoder().encode(`-----BEGIN PRIVATE KEY-----\n${b}\n-----END PRIVATE KEY-----\n`),
            ),
        ),
        fc.constantFrom('certificate', 'private key', 'CA') as fc.Arbitrary<
          'certificate' | 'private key' | 'CA'
        >,
        (bytes, kind) => {
          writeFileSync(path, bytes);
          try {
            readPem(path, 'x.file', kind);
          } catch (err) {
            expect(err).toBeInstanceOf(TlsMaterialError);
            expect((err as Error).message).not.toContain('\n');
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
