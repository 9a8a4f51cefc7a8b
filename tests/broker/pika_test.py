"""pika_test: weftd against python3-pika (Debian), over real sockets to a real weftd.

    /usr/bin/python3 tests/broker/pika_test.py PATH/TO/weftd

Each test names the RabbitMQ behaviour it checks. No test asserts on timing: where a
test waits to see that something does NOT happen (prefetch), the wait only gives a
broken broker the chance to misbehave.
"""
import contextlib
import datetime
import decimal
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest
import urllib.request

import pika
from pika.exceptions import ChannelClosedByBroker, ConnectionClosedByBroker, UnroutableError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftd_process import WeftdProcess  # noqa: E402

WEFTD = None
broker = None


def setUpModule():
    global broker
    broker = WeftdProcess(WEFTD).__enter__()


def tearDownModule():
    status = broker.stop()
    log = broker.read_log()
    broker.__exit__(None, None, None)
    assert status == 0, 'weftd exited with %d; its log:\n%s' % (status, log)


def connect(**kw):
    return pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', broker.port, **kw))


def drain(ch, queue, n, ack=True):
    """Consumes n messages from queue; returns [(method, props, body)]."""
    got = []
    for method, props, body in ch.consume(queue, inactivity_timeout=10):
        if method is None:
            break
        got.append((method, props, body))
        if ack:
            ch.basic_ack(method.delivery_tag)
        if len(got) == n:
            break
    ch.cancel()
    return got


class Base(unittest.TestCase):
    def setUp(self):
        self.conn = connect()
        self.ch = self.conn.channel()

    def tearDown(self):
        if self.conn.is_open:
            self.conn.close()

    def temp_queue(self, ch=None):
        return (ch or self.ch).queue_declare('', exclusive=True).method.queue


