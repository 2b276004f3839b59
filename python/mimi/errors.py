"""The one exception hierarchy of mimi.

The Rust extension raises these classes (``pyo3::import_exception!``), so
callers catch the same types whether an error was found in Python or in Rust.
"""

from __future__ import annotations


class MimiError(Exception):
    """Base of every error mimi raises on purpose."""


class DecodeError(MimiError, ValueError):
    """Bytes (TLS presentation language, CBOR, MLS) that do not parse."""


class InvalidSignature(MimiError):
    """A signature that does not verify under the expected key and label."""


class WrongEpoch(MimiError):
    """A handshake or application message for an epoch other than the current one."""


class PolicyError(MimiError):
    """An action the room's policy does not allow."""


class MlsError(MimiError):
    """An MLS operation openmls refused (invalid proposal, commit, Welcome, ...)."""


class StorageError(MimiError):
    """Persisted state that cannot be written or read back."""


class RemoteProtocolError(MimiError):
    """The peer sent something invalid; maps to a protocol error code on the wire."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class InternalError(MimiError):
    """A bug in mimi (including a Rust panic caught at the boundary)."""


class PeerUnavailable(MimiError):
    """Another provider could not be reached, or did not answer, after the bounded retries."""
