/**
 * The bench's HTTP load client: one `POST` of a JSON body on a keep-alive agent, as groups 6 and 9
 * send `POST /v1/usage`. It never rejects: a request that got no response answers status 'error', so a
 * caller counts it or refuses it as its row needs.
 */
import { type Agent, request } from 'node:http';

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
