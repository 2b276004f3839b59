"""MIMI URIs (draft-mahy-mimi-identity)."""

from __future__ import annotations

import pytest

from mimi.errors import DecodeError
from mimi.ids import MimiUri, UriKind, client_uri, domain, is_client, parse, user_of, user_uri


@pytest.mark.parametrize(
    ("uri", "kind", "dom", "path"),
    [
        ("mimi://a.example", UriKind.provider, "a.example", ()),
        ("mimi://a.example/u/alice", UriKind.user, "a.example", ("alice",)),
        ("mimi://a.example/d/alice/phone", UriKind.client, "a.example", ("alice", "phone")),
        ("mimi://a.example/r/clubhouse", UriKind.room, "a.example", ("clubhouse",)),
        ("mimi://a.example/g/clubhouse", UriKind.group, "a.example", ("clubhouse",)),
        ("mimi://a.example/p/crazykoala75", UriKind.pseudonym, "a.example", ("crazykoala75",)),
        ("mimi://irc.example.com/u/jcapulet1583@example.com", UriKind.user, "irc.example.com", ("jcapulet1583@example.com",)),
    ],
)
def test_parse_valid(uri: str, kind: UriKind, dom: str, path: tuple[str, ...]) -> None:
    parsed = parse(uri)
    assert parsed == MimiUri(kind, dom, path)
    assert str(parsed) == uri
    assert domain(uri) == dom


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://a.example/u/alice", "scheme"),
        ("mimi://", "invalid domain"),
        ("mimi://A.example/u/alice", "invalid domain"),
        ("mimi://a.example:443/u/alice", "invalid domain"),
        ("mimi://-a.example", "invalid domain"),
        ("mimi://a.example/", "empty path"),
        ("mimi://a.example/x/alice", "unknown MIMI URI kind"),
        ("mimi://a.example/u", "wrong number of path segments"),
        ("mimi://a.example/u/alice/phone", "wrong number of path segments"),
        ("mimi://a.example/d/phone", "wrong number of path segments"),
        ("mimi://a.example/u/", "invalid path segment"),
        ("mimi://a.example/u/al ice", "invalid path segment"),
        ("mimi://a.example/u/alice?x=1", "invalid path segment"),
        ("mimi://a.example/u/alice#f", "invalid path segment"),
    ],
)
def test_parse_invalid(uri: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse(uri)


def test_parse_checks_the_kind() -> None:
    with pytest.raises(DecodeError, match="expected a client URI, got a user URI"):
        parse("mimi://a.example/u/alice", UriKind.client)


def test_user_of_client() -> None:
    assert user_of("mimi://a.example/d/alice/phone") == "mimi://a.example/u/alice"
    with pytest.raises(ValueError, match="expected a client URI"):
        user_of("mimi://a.example/u/alice")


def test_builders_and_is_client() -> None:
    assert user_uri("b.example", "bob") == "mimi://b.example/u/bob"
    assert client_uri("b.example", "bob", "laptop") == "mimi://b.example/d/bob/laptop"
    assert is_client("mimi://b.example/d/bob/laptop")
    assert not is_client("mimi://b.example/u/bob")
    assert not is_client("not a uri")
    with pytest.raises(DecodeError):
        user_uri("b.example", "bob/evil")
