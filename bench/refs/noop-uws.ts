import uws from '@trufflesuite/uws-js-unofficial';

/**
 * Reference: uWS answering POST /v1/events with a 202 after reading the body, and any GET with
 * a small JSON 200 (the entitlements benchmark's reference), doing nothing else.
 */
const app = uws.App();
const reply = JSON.stringify({ accepted: 1, duplicates: 0, rejected: [] });
app.post('/v1/events', (res) => {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  res.onData((_chunk, isLast) => {
    if (isLast && !aborted) {
      res.cork(() => {
        res.writeStatus('202 Accepted').writeHeader('Content-Type', 'application/json').end(reply);
      });
    }
  });
});
const check = JSON.stringify({ feature: 'api_calls', type: 'metered', has_access: true });
app.get('/*', (res) => {
  res.cork(() => {
    res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json').end(check);
  });
});
app.listen('127.0.0.1', 0, (socket) => {
  if (socket === false) process.exit(1);
  console.log(`listening on http://127.0.0.1:${uws.us_socket_local_port(socket)}`);
  process.on('SIGTERM', () => {
    uws.us_listen_socket_close(socket);
    process.exit(0);
  });
});
