"""The directory of endpoint URLs (draft-ietf-mimi-protocol §Directory) and the
paths it names, sans-IO: building a path from a template, and finding the endpoint
and parameters of a request target.

A path parameter is one full MIMI URI, percent-encoded as one path segment
(`/notify/mimi%3A%2F%2Fa.example%2Fr%2Fclubhouse`). Every endpoint sits under an
optional prefix (`/v1` in the draft's example), which callers learn only from the
peer's directory; the directory itself is always at the well-known path (RFC 8615).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from mimi import ids
from mimi.errors import DecodeError
from mimi.ids import UriKind

WELL_KNOWN = "/.well-known/mimi-protocol-directory"

# draft-ietf-mimi-protocol §MIMI Endpoints and Framing: each endpoint's name in the
# directory, its one path parameter and the kind of MIMI URI that parameter is.
# Readings (docs/interop.md, "HTTPS"): the directory's `update{roomId}` is
# `/update/{roomId}` as in §Update Room State; the consent endpoints take the
# directory's `{targetUser}` and `{requesterUser}` (user URIs), not §Convey explicit
# consent's `{targetDomain}`/`{requesterDomain}`; `{domain}` is a provider URI.
# `proxyDownload` (a GET of an https URL, not a MIMI URI) is not served.
PARAMETERS: dict[str, tuple[str, UriKind]] = {
    "keyMaterial": ("targetUser", UriKind.user),
    "update": ("roomId", UriKind.room),
    "notify": ("roomId", UriKind.room),
    "submitMessage": ("roomId", UriKind.room),
    "groupInfo": ("roomId", UriKind.room),
    "requestConsent": ("targetUser", UriKind.user),
    "updateConsent": ("requesterUser", UriKind.user),
    "identifierQuery": ("domain", UriKind.provider),
    "reportAbuse": ("roomId", UriKind.room),
    # Beyond the draft (docs/interop.md, "HTTPS"): the room's external sender (its hub's
    # signature key and identity), which a client verifies a GroupInfoResponse with.
    "hubSender": ("roomId", UriKind.room),
}


def template(endpoint: str, prefix: str = "") -> str:
    """The path template of `endpoint` under `prefix`: `/v1/notify/{roomId}`."""
    return f"{prefix}/{endpoint}/{{{PARAMETERS[endpoint][0]}}}"


def check_prefix(prefix: str) -> str:
    """A prefix is empty or `/segment[/segment...]`, without a trailing slash."""
    if prefix and (not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix or "%" in prefix):
        raise ValueError(f"a path prefix is empty or like '/v1' (no trailing slash), got {prefix!r}")
    return prefix


def check_parameter(endpoint: str, value: str) -> str:
    """`value` as the canonical MIMI URI that `endpoint`'s parameter must be, else
    DecodeError naming the parameter."""
    name, kind = PARAMETERS[endpoint]
    try:
        parsed = ids.parse(value, kind)
    except DecodeError as e:
        raise DecodeError(f"{{{name}}}: {e}") from None
    if str(parsed) != value:
        raise DecodeError(f"{{{name}}}: not in canonical form: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Directory:
    """One provider's endpoints: name -> path template (no scheme or host: a caller
    connects to the address its peer table gives, and never elsewhere)."""

    paths: Mapping[str, str]

    @classmethod
    def serving(cls, endpoints: list[str], prefix: str = "") -> Directory:
        check_prefix(prefix)
        return cls({e: template(e, prefix) for e in endpoints})

    def to_json(self, authority: str) -> bytes:
        """The directory document, with absolute URLs on `authority` (`a.example`, or
        `a.example:8443`) as the draft's example shows."""
        return json.dumps({name: f"https://{authority}{path}" for name, path in self.paths.items()}).encode()

    @classmethod
    def from_json(cls, document: bytes, domain: str) -> Directory:
        """Parse the directory that provider `domain` served. Its URLs must be https on
        `domain` (any port: the peer table gives the address), so a directory cannot
        send our authenticated requests elsewhere. Unknown names are ignored; a known
        name's URL must end in its one parameter."""
        try:
            entries = json.loads(document)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DecodeError(f"directory of {domain} is not JSON: {e}") from None
        if not isinstance(entries, dict):
            raise DecodeError(f"directory of {domain} is not a JSON object")
        paths = {}
        for name, url in entries.items():
            if name not in PARAMETERS:
                continue
            if not isinstance(url, str):
                raise DecodeError(f"directory of {domain}: {name} is not a string")
            parts = urlsplit(url)
            if parts.scheme != "https" or parts.hostname != domain or parts.query or parts.fragment:
                raise DecodeError(f"directory of {domain}: {name} is not an https URL on {domain}: {url!r}")
            prefix, _, last = parts.path.rpartition("/")
            if last != f"{{{PARAMETERS[name][0]}}}":
                raise DecodeError(f"directory of {domain}: {name} does not end in /{{{PARAMETERS[name][0]}}}: {url!r}")
            try:
                check_prefix(prefix)
            except ValueError as e:
                raise DecodeError(f"directory of {domain}: {name}: {e}") from None
            paths[name] = parts.path
        return cls(paths)

    def path(self, endpoint: str, params: Mapping[str, str]) -> str:
        """The request path for `endpoint`, its parameter (a MIMI URI) percent-encoded."""
        try:
            path = self.paths[endpoint]
        except KeyError:
            raise DecodeError(f"the peer's directory has no {endpoint}") from None
        name = PARAMETERS[endpoint][0]
        if set(params) != {name}:
            raise DecodeError(f"{endpoint} takes one parameter, {{{name}}}; got {sorted(params)}")
        return path.replace(f"{{{name}}}", quote(check_parameter(endpoint, params[name]), safe=""))

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """(endpoint, {name: MIMI URI}) for a request path (without its query), the
        parameter checked; None if no endpoint's path has this shape; DecodeError
        naming the parameter if it is not the URI the endpoint takes."""
        prefix, _, encoded = path.rpartition("/")
        prefix, _, endpoint = prefix.rpartition("/")
        if endpoint not in self.paths or self.paths[endpoint] != template(endpoint, prefix):
            return None
        name = PARAMETERS[endpoint][0]
        try:
            value = unquote(encoded, errors="strict")
        except UnicodeDecodeError:
            raise DecodeError(f"{{{name}}} is not percent-encoded UTF-8") from None
        return endpoint, {name: check_parameter(endpoint, value)}
