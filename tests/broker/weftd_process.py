"""weftd_process: start a real weftd on a free loopback port for a test, and stop it.

    with WeftdProcess(path_to_weftd) as w:
        pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', w.port))

The broker's log goes to a temporary file, printed if the test fails to start it.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class WeftdProcess:
    def __init__(self, binary, *extra_args):
        self.binary = binary
        self.extra = list(extra_args)
        self.port = free_port()
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix='weftd-', suffix='.log', delete=False)

    def __enter__(self):
        self.proc = subprocess.Popen(
            [self.binary, '--amqp-listen', '127.0.0.1:%d' % self.port,
             '--http-listen', '127.0.0.1:0'] + self.extra,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('weftd exited early:\n' + self.read_log())
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('weftd did not start:\n' + self.read_log())

    def read_log(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig and returns weftd's exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.stop()
        os.unlink(self.log.name)
        return False
