"""A tiny TCP forwarder for tests: put it between a client and RabbitMQ, then `cut()` it.

    with TcpProxy() as proxy:                 # listens on 127.0.0.1:<free port>
        uri = proxy.uri_for(amqp_uri)         # same credentials and vhost, via the proxy
        ...
        proxy.cut()                           # drop every connection, refuse new ones
        proxy.restore()                       # forward again

Works with plain threads and under eventlet's monkey patch (green threads and sockets).
Every socket has one reader (its pump) and at most one writer (the opposite pump), which
is what eventlet allows; `cut()` shuts sockets down so a blocked recv returns at once.
"""
from __future__ import annotations

import socket
import threading
from typing import Set, Tuple
from urllib.parse import urlsplit, urlunsplit

_ACCEPT_POLL = 0.2  # how often the accept loop checks whether it should stop


def _kill(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class TcpProxy:
    def __init__(self, target: Tuple[str, int] = ("127.0.0.1", 5672), host: str = "127.0.0.1",
                 port: int = 0):
        self.target = target
        self._lock = threading.Lock()
        self._conns: Set[socket.socket] = set()
        self._cut = False
        self._closed = False
        self.accepted = 0  # connections forwarded so far (diagnostics)
        self.refused = 0   # connections dropped because the proxy was cut
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self._listener.settimeout(_ACCEPT_POLL)
        self.host, self.port = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy",
                                        daemon=True)
        self._thread.start()

    # -- control -------------------------------------------------------------------------
    @property
    def is_cut(self) -> bool:
        return self._cut

    def uri_for(self, uri: str) -> str:
        """`uri` (e.g. amqp://user:pw@host:5672/vhost) rewritten to go through this proxy."""
        parts = urlsplit(uri)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def cut(self) -> None:
        """Close every current connection (both ends) and refuse new ones until restore()."""
        with self._lock:
            self._cut = True
            conns, self._conns = list(self._conns), set()
        for sock in conns:
            _kill(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._thread.join(timeout=5)
        _kill(self._listener)

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._closed:
                    return
                continue
            client.settimeout(None)
            if self._cut or self._closed:
                self.refused += 1
                _kill(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _kill(client)
                continue
            with self._lock:
                if self._cut or self._closed:  # cut while we were connecting upstream
                    self.refused += 1
                    _kill(client)
                    _kill(upstream)
                    continue
                self._conns.update((client, upstream))
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), name="tcp-proxy-pump",
                                 daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, EOFError):  # eventlet raises IOClosed, or EOFError on a socket
            pass                      # closed under a pending recv, when a side is killed
        finally:
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            _kill(src)
            _kill(dst)