class Routing(Base):
    def test_direct_key_bound_to_several_queues_reaches_all(self):
        qs = [self.temp_queue() for _ in range(3)]
        self.ch.exchange_declare('direct-many', 'direct', auto_delete=True)
        for q in qs:
            self.ch.queue_bind(q, 'direct-many', 'k')
        self.ch.basic_publish('direct-many', 'k', b'm')
        for q in qs:
            self.assertEqual(self.ch.basic_get(q, auto_ack=True)[2], b'm')

    def test_fanout_and_topic_wildcards(self):
        a, b = self.temp_queue(), self.temp_queue()
        self.ch.exchange_declare('fan', 'fanout', auto_delete=True)
        self.ch.queue_bind(a, 'fan')
        self.ch.queue_bind(b, 'fan')
        self.ch.basic_publish('fan', 'whatever', b'f')
        self.assertEqual(self.ch.basic_get(a, auto_ack=True)[2], b'f')
        self.assertEqual(self.ch.basic_get(b, auto_ack=True)[2], b'f')
        self.ch.exchange_declare('top', 'topic', auto_delete=True)
        cases = {'stock.*.nyse': ['stock.ibm.nyse'], 'stock.#': ['stock', 'stock.a.b.c'],
                 '#.error': ['error', 'x.y.error'], '*.mid.*': ['a.mid.b']}
        for pattern, keys in cases.items():
            q = self.temp_queue()
            self.ch.queue_bind(q, 'top', pattern)
            for k in keys:
                self.ch.basic_publish('top', k, k.encode())
            self.ch.basic_publish('top', 'nomatch.zzz.qqq.rrr', b'x')
            got = [self.ch.basic_get(q, auto_ack=True)[2] for _ in keys]
            self.assertEqual(sorted(got), sorted(k.encode() for k in keys), pattern)
            self.assertEqual(self.ch.basic_get(q)[0], None, pattern)

    def test_headers_exchange_all_and_any(self):
        all_q, any_q = self.temp_queue(), self.temp_queue()
        self.ch.exchange_declare('hdr', 'headers', auto_delete=True)
        self.ch.queue_bind(all_q, 'hdr', arguments={'x-match': 'all', 'a': 1, 'b': 'two'})
        self.ch.queue_bind(any_q, 'hdr', arguments={'x-match': 'any', 'a': 1, 'b': 'two'})
        # Through a second headers exchange: the headers are matched again there.
        e2e_q = self.temp_queue()
        self.ch.exchange_declare('hdr2', 'headers', auto_delete=True)
        self.ch.exchange_bind('hdr2', 'hdr', arguments={'x-match': 'any', 'a': 1})
        self.ch.queue_bind(e2e_q, 'hdr2', arguments={'x-match': 'all', 'b': 'two'})
        props = pika.BasicProperties
        self.ch.basic_publish('hdr', '', b'both', props(headers={'a': 1, 'b': 'two'}))
        self.ch.basic_publish('hdr', '', b'one', props(headers={'a': 1}))
        self.ch.basic_publish('hdr', '', b'none', props(headers={'c': 3}))
        self.assertEqual(self.ch.basic_get(all_q, auto_ack=True)[2], b'both')
        self.assertEqual(self.ch.basic_get(all_q)[0], None)
        self.assertEqual(self.ch.basic_get(any_q, auto_ack=True)[2], b'both')
        self.assertEqual(self.ch.basic_get(any_q, auto_ack=True)[2], b'one')
        self.assertEqual(self.ch.basic_get(any_q)[0], None)
        self.assertEqual(self.ch.basic_get(e2e_q, auto_ack=True)[2], b'both')
        self.assertEqual(self.ch.basic_get(e2e_q)[0], None)

    def test_exchange_to_exchange_and_alternate_exchange(self):
        q, alt_q = self.temp_queue(), self.temp_queue()
        self.ch.exchange_declare('e2e-dst', 'fanout', auto_delete=True)
        self.ch.exchange_declare('e2e-src', 'direct')  # not auto-delete: it outlives the unbind
        self.ch.exchange_bind('e2e-dst', 'e2e-src', 'rk')
        self.ch.queue_bind(q, 'e2e-dst')
        self.ch.basic_publish('e2e-src', 'rk', b'via-e2e')
        self.assertEqual(self.ch.basic_get(q, auto_ack=True)[2], b'via-e2e')
        self.ch.exchange_unbind('e2e-dst', 'e2e-src', 'rk')
        self.ch.basic_publish('e2e-src', 'rk', b'gone')
        self.assertEqual(self.ch.basic_get(q)[0], None)
        self.ch.exchange_delete('e2e-src')
        self.ch.exchange_declare('alt', 'fanout', auto_delete=True)
        self.ch.queue_bind(alt_q, 'alt')
        self.ch.exchange_declare('with-alt', 'direct', arguments={'alternate-exchange': 'alt'})
        self.ch.basic_publish('with-alt', 'unbound', b'to-alt')
        self.assertEqual(self.ch.basic_get(alt_q, auto_ack=True)[2], b'to-alt')
        self.ch.exchange_delete('with-alt')

    def test_redeclaring_with_another_alternate_exchange_is_406(self):
        self.ch.exchange_declare('ae-x', 'direct', arguments={'alternate-exchange': 'a'})
        self.ch.exchange_declare('ae-x', 'direct', arguments={'alternate-exchange': 'a'})
        with self.assertRaises(ChannelClosedByBroker) as cm:
            self.ch.exchange_declare('ae-x', 'direct', arguments={'alternate-exchange': 'b'})
        self.assertEqual(cm.exception.reply_code, 406)
        self.assertIn("inequivalent arg 'alternate-exchange'", cm.exception.reply_text)
        ch = self.conn.channel()
        ch.exchange_delete('ae-x')

    def test_deleting_a_queue_or_exchange_forgets_its_bindings(self):
        # Bindings to a deleted queue or exchange go with it, wherever they were, and an
        # auto-delete exchange goes when the last queue bound to it does.
        ch = self.ch
        ch.exchange_declare('fb-auto', 'direct', auto_delete=True)
        ch.exchange_declare('fb-fan', 'fanout', auto_delete=True)
        ch.exchange_declare('fb-hdr', 'headers', auto_delete=True)
        ch.queue_declare('fb-q1')
        ch.queue_declare('fb-q2')
        for q in ('fb-q1', 'fb-q2'):
            ch.queue_bind(q, 'fb-auto', 'k')
            ch.queue_bind(q, 'fb-auto', q)
            ch.queue_bind(q, 'amq.topic', 'fb.*')
            ch.queue_bind(q, 'amq.topic', 'fb.#')  # a second binding from one exchange
        ch.queue_bind('fb-q1', 'fb-hdr', arguments={'x-match': 'any', 'a': 1})
        ch.exchange_bind('fb-fan', 'amq.fanout')  # fb-fan, bound from amq.fanout
        ch.queue_bind('fb-q2', 'fb-fan')
        ch.queue_delete('fb-q1')
        ch.exchange_declare('fb-auto', 'direct', auto_delete=True, passive=True)  # q2 left
        with self.assertRaises(ChannelClosedByBroker) as e:  # fb-q1 was its only queue
            ch.exchange_declare('fb-hdr', 'headers', passive=True)
        self.assertEqual(e.exception.reply_code, 404)
        ch = self.ch = self.conn.channel()
        ch.queue_declare('fb-q1')  # the same name again: none of the old bindings
        ch.basic_publish('amq.topic', 'fb.x', b't')
        ch.basic_publish('fb-auto', 'k', b'd')
        ch.basic_publish('amq.fanout', '', b'f')
        self.assertEqual(ch.basic_get('fb-q1')[0], None)
        got = [ch.basic_get('fb-q2', auto_ack=True)[2] for _ in range(3)]
        self.assertEqual(sorted(got), [b'd', b'f', b't'])  # once each, two bindings or not
        self.assertEqual(ch.basic_get('fb-q2')[0], None)
        ch.exchange_delete('fb-fan')  # its binding from amq.fanout goes too
        ch.basic_publish('amq.fanout', '', b'f2')
        self.assertEqual(ch.basic_get('fb-q2')[0], None)
        ch.queue_delete('fb-q2')
        with self.assertRaises(ChannelClosedByBroker) as e:
            ch.exchange_declare('fb-auto', 'direct', passive=True)
        self.assertEqual(e.exception.reply_code, 404)
        ch = self.ch = self.conn.channel()
        ch.queue_delete('fb-q1')

    def test_auto_delete_exchange_goes_with_its_last_unbind(self):
        q = self.temp_queue()
        self.ch.exchange_declare('ad-src', 'topic', auto_delete=True)
        self.ch.exchange_declare('ad-dst', 'fanout', auto_delete=True)
        self.ch.queue_bind(q, 'ad-src', 'a.*')
        self.ch.queue_bind(q, 'ad-src', 'b.*')
        self.ch.exchange_bind('ad-dst', 'ad-src', 'c.*')
        self.ch.queue_bind(q, 'ad-dst')
        self.ch.queue_unbind(q, 'ad-src', 'a.*')
        self.ch.exchange_unbind('ad-dst', 'ad-src', 'c.*')
        self.ch.exchange_declare('ad-src', 'topic', passive=True)  # one binding left
        self.ch.queue_unbind(q, 'ad-src', 'b.*')  # its last binding: it goes
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.exchange_declare('ad-src', 'topic', passive=True)
        self.assertEqual(e.exception.reply_code, 404)
        self.ch = self.conn.channel()
        self.ch.exchange_declare('ad-dst', 'fanout', passive=True)  # still bound to q
        self.ch.queue_unbind(q, 'ad-dst')
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.exchange_declare('ad-dst', 'fanout', passive=True)
        self.assertEqual(e.exception.reply_code, 404)
        self.ch = self.conn.channel()

    def test_mandatory_unroutable_is_returned_with_312(self):
        returned = []
        self.ch.add_on_return_callback(lambda ch, m, p, b: returned.append((m, b)))
        self.ch.basic_publish('amq.direct', 'nobody', b'back', mandatory=True)
        self.conn.process_data_events(time_limit=0)
        self.ch.queue_declare('', exclusive=True)  # a round trip: the return came first
        self.conn.process_data_events(time_limit=0)
        self.assertEqual(len(returned), 1)
        self.assertEqual(returned[0][0].reply_code, 312)
        self.assertEqual(returned[0][0].reply_text, 'NO_ROUTE')
        self.assertEqual(returned[0][1], b'back')

    def test_field_table_types_round_trip_in_headers(self):
        # Every type pika 1.2 can encode (it has no float); the codec tests cover the rest.

        q = self.temp_queue()
        headers = {'str': 'text', 'int': 42, 'neg': -7, 'big': 2 ** 40,
                   'bool': True, 'none': None, 'bytes': b'\x00\x01',
                   'decimal': decimal.Decimal('3.14'),
                   'time': datetime.datetime(2026, 11, 26, 12, 0, 0),
                   'list': [1, 'a', [2]], 'table': {'nested': {'deep': 1}}}
        self.ch.basic_publish('', q, b'h', pika.BasicProperties(headers=headers))
        _, props, _ = self.ch.basic_get(q, auto_ack=True)
        self.assertEqual(props.headers, headers)


