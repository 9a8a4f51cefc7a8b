// node_test: weftd against node's amqplib (npm), through a real weftd.
//   node node_test.js amqp://guest:guest@127.0.0.1:PORT   (NODE_PATH: where amqplib is)
// Exits 0 when every check passes.
'use strict';
const amqp = require('amqplib');
const assert = require('assert');

async function main() {
  const conn = await amqp.connect(process.argv[2]);
  const ch = await conn.createConfirmChannel();

  // Every field-table type amqplib writes, round-tripped through a queue.
  const { queue } = await ch.assertQueue('', { exclusive: true });
  const headers = {
    str: 'text', int: 42, neg: -5, big: 2 ** 40, float: 1.5, bool: true, nul: null,
    list: [1, 'two', { three: 3 }], table: { nested: { deep: 'x' } },
    buf: Buffer.from([0, 1, 2]),
    explicit: { '!': 'decimal', value: { places: 2, digits: 314 } },
    ts: { '!': 'timestamp', value: 1700000000 },
  };
  await new Promise((resolve, reject) =>
    ch.sendToQueue(queue, Buffer.from('h'), { headers }, (err) => (err ? reject(err) : resolve())));
  const msg = await ch.get(queue, { noAck: true });
  assert.ok(msg, 'get-ok');
  const h = msg.properties.headers;
  for (const k of ['str', 'int', 'neg', 'big', 'float', 'bool', 'nul', 'list', 'table'])
    assert.deepStrictEqual(h[k], headers[k], k);
  assert.deepStrictEqual(h.buf, headers.buf, 'byte array');
  assert.deepStrictEqual(h.explicit, headers.explicit, 'decimal');
  assert.deepStrictEqual(h.ts, headers.ts, 'timestamp');

  // Exchange-to-exchange binding, headers exchange, nack/requeue.
  await ch.assertExchange('node-src', 'direct', { autoDelete: true });
  await ch.assertExchange('node-hdr', 'headers', { autoDelete: true });
  await ch.bindExchange('node-hdr', 'node-src', 'rk');
  const q2 = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(q2, 'node-hdr', '', { 'x-match': 'any', color: 'red', size: 'xl' });
  ch.publish('node-src', 'rk', Buffer.from('red one'), { headers: { color: 'red' } });
  ch.publish('node-src', 'rk', Buffer.from('blue one'), { headers: { color: 'blue' } });
  await ch.waitForConfirms();
  const m1 = await ch.get(q2);
  assert.strictEqual(m1.content.toString(), 'red one');
  ch.nack(m1, false, true);
  const m2 = await ch.get(q2);
  assert.ok(m2.fields.redelivered, 'redelivered after nack');
  ch.ack(m2);
  assert.strictEqual(await ch.get(q2), false, 'blue one was not routed');

  // Consume with prefetch; cancel.
  await ch.prefetch(5);
  for (let i = 0; i < 20; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
  await ch.waitForConfirms();
  let n = 0;
  await new Promise((resolve) => {
    ch.consume(queue, (m) => {
      ch.ack(m);
      if (++n === 20) resolve();
    }, { consumerTag: 'node-c' });
  });
  await ch.cancel('node-c');

  // A channel error (404) leaves the connection usable.
  const bad = await conn.createChannel();
  bad.on('error', () => {});
  await assert.rejects(bad.checkQueue('node-missing'), /404/);
  const again = await conn.createChannel();
  await again.checkExchange('amq.topic');
  await conn.close();
  console.log('node amqplib: ok');
}

main().catch((e) => {
  console.error('FAIL:', e);
  process.exit(1);
});
