import type { IncomingHttpHeaders } from 'node:http';
import { type Agent, request as httpsRequest } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** the server's certificate as this connection saw it */
  peer: PeerCertificate;
  /** true when the request went over a connection an earlier request opened */
  reused: boolean;
}

export interface HttpsClient {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  auth?: string;
  /** default: a new connection for this request */
  agent?: Agent;
}

/** One GET over HTTPS to 127.0.0.1 as "localhost"; rejects when the handshake or the request fails. */
export function httpsGet(port: number, path: string, client: HttpsClient): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: 'localhost',
        ca: client.ca,
        cert: client.cert,
        key: client.key,
        auth: client.auth,
        agent: client.agent ?? false,
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            peer,
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The status of one GET, or "refused" when the TLS handshake or the connection failed. */
export async function httpsOutcome(
  port: number,
  path: string,
  client: HttpsClient,
  expectHeaders: Record<string, string> = {},
): Promise<number | 'refused'> {
  let answer: HttpsAnswer;
  try {
    answer = await httpsGet(port, path, client);
  } catch {
    return 'refused';
  }
  // Headers from http_server_config go on every answer, refusals included.
  for (const [name, value] of Object.entries(expectHeaders)) {
    if (answer.headers[name.toLowerCase()] !== value)
      throw new Error(`answer ${answer.status} lacks header ${name}: ${value}`);
  }
  return answer.status;
}

/** The client certificates a client-auth test tries: none, one from the server's CA, one from another CA. */
export type Presented = 'none' | 'right CA' | 'other CA';

/**
 * What each client_auth_type does with each client: the status of a GET, or "refused" at the TLS
 * handshake. Node can refuse a certificate in the handshake only in the strictest mode; the
 * others answer 403 to every request.
 */
export const CLIENT_AUTH_OUTCOMES: Record<string, Record<Presented, number | 'refused'>> = {
  NoClientCert: { none: 200, 'right CA': 200, 'other CA': 200 },
  RequestClientCert: { none: 200, 'right CA': 200, 'other CA': 200 },
  RequireAnyClientCert: { none: 403, 'right CA': 200, 'other CA': 200 },
  VerifyClientCertIfGiven: { none: 200, 'right CA': 200, 'other CA': 403 },
  RequireAndVerifyClientCert: { none: 'refused', 'right CA': 200, 'other CA': 'refused' },
};