class Delivery(Base):
    def test_large_and_empty_bodies(self):
        q = self.temp_queue()
        big = os.urandom(3 * 1024 * 1024 + 7)  # many frames at frame_max 131072
        self.ch.basic_publish('', q, big)
        self.ch.basic_publish('', q, b'')
        got = drain(self.ch, q, 2)
        self.assertEqual(got[0][2], big)
        self.assertEqual(got[1][2], b'')

    def test_properties_survive(self):
        q = self.temp_queue()
        p = pika.BasicProperties(content_type='application/json', content_encoding='gzip',
                                 delivery_mode=2, priority=5, correlation_id='c1',
                                 reply_to='r', expiration='60000', message_id='m1',
                                 timestamp=1700000000, type='t', user_id='guest',
                                 app_id='tests')
        self.ch.basic_publish('', q, b'p', p)
        _, got, _ = self.ch.basic_get(q, auto_ack=True)
        for f in ('content_type', 'content_encoding', 'delivery_mode', 'priority',
                  'correlation_id', 'reply_to', 'expiration', 'message_id', 'timestamp',
                  'type', 'user_id', 'app_id'):
            self.assertEqual(getattr(got, f), getattr(p, f), f)

    def test_round_robin_over_consumers(self):
        q = self.temp_queue()
        seen = {}
        tags = [self.ch.basic_consume(q, lambda c, m, p, b: seen.setdefault(m.consumer_tag, []).append(b),
                                      auto_ack=True) for _ in range(2)]
        for i in range(10):
            self.ch.basic_publish('', q, b'%d' % i)
        while sum(len(v) for v in seen.values()) < 10:
            self.conn.process_data_events(time_limit=1)
        self.assertEqual(sorted(len(seen[t]) for t in tags), [5, 5])

    def test_nack_and_reject_requeue_with_redelivered(self):
        q = self.temp_queue()
        self.ch.basic_publish('', q, b'again')
        m, _, _ = self.ch.basic_get(q)
        self.assertFalse(m.redelivered)
        self.ch.basic_nack(m.delivery_tag, requeue=True)
        m, _, body = self.ch.basic_get(q)
        self.assertTrue(m.redelivered)
        self.assertEqual(body, b'again')
        self.ch.basic_reject(m.delivery_tag, requeue=False)  # dropped
        self.assertEqual(self.ch.basic_get(q)[0], None)

    def test_multiple_ack(self):
        q = self.temp_queue()
        for i in range(5):
            self.ch.basic_publish('', q, b'%d' % i)
        tags = [self.ch.basic_get(q)[0].delivery_tag for _ in range(5)]
        self.ch.basic_ack(tags[3], multiple=True)  # 1..4 acked
        self.ch.basic_recover(requeue=True)         # the 5th comes back
        m, _, body = self.ch.basic_get(q, auto_ack=True)
        self.assertEqual(body, b'4')
        self.assertTrue(m.redelivered)
        self.assertEqual(self.ch.basic_get(q)[0], None)

    def test_unknown_delivery_tag_is_406(self):
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.basic_ack(999)
            self.ch.queue_declare('', exclusive=True)  # the close arrives
        self.assertEqual(e.exception.reply_code, 406)
        self.assertIn('unknown delivery tag', e.exception.reply_text)

    def test_prefetch_limits_unacked_deliveries(self):
        q = self.temp_queue()
        for i in range(10):
            self.ch.basic_publish('', q, b'%d' % i)
        self.ch.basic_qos(prefetch_count=2)
        got = []
        self.ch.basic_consume(q, lambda c, m, p, b: got.append(m))
        while len(got) < 2:
            self.conn.process_data_events(time_limit=1)
        self.conn.process_data_events(time_limit=0.3)  # a broken broker would send more
        self.assertEqual(len(got), 2)
        self.ch.basic_ack(got[1].delivery_tag, multiple=True)
        while len(got) < 4:
            self.conn.process_data_events(time_limit=1)
        self.conn.process_data_events(time_limit=0.3)
        self.assertEqual(len(got), 4)

    def test_unacked_messages_return_when_the_channel_closes(self):
        q = self.temp_queue()
        self.ch.basic_publish('', q, b'keep')
        ch2 = self.conn.channel()
        m, _, _ = ch2.basic_get(q)
        ch2.close()
        m, _, body = self.ch.basic_get(q, auto_ack=True)
        self.assertTrue(m.redelivered)
        self.assertEqual(body, b'keep')

    def test_cancel_notification_when_the_queue_is_deleted(self):
        q = self.ch.queue_declare('doomed').method.queue
        cancelled = []
        self.ch.add_on_cancel_callback(lambda frame: cancelled.append(frame))
        self.ch.basic_consume(q, lambda *a: None)
        other = connect()
        other.channel().queue_delete(q)
        other.close()
        while not cancelled:
            self.conn.process_data_events(time_limit=1)
        self.assertEqual(len(cancelled), 1)


