"""mttd's sessions and readings, beyond what the seed had."""
from .varlink import call


def list_sessions(socket_path=None):
    """Running and recently ended sessions (yours; root sees all), as dicts: each with its
    "id", "label", "job" (only when it has one), "state", "ram", "peak" and the rest of
    io.mtt.Tracker's Session."""
    return call("List", socket_path=socket_path)["sessions"]


def status(session_id, socket_path=None):
    """One session in full: label, job (when it has one), state, rows, ram, peak, baseline,
    and how it ended."""
    return call("Status", {"id": int(session_id)}, socket_path=socket_path)["session"]


def sample(socket_path=None):
    """The current reading ("reading": used GiB and the raw kB fields), what mttd's shared
    samples served ("stats"), and each NVIDIA GPU ("gpus": dicts with "index", "name",
    "used_bytes", "total_bytes", and "error" for one that failed), or why there are none
    ("gpu_error")."""
    return call("Sample", socket_path=socket_path)
