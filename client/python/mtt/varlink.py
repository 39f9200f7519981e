"""The varlink protocol as mttd speaks it: one JSON object per message, each ended by a NUL
byte, on a UNIX stream socket; a file descriptor rides as SCM_RIGHTS data on the first byte
of the call that names it (`"fd": 0`)."""
import json
import os
import socket

from .errors import DaemonUnreachable, MttError, from_reply

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
        self._buf = b""

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
        if fds:
            sent = socket.send_fds(self.sock, [data], list(fds))
            if sent < len(data):
                self.sock.sendall(data[sent:])
        else:
            self.sock.sendall(data)

    def receive(self):
        """The next reply: (parameters, continues). A varlink error raises its exception."""
        while b"\0" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MttError("mttd at {} closed the connection".format(self.path))
            self._buf += chunk
            if len(self._buf) > MAX_REPLY:
                raise MttError("a reply from mttd is larger than {} bytes".format(MAX_REPLY))
        frame, self._buf = self._buf.split(b"\0", 1)
        reply = json.loads(frame)
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