class Confirms(Base):
    def test_publisher_confirms(self):
        self.ch.confirm_delivery()
        q = self.temp_queue()
        for i in range(200):
            self.ch.basic_publish('', q, b'%d' % i)  # raises unless acked
        self.assertEqual(self.ch.queue_declare(q, passive=True).method.message_count, 200)

    def test_mandatory_unroutable_in_confirm_mode(self):
        self.ch.confirm_delivery()
        with self.assertRaises(UnroutableError):
            self.ch.basic_publish('amq.direct', 'no-such-key', b'x', mandatory=True)

    def test_transactions_commit_and_rollback(self):
        q = self.temp_queue()
        self.ch.tx_select()
        self.ch.basic_publish('', q, b'rolled-back')
        self.ch.tx_rollback()
        self.ch.basic_publish('', q, b'committed')
        self.assertEqual(self.ch.queue_declare(q, passive=True).method.message_count, 0)
        self.ch.tx_commit()
        self.assertEqual(self.ch.basic_get(q, auto_ack=True)[2], b'committed')
        self.ch.basic_publish('', q, b'ack-me')
        self.ch.tx_commit()
        m, _, _ = self.ch.basic_get(q)
        self.ch.basic_ack(m.delivery_tag)
        self.ch.tx_rollback()  # the ack is undone: recover brings it back
        self.ch.basic_recover(requeue=True)
        self.assertEqual(self.ch.basic_get(q, auto_ack=True)[2], b'ack-me')


class Queues(Base):
    def test_declare_ok_counts_purge_and_delete(self):
        q = self.temp_queue()
        for i in range(3):
            self.ch.basic_publish('', q, b'x')
        ok = self.ch.queue_declare(q, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (3, 0))
        self.assertEqual(self.ch.queue_purge(q).method.message_count, 3)
        self.ch.basic_publish('', q, b'x')
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.queue_delete(q, if_empty=True)
        self.assertEqual(e.exception.reply_code, 406)
        ch = self.conn.channel()
        self.assertEqual(ch.queue_delete(q).method.message_count, 1)
        self.assertEqual(ch.queue_delete(q).method.message_count, 0)  # idempotent

    def test_server_named_queue(self):
        q = self.temp_queue()
        self.assertTrue(q.startswith('amq.gen-'), q)

    def test_exclusive_queue_is_locked_to_its_connection_and_dies_with_it(self):
        q = self.temp_queue()
        other = connect()
        och = other.channel()
        with self.assertRaises(ChannelClosedByBroker) as e:
            och.queue_declare(q, passive=True)
        self.assertEqual(e.exception.reply_code, 405)
        self.conn.close()
        och = other.channel()
        with self.assertRaises(ChannelClosedByBroker) as e:
            och.queue_declare(q, passive=True)
        self.assertEqual(e.exception.reply_code, 404)
        other.close()

    def test_auto_delete_after_the_last_consumer(self):
        q = self.ch.queue_declare('auto-del', auto_delete=True).method.queue
        tag = self.ch.basic_consume(q, lambda *a: None)
        self.ch.basic_cancel(tag)
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.queue_declare(q, passive=True)
        self.assertEqual(e.exception.reply_code, 404)

    def test_exclusive_consumer(self):
        q = self.temp_queue()
        self.ch.basic_consume(q, lambda *a: None, exclusive=True)
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.basic_consume(q, lambda *a: None)
        self.assertEqual(e.exception.reply_code, 403)


class Errors(Base):
    def expect_channel_error(self, code, fn):
        with self.assertRaises(ChannelClosedByBroker) as e:
            fn(self.ch)
        self.assertEqual(e.exception.reply_code, code)
        self.ch = self.conn.channel()  # the connection is still usable
        return e.exception.reply_text

    def test_soft_errors_close_only_the_channel(self):
        self.assertIn("no queue 'missing'",
                      self.expect_channel_error(404, lambda c: c.queue_declare('missing', passive=True)))
        self.expect_channel_error(404, lambda c: c.exchange_declare('missing-x', passive=True))
        self.expect_channel_error(403, lambda c: c.queue_declare('amq.reserved'))
        self.expect_channel_error(403, lambda c: c.exchange_declare('amq.mine', 'direct'))
        self.expect_channel_error(403, lambda c: c.exchange_delete('amq.direct'))
        self.ch.queue_declare('equiv', auto_delete=True)
        text = self.expect_channel_error(406, lambda c: c.queue_declare('equiv', durable=True))
        self.assertIn("inequivalent arg 'durable'", text)
        self.ch.queue_delete('equiv')
        self.ch.exchange_declare('equiv-x', 'direct', auto_delete=True)
        text = self.expect_channel_error(406, lambda c: c.exchange_declare('equiv-x', 'fanout', auto_delete=True))
        self.assertIn("inequivalent arg 'type'", text)
        self.ch.exchange_delete('equiv-x')

        def publish_missing(c):
            c.basic_publish('no-such-exchange', 'k', b'x')
            c.queue_declare('', exclusive=True)
        self.expect_channel_error(404, publish_missing)
        self.assertTrue(self.conn.is_open)

    def test_hard_errors_close_the_connection(self):
        with self.assertRaises(ConnectionClosedByBroker) as e:
            self.ch.exchange_declare('bad-type', 'no-such-type')
        self.assertEqual(e.exception.reply_code, 503)


