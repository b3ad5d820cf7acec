"""A TCP proxy in front of a server, that can refuse or hang like a broken one.

The notification tests and ``bench.notifications`` put it between the API
and RabbitMQ, so that they can take the broker away without touching the
shared server: ``stop`` closes the port (connections refused), ``start``
opens it again, ``blackhole`` accepts connections and answers nothing.
"""

from __future__ import annotations

import select
import socket
import threading


class Proxy:
    """Forwards a free local port to ``target``; ``stop`` refuses connections,
    ``blackhole`` accepts them and forwards nothing (a hung server)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.address = self.listener.getsockname()
        self.listener.listen(64)
        self.mode = "forward"
        self.accepted = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        listener = self.listener
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if listener is not self.listener or not self.running:
                client.close()
                return
            with self.lock:
                self.sockets.append(client)
                self.accepted += 1
            if self.mode == "blackhole":
                continue  # accepted, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.append(upstream)
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def _drop_connections(self) -> None:
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def stop(self) -> None:
        """Close the port and every connection through it: connections are refused."""
        self.running = False
        # shutdown wakes the thread blocked in accept(); close alone would
        # leave the port listening until that accept returned.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self._drop_connections()

    def start(self) -> None:
        """Listen again on the same port."""
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(self.address)
        self.listener.listen(64)
        self.running = True
        self.mode = "forward"
        threading.Thread(target=self._accept, daemon=True).start()

    def blackhole(self) -> None:
        """Keep the port open but answer nothing, on new and existing connections."""
        self.mode = "blackhole"
        self._drop_connections()

    def close(self) -> None:
        self.stop()
