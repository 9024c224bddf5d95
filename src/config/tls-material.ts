import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../errors.js';

/**
 * Reading and checking PEM files for every TLS listener (syslog over TLS and the web config file),
 * so that `--config.check` finds a bad certificate without binding anything, and start never
 * lets an OpenSSL error escape from createServer with a stack trace.
 */

/** A bad TLS file: `key` names the option, `detail` says what is wrong with it. */
export class TlsMaterialError extends ConfigError {
  constructor(
    readonly key: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${key}: ${detail}`, options);
    this.name = 'TlsMaterialError';
  }
}

export type PemKind = 'certificate' | 'private key' | 'CA';

/** One OpenSSL message on one line: they sometimes carry the library's own line breaks. */
function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, '; ');
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM file, parsed; throws a ConfigError naming `key` when one does not parse. */
function parseCertificates(pem: Buffer, path: string, key: string, kind: PemKind): X509Certificate[] {
  const blocks = pem.toString('latin1').match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new TlsMaterialError(
      key,
      `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)${kind === 'CA' ? '; a CA file lists the certificates of the CAs to trust' : ''}`,
    );
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length}` : 'the certificate';
      throw new TlsMaterialError(key, `${which} in ${path} does not parse: ${oneLine(err)}`, { cause: err });
    }
  });
}

function parsePrivateKey(pem: Buffer, path: string, key: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new TlsMaterialError(key, `${path} is not an unencrypted PEM private key: ${oneLine(err)}`, {
      cause: err,
    });
  }
}

/** Reads a PEM file and checks that it parses as `kind`; a ConfigError names `key` otherwise. */
export function readPem(path: string, key: string, kind: PemKind): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new TlsMaterialError(key, `cannot read ${path}: ${oneLine(err)}`, { cause: err });
  }
  if (kind === 'private key') parsePrivateKey(pem, path, key);
  else parseCertificates(pem, path, key, kind);
  return pem;
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** empty: no client certificates asked for */
  ca: string;
}

/** The configuration key of each file, for messages: `syslog.tls.cert_file`, ... */
export type TlsKeys = TlsFiles;

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

/**
 * Checks that the key belongs to the first certificate of the chain (the one the server presents)
 * and that OpenSSL accepts the set as a server context, which also catches what parsing alone
 * does not, such as a key too small for the system's security level.
 */
export function checkTlsMaterial(material: TlsMaterial, keys: TlsKeys, files?: TlsFiles): void {
  const certPath = files?.cert ?? keys.cert;
  const keyPath = files?.key ?? keys.key;
  const [leaf] = parseCertificates(material.cert, certPath, keys.cert, 'certificate');
  const privateKey = parsePrivateKey(material.key, keyPath, keys.key);
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(privateKey);
  } catch {
    // A key of another type (EC against RSA) throws rather than answering false.
    matches = false;
  }
  if (!matches) {
    throw new TlsMaterialError(
      keys.key,
      `the private key${files ? ` in ${files.key}` : ''} does not match the certificate${files ? ` in ${files.cert}` : ''} (${keys.cert})`,
    );
  }
  try {
    createSecureContext({ cert: material.cert, key: material.key, ca: material.ca });
  } catch (err) {
    throw new TlsMaterialError(
      keys.key,
      `OpenSSL refuses this key with the certificate (${keys.cert}): ${oneLine(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** Reads and checks a certificate chain, its key and an optional CA file. */
export function loadTlsMaterial(files: TlsFiles, keys: TlsKeys): TlsMaterial {
  const material: TlsMaterial = {
    cert: readPem(files.cert, keys.cert, 'certificate'),
    key: readPem(files.key, keys.key, 'private key'),
    ca: files.ca === '' ? undefined : readPem(files.ca, keys.ca, 'CA'),
  };
  checkTlsMaterial(material, keys, files);
  return material;
}
