/**
 * The bench's HTTP load client: one `POST` of a JSON body on a keep-alive agent, as groups 6 and 9
 * send `POST /v1/usage`. It never rejects: a request that got no response answers status 'error', so a
 * caller counts it or refuses it as its row needs.
 */
import { type Agent, request } from 'node:http';
import { Pool } from 'undici';

export interface Posted {
  readonly status: number | 'error';
  /** The response body, or the error's message. */
  readonly text: string;
}

export function postJson(
  connection: { readonly agent: Agent; readonly port: number; readonly apiKey: string },
  path: string,
  body: string,
): Promise<Posted> {
  return new Promise((resolve) => {
    const failed = (error: Error) => resolve({ status: 'error', text: error.message });
    const req = request(
      {
        agent: connection.agent,
        host: '127.0.0.1',
        port: connection.port,
        method: 'POST',
        path,
        headers: {
          authorization: `Bearer ${connection.apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        // Read to the end, so the socket goes back to the agent for the next request.
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 'error', text }));
        res.on('error', failed);
      },
    );
    req.on('error', failed);
    req.end(body);
  });
}

/**
 * A lighter load client for a row that measures the server's throughput: undici's `Pool` of
 * `connections` keep-alive connections (its own HTTP parser, no `ClientRequest` and `IncomingMessage`
 * per request). On the bench's 2 cores the client shares the CPU with the server: it took 61–72 µs
 * per `POST /v1/usage` where `postJson` took 96–101 µs (a standalone A/B, 5 s runs, 2026-12-02).
 */
export function jsonPool(port: number, connections: number, apiKey: string) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections });
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  return {
    async post(path: string, body: string): Promise<Posted> {
      try {
        const response = await pool.request({ path, method: 'POST', body, headers });
        return { status: response.statusCode, text: await response.body.text() };
      } catch (error) {
        return { status: 'error', text: error instanceof Error ? error.message : String(error) };
      }
    },
    close: () => pool.close(),
  };
}
