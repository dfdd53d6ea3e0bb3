// A webhook receiver for the end-to-end tests. It verifies every delivery
// with the npm standardwebhooks package (a verifier we did not write),
// answers 500 to the first FAIL_FIRST deliveries of each webhook-id, and
// while DOWN is set (toggled by "down"/"up" lines on stdin) answers 503.
// Accepted events are deduplicated by webhook-id, as a receiver should.
// It prints one JSON line per happening:
//   {"event":"listening","port":N}
//   {"event":"accepted","id":…,"type":…,"uploadId":…,"attempts":N,"body":{…}}
//   {"event":"duplicate","id":…}   a delivery of an id accepted before
//   {"event":"invalid","error":…}  a delivery that failed verification
import http from 'node:http';
import readline from 'node:readline';
import { Webhook } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
const failFirst = Number(process.env.FAIL_FIRST || 0);
const wh = new Webhook(secret);
const attempts = new Map();
const accepted = new Set();
let down = false;

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

readline.createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() === 'down') down = true;
  if (l.trim() === 'up') down = false;
});

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let payload;
    try {
      payload = wh.verify(body, {
        'webhook-id': req.headers['webhook-id'],
        'webhook-timestamp': req.headers['webhook-timestamp'],
        'webhook-signature': req.headers['webhook-signature'],
      });
    } catch (e) {
      emit({ event: 'invalid', error: String(e.message || e) });
      res.writeHead(400).end();
      return;
    }
    const id = req.headers['webhook-id'];
    const n = (attempts.get(id) || 0) + 1;
    attempts.set(id, n);
    if (down) {
      res.writeHead(503).end();
      return;
    }
    if (n <= failFirst) {
      res.writeHead(500).end();
      return;
    }
    if (accepted.has(id)) {
      emit({ event: 'duplicate', id });
      res.writeHead(200).end();
      return;
    }
    accepted.add(id);
    emit({ event: 'accepted', id, type: payload.type, uploadId: payload.data && payload.data.uploadId, attempts: n, body: payload });
    res.writeHead(204).end();
  });
});
server.listen(0, '127.0.0.1', () => emit({ event: 'listening', port: server.address().port }));
