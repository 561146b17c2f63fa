/**
 * The test server (server.ts) in a process of its own, for the tests of customer tokens: jose, which
 * signs and verifies them, refuses keys made by jsdom's TextEncoder, so the jsdom test process cannot
 * verify them itself. Prints `listening on <url>`; customers are created through the API.
 */
import { startServer } from './server.js';

const server = await startServer();
console.log(`listening on ${server.url}`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