class RawWire:
    """AMQP written byte by byte to a socket, for what no client library will send."""

    def handshake(self, channel_max=0, heartbeat=0):
        s = socket.create_connection(('127.0.0.1', broker.port), timeout=10)
        s.sendall(b'AMQP\x00\x00\x09\x01')
        self.read_frame(s)  # connection.start
        resp = b'\x00guest\x00guest'
        args = (struct.pack('>I', 0) + b'\x05PLAIN' + struct.pack('>I', len(resp)) + resp +
                b'\x05en_US')
        s.sendall(self.frame(1, 0, struct.pack('>HH', 10, 11) + args))
        self.read_frame(s)  # tune
        s.sendall(self.frame(1, 0, struct.pack('>HHHIH', 10, 31, channel_max, 131072, heartbeat)))
        s.sendall(self.frame(1, 0, struct.pack('>HH', 10, 40) + b'\x01/\x00\x00'))
        self.read_frame(s)  # open-ok
        return s

    @staticmethod
    def frame(t, ch, payload, end=b'\xce'):
        return struct.pack('>BHI', t, ch, len(payload)) + payload + end

    @staticmethod
    def read_frame(s):
        hdr = b''
        while len(hdr) < 7:
            chunk = s.recv(7 - len(hdr))
            if not chunk:
                return None
            hdr += chunk
        t, ch, n = struct.unpack('>BHI', hdr)
        body = b''
        while len(body) < n + 1:
            chunk = s.recv(n + 1 - len(body))
            if not chunk:
                return None
            body += chunk
        return t, ch, body[:-1]

    def expect_close(self, s, code):
        while True:
            f = self.read_frame(s)
            self.assertIsNotNone(f, 'connection dropped without connection.close')
            t, ch, payload = f
            if t == 1 and payload[:4] == struct.pack('>HH', 10, 50):
                self.assertEqual(struct.unpack('>H', payload[4:6])[0], code, payload)
                return payload



class Raw(RawWire, unittest.TestCase):
    """Malformed input gets the right close code."""

    def test_wrong_protocol_header_gets_ours(self):
        s = socket.create_connection(('127.0.0.1', broker.port), timeout=10)
        s.sendall(b'AMQP\x01\x01\x00\x09')
        self.assertEqual(s.recv(8), b'AMQP\x00\x00\x09\x01')
        self.assertEqual(s.recv(8), b'')  # then closed
        s.close()

    def test_bad_frame_end_is_501(self):
        s = self.handshake()
        s.sendall(self.frame(1, 1, struct.pack('>HH', 20, 10) + b'\x00', end=b'\x00'))
        self.expect_close(s, 501)
        s.close()

    def test_frame_on_an_unopened_channel_is_504(self):
        s = self.handshake()
        s.sendall(self.frame(1, 7, struct.pack('>HHH', 50, 10, 0) + b'\x01q\x00' + struct.pack('>I', 0)))
        self.expect_close(s, 504)
        s.close()

    def test_body_without_header_is_505(self):
        s = self.handshake()
        s.sendall(self.frame(1, 1, struct.pack('>HH', 20, 10) + b'\x00'))  # channel.open
        self.read_frame(s)
        s.sendall(self.frame(3, 1, b'stray body'))
        self.expect_close(s, 505)
        s.close()

    def test_unknown_method_is_503_and_truncated_arguments_502(self):
        s = self.handshake()
        s.sendall(self.frame(1, 0, struct.pack('>HH', 10, 99)))
        self.expect_close(s, 503)
        s.close()
        s = self.handshake()
        s.sendall(self.frame(1, 1, struct.pack('>HH', 20, 10) + b'\x00'))
        self.read_frame(s)
        s.sendall(self.frame(1, 1, struct.pack('>HH', 60, 40) + b'\x00'))  # publish, cut short
        self.expect_close(s, 502)
        s.close()

    def test_immediate_is_540(self):
        s = self.handshake()
        s.sendall(self.frame(1, 1, struct.pack('>HH', 20, 10) + b'\x00'))
        self.read_frame(s)
        s.sendall(self.frame(1, 1, struct.pack('>HHH', 60, 40, 0) + b'\x00\x01q\x02'))
        s.sendall(self.frame(2, 1, struct.pack('>HHQH', 60, 0, 0, 0)))
        self.expect_close(s, 540)
        s.close()



