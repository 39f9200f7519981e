"""The varlink protocol as mttd speaks it: one JSON object per message, each ended by a NUL
byte, on a UNIX stream socket; a file descriptor rides as SCM_RIGHTS data on the first byte
of the call that names it (`"fd": 0`)."""
import json
import os
import socket

from .errors import DaemonUnreachable, MttError, ProtocolError, from_reply

SOCKET_NAME = "io.mtt.Tracker"
SYSTEM_SOCKET = "/run/mtt/" + SOCKET_NAME
INTERFACE = "io.mtt.Tracker"
MAX_REPLY = 16 << 20


def socket_path(path=None):
    """Where mttd is, as libmtt-client finds it: the path given, $MTT_SOCKET, the user
    instance's socket if it exists, else the system socket."""
    if path:
        return path
    env = os.environ.get("MTT_SOCKET")
    if env:
        return env
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        user = os.path.join(runtime, "mtt", SOCKET_NAME)
        if os.path.exists(user):
            return user
    return SYSTEM_SOCKET


class Connection:
    """A blocking varlink connection to mttd. Its socket is close-on-exec (Python's default),
    so a child the caller starts never keeps a session alive."""

    def __init__(self, path=None, timeout=30.0):
        self.path = socket_path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except OSError as e:
            self.sock.close()
            raise DaemonUnreachable(
                "cannot reach mttd at {}: {}. Start it with 'systemctl start mttd' (or "
                "'systemctl --user start mttd'), or run 'mttd --socket PATH' and set "
                "MTT_SOCKET=PATH".format(self.path, e.strerror or e)) from e
        self._buf = bytearray()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, method, parameters=None, fds=(), more=False):
        msg = {"method": INTERFACE + "." + method if "." not in method else method}
        if parameters:
            msg["parameters"] = parameters
        if more:
            msg["more"] = True
        data = json.dumps(msg, separators=(",", ":")).encode() + b"\0"
        try:
            if fds:
                sent = socket.send_fds(self.sock, [data], list(fds))
                if sent < len(data):
                    self.sock.sendall(data[sent:])
            else:
                self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # mttd may have refused the connection (TooManyConnections) before the call
            # went out: its reason waits to be read.
            self.receive()
            raise

    def receive(self):
        """The next reply: (parameters, continues). A varlink error raises its exception."""
        end = self._buf.find(b"\0")
        while end < 0:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise MttError("no answer from mttd at {}: {}".format(self.path, e)) from e
            if not chunk:
                raise MttError("mttd at {} closed the connection".format(self.path))
            seen = len(self._buf)
            self._buf += chunk
            end = self._buf.find(b"\0", seen)  # only the new bytes can end the message
            if end < 0 and len(self._buf) > MAX_REPLY:
                raise MttError("a reply from mttd is larger than {} bytes".format(MAX_REPLY))
        frame = bytes(self._buf[:end])
        del self._buf[:end + 1]
        try:
            reply = json.loads(frame)
        except ValueError as e:
            raise ProtocolError("mttd sent something that is not JSON") from e
        parameters = reply.get("parameters") or {}
        if "error" in reply:
            raise from_reply(reply["error"], parameters)
        return parameters, bool(reply.get("continues"))

    def call(self, method, parameters=None, fds=()):
        self.send(method, parameters, fds)
        return self.receive()[0]


def call(method, parameters=None, socket_path=None):
    """One call on a connection of its own."""
    with Connection(socket_path) as c:
        return c.call(method, parameters)
