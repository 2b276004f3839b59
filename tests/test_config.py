"""`provider.toml` for `mimi serve`: a good file reads as written; every bad one
gets a ConfigError naming the file and the key, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimi.config import MAX_BODY, ConfigError, Listen, load

GOOD = """
domain = "a.example"
data_dir = "data"
clients = ["mimi://a.example/d/alice/phone", "mimi://a.example/d/bob/laptop"]
rooms = ["mimi://a.example/r/clubhouse"]

[listen]
host = "127.0.0.1"
port = 0

[tls]
cert = "a.pem"
key = "a.key"
ca = "ca.pem"

[peers."b.example"]
url = "https://127.0.0.1:8444/"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("a.pem", "a.key", "ca.pem", "other-ca.pem"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "provider.toml"
    path.write_text(text)
    return path


def test_a_good_file_reads_as_written(folder: Path) -> None:
    config = load(write(folder, GOOD))
    assert config.domain == "a.example"
    assert config.data_dir == folder / "data"  # relative to the file
    assert config.clients == ("mimi://a.example/d/alice/phone", "mimi://a.example/d/bob/laptop")
    assert config.rooms == ("mimi://a.example/r/clubhouse",)
    assert config.listen == Listen("127.0.0.1", 0)
    assert (config.tls.cert, config.tls.key, config.tls.ca) == (folder / "a.pem", folder / "a.key", folder / "ca.pem")
    assert config.max_body == MAX_BODY
    peer = config.peers["b.example"]
    assert (peer.url, peer.ca) == ("https://127.0.0.1:8444", folder / "ca.pem")  # ca defaults to tls.ca


def test_defaults_and_a_peer_ca(folder: Path) -> None:
    text = GOOD.replace('[listen]\nhost = "127.0.0.1"\nport = 0\n', "")
    text += 'ca = "other-ca.pem"\n[limits]\nmax_body = 4096\nmax_connections = 64\nmax_connections_per_address = 16\n'
    config = load(write(folder, text))
    assert (config.max_connections, config.max_connections_per_address) == (64, 16)
    assert config.listen == Listen()
    assert config.peers["b.example"].ca == folder / "other-ca.pem"
    assert config.max_body == 4096


BAD = [
    ("missing domain", lambda t: t.replace('domain = "a.example"\n', ""), "domain: missing (required)"),
    ("domain with a port", lambda t: t.replace('"a.example"', '"a.example:443"', 1), "domain: not a lowercase DNS name"),
    ("domain not a string", lambda t: t.replace('domain = "a.example"', "domain = 7"), "domain: must be a string, got an integer 7"),
    ("misspelled key", lambda t: t.replace("[listen]\nhost", "[listen]\nhots"), "listen.hots: unknown key"),
    ("unknown top-level key", lambda t: "colour = 1\n" + t, "colour: unknown key"),
    ("host name to bind", lambda t: t.replace('host = "127.0.0.1"', 'host = "localhost"'), "listen.host: must be an IP address"),
    ("port out of range", lambda t: t.replace("port = 0", "port = 70000"), "listen.port: must be between 0 and 65535, got 70000"),
    ("port as a boolean", lambda t: t.replace("port = 0", "port = true"), "listen.port: must be an integer, got a boolean True"),
    ("no tls", lambda t: t.replace('[tls]\ncert = "a.pem"\nkey = "a.key"\nca = "ca.pem"\n', ""), "tls: missing (required"),
    ("missing cert file", lambda t: t.replace('cert = "a.pem"', 'cert = "nope.pem"'), "tls.cert: no such file"),
    ("missing key", lambda t: t.replace('key = "a.key"\n', ""), "tls.key: missing (required)"),
    ("client of another domain", lambda t: t.replace("mimi://a.example/d/bob/laptop", "mimi://b.example/d/bob/laptop"),
     "clients[1]: mimi://b.example/d/bob/laptop is not a client of a.example"),
    ("user URI as a client", lambda t: t.replace("mimi://a.example/d/bob/laptop", "mimi://a.example/u/bob"),
     "clients[1]: expected a client URI"),
    ("client twice", lambda t: t.replace("mimi://a.example/d/bob/laptop", "mimi://a.example/d/alice/phone"), "clients[1]: "),
    ("clients not an array", lambda t: t.replace('clients = [', 'clients = "x"\nnot_clients = [', 1), "clients: must be an array"),
    ("room of another domain", lambda t: t.replace("mimi://a.example/r/clubhouse", "mimi://b.example/r/clubhouse"),
     "rooms[0]: mimi://b.example/r/clubhouse is not a room of a.example"),
    ("peer over plain http", lambda t: t.replace("https://127.0.0.1:8444/", "http://127.0.0.1:8444"), 'peers.b.example.url: must be an https:// base URL'),
    ("peer without url", lambda t: t.replace('url = "https://127.0.0.1:8444/"', 'uri = "x"'), "peers.b.example.url: missing (required)"),
    ("peer is ourselves", lambda t: t.replace('[peers."b.example"]', '[peers."a.example"]'), "peers.a.example: is this provider's own domain"),
    ("peer missing ca", lambda t: t + 'ca = "gone.pem"\n', "peers.b.example.ca: no such file"),
    ("body limit too small", lambda t: t + "[limits]\nmax_body = 10\n", "limits.max_body: must be between 1024"),
    ("no connections", lambda t: t + "[limits]\nmax_connections = 0\n", "limits.max_connections: must be between 1"),
    ("more per address than in all", lambda t: t + "[limits]\nmax_connections = 8\nmax_connections_per_address = 9\n",
     "limits.max_connections_per_address: must be between 1 and max_connections (8), got 9"),
    ("not toml", lambda t: t + "[[[", "not valid TOML"),
]


@pytest.mark.parametrize(("change", "message"), [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_file_names_the_key(folder: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    path = write(folder, change(GOOD))
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert not (folder / "data").exists()  # nothing was created


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"provider\.toml: cannot read"):
        load(tmp_path / "provider.toml")
    (tmp_path / "provider.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(tmp_path / "provider.toml")


def test_data_dir_that_is_a_file(folder: Path) -> None:
    (folder / "data").write_text("")
    with pytest.raises(ConfigError, match="data_dir: not a directory"):
        load(write(folder, GOOD))