class Negotiation(RawWire, unittest.TestCase):
    def test_channel_max_is_negotiated_and_enforced(self):
        s = self.handshake(channel_max=5)
        for ch in range(1, 6):
            s.sendall(self.frame(1, ch, struct.pack('>HH', 20, 10) + b'\x00'))
            t, c, payload = self.read_frame(s)
            self.assertEqual((c, payload[:4]), (ch, struct.pack('>HH', 20, 11)))
        s.sendall(self.frame(1, 6, struct.pack('>HH', 20, 10) + b'\x00'))
        self.expect_close(s, 504)
        s.close()

    def test_missed_heartbeats_close_the_connection(self):
        s = self.handshake(heartbeat=1)
        s.settimeout(30)
        # Say nothing: the broker sends heartbeats, then gives up on us after two
        # intervals and closes the socket.
        frames = []
        while True:
            f = self.read_frame(s)
            if f is None:
                break
            frames.append(f[0])
        self.assertIn(8, frames)  # it sent heartbeats before giving up
        s.close()

    def test_heartbeats_keep_an_idle_pika_connection_open(self):
        conn = connect(heartbeat=1)
        ch = conn.channel()
        conn.sleep(3.5)  # pika answers heartbeats while it sleeps
        q = ch.queue_declare('', exclusive=True).method.queue
        ch.basic_publish('', q, b'alive')
        self.assertEqual(ch.basic_get(q, auto_ack=True)[2], b'alive')
        conn.close()


class IdleConnections(unittest.TestCase):
    def test_deliveries_reach_a_connection_whose_writer_retired(self):
        # weftd's writer fiber retires after a second without output and the next
        # delivery starts a new one: nothing may be lost or late across that handover.
        sub = connect()
        sch = sub.channel()
        q = sch.queue_declare('', exclusive=True).method.queue
        pub = connect()
        pch = pub.channel()
        for round in range(3):
            time.sleep(2.5)  # both connections idle: their writers retire
            pch.basic_publish('', q, b'after-idle-%d' % round)
            got = None
            for method, _, body in sch.consume(q, auto_ack=True, inactivity_timeout=30):
                got = body
                break
            self.assertEqual(got, b'after-idle-%d' % round)
            sch.cancel()
        pub.close()
        sub.close()


class Soak(unittest.TestCase):
    def test_connections_and_channels_churn_without_leaks(self):
        def fds():
            return len(os.listdir('/proc/%d/fd' % broker.proc.pid))

        def rss_kb():
            with open('/proc/%d/status' % broker.proc.pid) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1])

        def churn(rounds):
            for _ in range(rounds):
                conn = connect()
                for _ in range(5):
                    ch = conn.channel()
                    q = ch.queue_declare('', exclusive=True).method.queue
                    ch.basic_publish('', q, b'x' * 1000)
                    ch.basic_consume(q, lambda *a: None)
                    ch.close()
                conn.close()

        churn(20)  # warm up: allocator arenas, stacks
        fds_before, rss_before = fds(), rss_kb()
        churn(200)
        # Connections close asynchronously in the broker: wait until its fds settle.
        for _ in range(100):
            if fds() <= fds_before:
                break
            time.sleep(0.05)
        self.assertLessEqual(fds(), fds_before)
        # ASan and TSan keep freed memory in quarantine: RSS says nothing there.
        if not os.environ.get('WEFT_SANITIZE'):
            self.assertLess(rss_kb() - rss_before, 20 * 1024, 'RSS grew by more than 20 MiB')


