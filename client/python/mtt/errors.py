"""mttd's varlink errors as Python exceptions, one class per error name."""
import errno


class MttError(Exception):
    """An error from mttd or on the way to it. `error` is the varlink error name (or None),
    `parameters` what mttd said with it."""

    def __init__(self, message, error=None, parameters=None):
        super().__init__(message)
        self.error = error
        self.parameters = parameters or {}


class DaemonUnreachable(MttError, ConnectionError):
    """No mttd answers at the socket (named in the message, with how to start one)."""


class NoSuchSession(MttError, LookupError):
    pass


class PermissionDenied(MttError, PermissionError):
    pass


class InvalidFileDescriptor(MttError, ValueError):
    pass


class TooManySessions(MttError):
    pass


class TooManyConnections(MttError):
    pass


class InvalidParameter(MttError, ValueError):
    pass


class ProtocolError(MttError):
    pass


class InternalError(MttError):
    pass


class MethodNotFound(MttError):
    pass


class GpuUnavailable(MttError, OSError):
    """A GPU scope where mttd cannot read NVIDIA GPUs: no NVML (libnvidia-ml.so.1, the
    NVIDIA driver's), no GPU, or no GPU of that index. `reason` is mttd's own word for it;
    errno is ENODEV, as the C library returns it."""

    def __init__(self, message, error=None, parameters=None):
        super().__init__(message, error, parameters)
        self.errno = errno.ENODEV

    @property
    def reason(self):
        return self.parameters.get("reason")


_BY_NAME = {
    "io.mtt.Tracker.NoSuchSession": NoSuchSession,
    "io.mtt.Tracker.PermissionDenied": PermissionDenied,
    "io.mtt.Tracker.InvalidFileDescriptor": InvalidFileDescriptor,
    "io.mtt.Tracker.TooManySessions": TooManySessions,
    "io.mtt.Tracker.TooManyConnections": TooManyConnections,
    "io.mtt.Tracker.InvalidParameter": InvalidParameter,
    "io.mtt.Tracker.ProtocolError": ProtocolError,
    "io.mtt.Tracker.InternalError": InternalError,
    "org.varlink.service.InvalidParameter": InvalidParameter,
    "org.varlink.service.MethodNotFound": MethodNotFound,
    "io.mtt.Tracker.GpuUnavailable": GpuUnavailable,
}


def from_reply(error, parameters):
    """The exception for a varlink error reply."""
    cls = _BY_NAME.get(error, MttError)
    if cls is GpuUnavailable:
        return cls("cannot track GPU memory: {}".format(
            (parameters or {}).get("reason") or "mttd reads no NVIDIA GPU"), error, parameters)
    detail = ", ".join("{}={}".format(k, v) for k, v in sorted((parameters or {}).items()))
    return cls("mttd answered {}{}".format(error, " (" + detail + ")" if detail else ""),
               error, parameters)
