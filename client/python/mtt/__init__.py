"""mtt: the Python client of mttd, the memory-and-time tracker daemon, and a drop-in for
memory_time_tracker (0.0.5): `from mtt import Tracker, has_completed_successfully, ...`.

Tracking needs only the standard library; plot_reports needs matplotlib."""
from .errors import (DaemonUnreachable, GpuUnavailable, InternalError, InvalidFileDescriptor,
                     InvalidParameter, MethodNotFound, MttError, NoSuchSession, PermissionDenied,
                     ProtocolError, TooManyConnections, TooManySessions)
from .plot import plot_reports
from .reports import (COMPLETED, CRASHED_GRACEFULLY, CRASHED_UNGRACEFULLY, NOT_A_REPORT,
                      has_completed_successfully, has_crashed_gracefully,
                      has_crashed_ungracefully, verdict)
from .sessions import list_sessions, sample, status
from .tracker import Tracker
from .varlink import socket_path

__version__ = "0.1.0"
__all__ = [
    "Tracker", "has_completed_successfully", "has_crashed_gracefully",
    "has_crashed_ungracefully", "verdict", "COMPLETED", "CRASHED_GRACEFULLY",
    "CRASHED_UNGRACEFULLY", "NOT_A_REPORT", "plot_reports", "list_sessions", "status", "sample",
    "socket_path", "MttError", "DaemonUnreachable", "NoSuchSession", "PermissionDenied",
    "InvalidFileDescriptor", "TooManySessions", "TooManyConnections", "InvalidParameter",
    "ProtocolError", "InternalError", "MethodNotFound", "GpuUnavailable",
]