class Paging(unittest.TestCase):
    """Past --queue-memory-window a queue keeps new messages on disk until its head
    reaches them, as RabbitMQ's classic queues page long queues: clients see the same
    messages, in the same order, with the same properties and flags."""

    WINDOW = '20000'  # bytes: a few messages in memory, the rest paged

    @staticmethod
    def weftd_vars(w):
        m = re.search(r'serving /debug on http://([0-9.:]+)/', w.read_log())
        with urllib.request.urlopen('http://%s/debug/vars' % m.group(1), timeout=10) as r:
            return json.load(r)['weftd']

    @staticmethod
    def page_files(w):
        """The broker's open unlinked files (its page files)."""
        d = '/proc/%d/fd' % w.proc.pid
        n = 0
        for fd in os.listdir(d):
            try:
                n += os.readlink(os.path.join(d, fd)).endswith('(deleted)')
            except OSError:
                pass
        return n

    @contextlib.contextmanager
    def broker(self, *args):
        """A weftd started with args, a channel on it with queue 'paged' declared; the
        broker must then exit cleanly."""
        with WeftdProcess(WEFTD, *args) as w:
            c = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', w.port))
            ch = c.channel()
            ch.queue_declare('paged')
            yield w, ch
            c.close()
            self.assertEqual(w.stop(), 0)

    @staticmethod
    def message(i):
        # Sizes from empty to several frames (200 KB, over frame_max 131072).
        body = struct.pack('>I', i) * ([0, 1, 25, 1250, 50000][i % 5])
        props = pika.BasicProperties(message_id=str(i), headers={'i': i, 's': 'x' * (i % 7)},
                                     content_type='application/x-%d' % i)
        return body, props

    def publish(self, ch, n, exchange='', key='paged'):
        ch.confirm_delivery()
        for i in range(n):
            body, props = self.message(i)
            ch.basic_publish(exchange, key, body, props)

    def check(self, got, first=0):
        for k, (method, props, body) in enumerate(got):
            i = first + k
            want_body, want_props = self.message(i)
            self.assertEqual(body, want_body, 'message %d' % i)
            self.assertEqual(props.message_id, str(i))
            self.assertEqual(props.headers, want_props.headers)
            self.assertEqual(props.content_type, want_props.content_type)

    def test_paged_messages_come_back_in_order_by_get_and_consume(self):
        with self.broker('--queue-memory-window', self.WINDOW) as (w, ch):
            self.publish(ch, 300)
            v = self.weftd_vars(w)
            self.assertGreater(v['paged_messages'], 250, v)
            self.assertEqual(self.page_files(w), 1)
            self.assertEqual(ch.queue_declare('paged', passive=True).method.message_count, 300)
            got = []
            for _ in range(10):  # basic.get
                method, props, body = ch.basic_get('paged', auto_ack=True)
                got.append((method, props, body))
            got += drain(ch, 'paged', 290)
            self.assertEqual(len(got), 300)
            self.check(got)
            v = self.weftd_vars(w)
            self.assertEqual((v['paged_messages'], v['paged_bytes']), (0, 0), v)

    def test_requeued_messages_keep_their_place_and_flag(self):
        with self.broker('--queue-memory-window', self.WINDOW) as (w, ch):
            self.publish(ch, 200)
            ch.basic_qos(prefetch_count=60)  # (pika's cancel would requeue any more)
            first = drain(ch, 'paged', 60, ack=False)  # unacked, then nacked back
            self.assertEqual(len(first), 60)
            ch.basic_nack(first[-1][0].delivery_tag, multiple=True, requeue=True)
            got = drain(ch, 'paged', 200)
            self.assertEqual(len(got), 200)
            self.check(got)
            self.assertEqual([m.redelivered for m, _, _ in got], [True] * 60 + [False] * 140)

    def test_purge_delete_and_fanout_with_paged_messages(self):
        with self.broker('--queue-memory-window', self.WINDOW) as (w, ch):
            ch.exchange_declare('paged-fan', 'fanout')
            for q in ('fan-a', 'fan-b', 'gone'):
                ch.queue_declare(q)
                ch.queue_bind(q, 'paged-fan')
            self.publish(ch, 150, exchange='paged-fan', key='')
            self.assertEqual(self.page_files(w), 3)
            # Purge: nothing left on disk, and the queue pages again afterwards.
            self.assertEqual(ch.queue_purge('fan-a').method.message_count, 150)
            self.publish(ch, 150, exchange='', key='fan-a')
            # Delete: its file goes with it.
            self.assertEqual(ch.queue_delete('gone').method.message_count, 150)
            self.assertEqual(self.page_files(w), 2)
            for q in ('fan-a', 'fan-b'):
                got = drain(ch, q, 150)
                self.assertEqual(len(got), 150, q)
                self.check(got)
            v = self.weftd_vars(w)
            self.assertEqual((v['paged_messages'], v['paged_bytes']), (0, 0), v)
            self.assertGreaterEqual(v['paged_total'], 400, v)

    def test_a_page_dir_that_cannot_be_written_keeps_messages_in_memory(self):
        with self.broker('--queue-memory-window', self.WINDOW,
                         '--page-dir', '/nonexistent/weftd-pages') as (w, ch):
            self.publish(ch, 100)
            self.assertEqual(self.weftd_vars(w)['paged_total'], 0)
            self.check(drain(ch, 'paged', 100))
            self.assertIn('long queues stay in memory', w.read_log())

    def test_window_zero_keeps_everything_in_memory(self):
        with self.broker('--queue-memory-window', '0') as (w, ch):
            self.publish(ch, 100)
            self.assertEqual(self.weftd_vars(w)['paged_total'], 0)
            self.assertEqual(self.page_files(w), 0)
            self.check(drain(ch, 'paged', 100))


