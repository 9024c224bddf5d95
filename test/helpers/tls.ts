import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requirePeer } from './peers.js';
import { makeCertificates } from './syslog.js';

const run = promisify(execFile);

/** A good server certificate and key, and each way an operator gets TLS files wrong. */
export interface TlsFixtures {
  ca: string;
  cert: string;
  key: string;
  /** a real RSA key made by openssl, but not the certificate's */
  otherKey: string;
  /** text that is no PEM at all */
  garbage: string;
  /** a CERTIFICATE block whose body is not DER */
  brokenCert: string;
  /** a path that does not exist */
  missing: string;
}

export async function makeTlsFixtures(): Promise<TlsFixtures> {
  const pki = await makeCertificates();
  const openssl = requirePeer('openssl', 'openssl');
  const otherKey = join(pki.dir, 'other.key');
  await run(openssl, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherKey]);
  const garbage = join(pki.dir, 'garbage.pem');
  writeFileSync(garbage, 'this is not a certificate\n');
  const brokenCert = join(pki.dir, 'broken.pem');
  writeFileSync(brokenCert, '-----BEGIN CERTIFICATE-----\nTUlJbm90REVS\n-----END CERTIFICATE-----\n');
  return {
    ca: pki.ca,
    cert: pki.cert,
    key: pki.key,
    otherKey,
    garbage,
    brokenCert,
    missing: join(pki.dir, 'missing.pem'),
  };
}
