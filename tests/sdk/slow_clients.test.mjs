// Slow clients on the HTTP listener (TOLLGATE_HTTP_READ_TIMEOUT_MS): a
// request whose headers or body stop coming, and a body trickled a byte at
// a time, are answered with an error within their time rather than holding
// their thread while the client dawdles.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startDaemon, keys, scaled } from './harness.mjs';

let d;
before(async () => { d = await startDaemon({ env: { TOLLGATE_HTTP_READ_TIMEOUT_MS: '200' } }); });
after(async () => { await d.stop(); });

// Connects, writes `head`, then starts `more(socket)` (which returns a
// stop function); resolves with the daemon's whole answer (status line,
// headers, body) within `ms` (scaled).
function answerTo(head, ms, more = () => () => {}) {
  return new Promise((resolve, reject) => {
    const [host, port] = d.http.split(':');
    let stop = () => {};
    const socket = connect(Number(port), host, () => { socket.write(head); stop = more(socket); });
    const done = (fn) => { clearTimeout(timer); stop(); socket.destroy(); fn(); };
    const timer = setTimeout(() => done(() => reject(new Error(`no answer within ${scaled(ms)} ms`))), scaled(ms));
    let received = '';
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      const length = Number((received.match(/content-length: (\d+)/i) || [])[1]);
      if (end >= 0 && received.length >= end + 4 + length) done(() => resolve(received));
    });
  });
}

test('headers that stop coming are answered 400 once a read times out', async () => {
  const answer = await answerTo('POST /v1/messages HTTP/1.1\r\nHost: tollgate\r\nx-api-key: ', 3000);
  assert.match(answer, /^HTTP\/1\.1 400 /);
});

test('a body that stops coming is answered 400 once a read times out', async () => {
  const answer = await answerTo(`POST /v1/messages HTTP/1.1\r\nHost: tollgate\r\nx-api-key: ${keys.research}\r\n` +
                                'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":', 3000);
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /"type":"invalid_request_error"/);
});

test('a body trickled a byte at a time is refused with 408 once its time is up', async () => {
  const answer = await answerTo(`POST /v1/messages HTTP/1.1\r\nHost: tollgate\r\nx-api-key: ${keys.research}\r\n` +
                                'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n', 6000,
                                (socket) => {
                                  const timer = setInterval(() => socket.write(' '), 50);
                                  return () => clearInterval(timer);
                                });
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /10 times TOLLGATE_HTTP_READ_TIMEOUT_MS/);
});