class Metrics(unittest.TestCase):
    """/debug/vars' weftd entry is read from the broker's metrics registry, as snapshots:
    its counts follow connections, channels, queues, consumers and ready messages as
    they come and go."""

    @staticmethod
    def settled(w, want, timeout=10):
        """The vars once every key of want has its value (closes are asynchronous), or
        the last vars seen after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            v = Paging.weftd_vars(w)
            if all(v[k] == x for k, x in want.items()) or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def test_vars_count_connections_channels_queues_and_ready_messages(self):
        with WeftdProcess(WEFTD) as w:
            params = pika.ConnectionParameters('127.0.0.1', w.port)
            c1, c2 = pika.BlockingConnection(params), pika.BlockingConnection(params)
            ch1, ch2, ch3 = c1.channel(), c1.channel(), c2.channel()
            ch1.queue_declare('m1')
            ch1.queue_declare('m2')
            ch1.confirm_delivery()
            for i in range(5):
                ch1.basic_publish('', 'm1', b'x' * i)
            ch3.basic_consume('m2', lambda *a: None)
            want = {'connections': 2, 'channels': 3, 'queues': 2, 'messages_ready': 5,
                    'consumers': 1}
            v = self.settled(w, want)
            self.assertEqual({k: v[k] for k in want}, want, v)
            self.assertGreater(v['message_bytes'], 0)
            c2.close()
            ch2.close()
            want = {'connections': 1, 'channels': 1, 'queues': 2, 'consumers': 0}
            v = self.settled(w, want)
            self.assertEqual({k: v[k] for k in want}, want, v)
            ch1.queue_delete('m1')
            want = {'queues': 1, 'messages_ready': 0, 'message_bytes': 0}
            v = self.settled(w, want)
            self.assertEqual({k: v[k] for k in want}, want, v)
            c1.close()
            v = self.settled(w, {'connections': 0, 'channels': 0})
            self.assertEqual((v['connections'], v['channels']), (0, 0), v)
            self.assertEqual(w.stop(), 0)


class FlowControl(unittest.TestCase):
    def test_memory_alarm_blocks_publishers_until_consumers_drain(self):
        with WeftdProcess(WEFTD, '--memory-high-watermark', '4000000') as w:
            params = pika.ConnectionParameters('127.0.0.1', w.port)
            pub = pika.BlockingConnection(params)
            events = []
            pub.add_on_connection_blocked_callback(lambda c, f: events.append('blocked'))
            pub.add_on_connection_unblocked_callback(lambda c, f: events.append('unblocked'))
            ch = pub.channel()
            ch.queue_declare('flood')
            body = b'x' * 100000
            for _ in range(50):  # 5 MB: over the watermark
                ch.basic_publish('', 'flood', body)
            while 'blocked' not in events:
                pub.process_data_events(time_limit=1)
            # A consumer on another connection is still served, and draining the queue
            # lifts the alarm.
            sub = pika.BlockingConnection(params)
            sch = sub.channel()
            got = 0
            for method, _, _ in sch.consume('flood', auto_ack=True, inactivity_timeout=30):
                self.assertIsNotNone(method, 'the consumer was starved')
                got += 1
                if got == 50:
                    break
            sch.cancel()
            while 'unblocked' not in events:
                pub.process_data_events(time_limit=1)
            ch.basic_publish('', 'flood', b'after')  # publishing works again
            self.assertEqual(ch.queue_declare('flood', passive=True).method.message_count, 1)
            self.assertEqual(events, ['blocked', 'unblocked'])
            sub.close()
            pub.close()
            self.assertEqual(w.stop(), 0)


    def test_publishers_are_paced_to_moving_consumers(self):
        # RabbitMQ's credit flow holds a publisher that outruns the queue it feeds; weftd
        # holds one whose queue piles up in front of consumers that are taking messages
        # (queue.h: 2000 ready messages, released at 1000). A pika publisher is several
        # times faster than a pika consumer that acks each message, so without flow
        # control the queue would hold most of the 40000 messages at some point.
        total = 40000
        consumer = subprocess.Popen([sys.executable, '-c', '''
import sys, pika
c = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', int(sys.argv[1])))
ch = c.channel()
ch.queue_declare('paced')
ch.basic_qos(prefetch_count=10)
n = 0
for m, _, _ in ch.consume('paced', inactivity_timeout=60):
    if m is None:
        break
    ch.basic_ack(m.delivery_tag)
    n += 1
    if n == int(sys.argv[2]):
        break
print(n)
''', str(broker.port), str(total)], stdout=subprocess.PIPE)
        try:
            watcher = connect()
            wch = watcher.channel()
            while wch.queue_declare('paced', passive=False).method.consumer_count == 0:
                time.sleep(0.05)  # wait for the consumer to attach
            pub = connect()
            ch = pub.channel()
            body = b'p' * 200
            deepest = 0
            for i in range(total):
                ch.basic_publish('', 'paced', body)
                if i % 1000 == 999:
                    depth = wch.queue_declare('paced', passive=True).method.message_count
                    deepest = max(deepest, depth)
            out, _ = consumer.communicate(timeout=300)
            self.assertEqual(int(out), total, 'the consumer did not get every message')
            # The bound leaves room for a read buffer of publishes past the threshold and
            # for a consumer that stalls a second; the failure it catches is a queue that
            # grows with the publisher's lead.
            self.assertLess(deepest, 12000, 'the publisher was not paced')
            wch.queue_delete('paced')
            pub.close()
            watcher.close()
        finally:
            if consumer.poll() is None:
                consumer.kill()
                consumer.wait()


class DirectReplyTo(Base):
    def test_rpc_over_amq_rabbitmq_reply_to(self):
        # The server side: another connection answers requests on a queue.
        server = connect()
        sch = server.channel()
        sch.queue_declare('rpc-requests', auto_delete=True)
        replies = []
        self.ch.basic_consume('amq.rabbitmq.reply-to',
                              lambda c, m, p, b: replies.append((p.correlation_id, b)),
                              auto_ack=True)
        self.ch.basic_publish('', 'rpc-requests', b'ping',
                              pika.BasicProperties(reply_to='amq.rabbitmq.reply-to',
                                                   correlation_id='c-1'))
        m, props, body = None, None, None
        while m is None:
            m, props, body = sch.basic_get('rpc-requests', auto_ack=True)
        self.assertTrue(props.reply_to.startswith('amq.rabbitmq.reply-to.'), props.reply_to)
        sch.basic_publish('', props.reply_to, b'pong: ' + body,
                          pika.BasicProperties(correlation_id=props.correlation_id))
        while not replies:
            self.conn.process_data_events(time_limit=1)
        self.assertEqual(replies, [('c-1', b'pong: ping')])
        server.close()

    def test_reply_to_needs_the_reply_consumer(self):
        with self.assertRaises(ChannelClosedByBroker) as e:
            self.ch.basic_publish('', 'x', b'q', pika.BasicProperties(reply_to='amq.rabbitmq.reply-to'))
            self.ch.queue_declare('', exclusive=True)
        self.assertEqual(e.exception.reply_code, 406)

class Shutdown(unittest.TestCase):
    def test_sigterm_closes_connections_with_320_and_exits_0(self):
        with WeftdProcess(WEFTD) as w:
            conn = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', w.port))
            conn.channel()
            w.proc.send_signal(signal.SIGTERM)
            with self.assertRaises(ConnectionClosedByBroker) as e:
                while True:
                    conn.process_data_events(time_limit=1)
            self.assertEqual(e.exception.reply_code, 320)
            self.assertEqual(w.proc.wait(timeout=30), 0)


if __name__ == '__main__':
    WEFTD = sys.argv.pop(1)
    import time
    class _Timed(unittest.TextTestResult):
        def startTest(self, t):
            self._t0 = time.time()
            super().startTest(t)

        def stopTest(self, t):
            if os.environ.get("WEFT_TEST_TIMES"):
                sys.stderr.write("TIME %.1f %s\n" % (time.time() - self._t0, t.id()))
            super().stopTest(t)
    unittest.main(verbosity=2, testRunner=unittest.TextTestRunner(resultclass=_Timed, verbosity=2))
