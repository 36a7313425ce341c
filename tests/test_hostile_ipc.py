"""Hostile input on the process plumbing: garbage on the attach socket, logging from a
signal handler, a spool directory or attach files another user could have planted."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
from pathlib import Path
from typing import List

import pytest

from astralog_logging import ConfigError, _config
from astralog_logging._ipc import _address, _wire
from astralog_logging._ipc._shared import SharedStats
from astralog_logging._listener._spool import Spool
from astralog_logging.handler import DEFAULTS
from astralog_logging.testing import LocalDrain

from ._procs import alive, drain_env, program, run_program, wait_until


def garbage_datagrams(count: int, seed: int) -> List[bytes]:
    """Datagrams no producer of ours writes: random bytes, and real frames cut, padded,
    mislabelled or carrying a body their kind cannot have (STOP included: only the owner
    may stop the listener, and it does so on the pipe)."""
    rng = random.Random(seed)
    good = [_wire.frame(_wire.FLUSH, 7, 0, _wire.flush_body(1 << 20, 1)),
            _wire.frame(_wire.PART, 7, 0, _wire.part_bodies(b"x" * 5000)[0])]
    out = [b"\xff\xff\xff\xfc", b"", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff" + b"x" * 60,
           _wire.frame(_wire.STOP, 7, 0, _wire.stop_body(0.0)),
           _wire.frame(_wire.FLUSH, 7, 0, b"short"),
           _wire.frame(_wire.PART, 7, 0, b"\x00\x05\x00\x02chunk"),  # index past total
           _wire.frame(9, 7, 0, b"unknown kind"),
           _wire.frame(_wire.RECORDS, 7, 0, b"")]
    while len(out) < count:
        frame = rng.choice(good)
        how = rng.randrange(4)
        if how == 0:
            out.append(os.urandom(rng.randrange(1, 200)))
        elif how == 1:
            out.append(frame[: rng.randrange(len(frame))])
        elif how == 2:
            out.append(frame + os.urandom(rng.randrange(1, 20)))
        else:  # a byte of the length, pickle head or trailer changed
            i = rng.choice([*range(11), len(frame) - 1])
            out.append(frame[:i] + bytes([frame[i] ^ rng.randrange(1, 256)]) + frame[i + 1 :])
    return out


def test_no_garbage_datagram_parses_and_none_stalls_the_reader() -> None:
    """Every garbage datagram is refused alone (or is a STOP, which the socket refuses), and
    a byte stream of them never stalls a FrameReader: each feed returns."""
    datagrams = garbage_datagrams(3000, seed=11)
    for data in datagrams:
        frame = _wire.parse_datagram(data)
        assert frame is None or frame.kind == _wire.STOP, data
    reader = _wire.FrameReader()
    for data in datagrams:
        list(reader.feed(data))  # returns: no position that fails to advance
    good = _wire.frame(_wire.RECORDS, 1, 0, b"{}")
    assert _wire.parse_datagram(good) == (_wire.RECORDS, 1, 0, b"{}")


def test_garbage_on_the_attach_socket_costs_nothing(drain: LocalDrain) -> None:
    """The 4-byte datagram and 2,000 other bad ones, sent between records: every record
    arrives, the bad ones are counted as malformed, the listener obeys its owner's death."""
    proc = subprocess.Popen(
        program("hostile_ipc", "garbage"), env=drain_env(drain.endpoint, drain.token),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    listener = int(proc.stdout.readline())
    try:
        out, err = proc.communicate(timeout=90)
        assert out.split()[:1] == ["True"], err
        assert out.split()[1:] == ["2000"], err
        assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(100))
        wait_until(lambda: not alive(listener), 30, "the listener to exit after its owner")
    finally:
        proc.kill()
        if alive(listener):
            os.kill(listener, signal.SIGKILL)


def test_logging_from_a_signal_handler_never_deadlocks(drain: LocalDrain) -> None:
    """A SIGUSR1 handler logs while the main thread logs in a loop, signals arriving every
    fraction of a millisecond: the run ends in bounded time and every record of both
    arrives exactly once."""
    out = run_program("hostile_ipc", "usr1", env=drain_env(drain.endpoint, drain.token),
                      timeout=60)
    main, handled, clean = out.stdout.split()
    assert clean == "True", out.stderr
    assert int(handled) >= 100, out.stdout  # the race was really run
    records = drain.wait_for_records(int(main) + int(handled), timeout=60)
    for src, count in (("main", int(main)), ("handler", int(handled))):
        got = sorted(r["meta"]["i"] for r in records if r["meta"]["src"] == src)
        assert got == list(range(src == "handler", count + (src == "handler"))), src


NOBODY = 65534


def build(spool_dir: str | None = None, endpoint: str = "http://127.0.0.1:9/v1/drain",
          token: str = "t0ken-for-tests") -> _config.Config:
    config = _config.build({**DEFAULTS, "token": token, "project_id": "tests",
                            "service": "pytest", "endpoint": endpoint, "spool_dir": spool_dir})
    assert config is not None
    return config

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making another user's files needs root")


@needs_root
@pytest.mark.parametrize("how", ["another user's", "0777 without sticky", "group-writable"])
def test_a_spool_dir_others_control_is_refused(tmp_path: Path, how: str) -> None:
    """A spool_dir another user owns, or may rename entries in, fails construction with
    one ConfigError naming spool_dir, the path and why."""
    spool = tmp_path / "spool"
    spool.mkdir()
    if how == "another user's":
        os.chown(spool, NOBODY, NOBODY)
    else:
        spool.chmod(0o777 if how.startswith("0777") else 0o770)
    with pytest.raises(ConfigError, match=r"spool_dir: '.*/spool' is (owned by uid 65534|"
                       r"writable by (others|its group))[ ,]"):
        build(str(spool))


@needs_root
def test_a_shared_sticky_spool_dir_is_accepted_but_not_a_planted_subdirectory(
        tmp_path: Path) -> None:
    """Like /tmp, a root-owned sticky 1777 spool_dir is accepted; a per-configuration
    subdirectory another user made in it beforehand is refused by name."""
    spool = tmp_path / "shared"
    spool.mkdir()
    spool.chmod(0o1777)
    config = build(str(spool))
    planted = config.spool_path
    assert planted is not None
    os.mkdir(planted, 0o700)
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(ConfigError, match=r"holds '[0-9a-f]+', which is owned by uid 65534"):
        build(str(spool))
    with pytest.raises(PermissionError):  # and the listener's spool checks again
        Spool(planted, 1 << 20)


def test_planted_links_in_the_spool_are_never_followed(tmp_path: Path) -> None:
    """A .done link beside a segment is never appended through, and a segment that is a
    link (to a valid segment elsewhere) is never adopted and sent."""
    victim = tmp_path / "victim-file"
    victim.write_bytes(b"precious\n")
    directory = tmp_path / "spool"
    spool = Spool(str(directory), 1 << 20)
    seg = spool.append("a" * 32, [b'{"m":1}'])
    spool.gave_up(seg)  # kept, so a later delivery notes its batch in .done
    os.symlink(victim, seg.path + ".done")
    spool.mark_done(seg, "a" * 32)
    assert victim.read_bytes() == b"precious\n"
    elsewhere = tmp_path / "elsewhere.spool"
    elsewhere.write_bytes(Path(seg.path).read_bytes())
    spool.close()
    os.unlink(seg.path + ".done")
    os.unlink(seg.path)
    os.symlink(elsewhere, seg.path)
    assert Spool(str(directory), 1 << 20).resendable() == []


@needs_root
@pytest.mark.parametrize("how", ["chown", "chmod"])
def test_an_attach_address_another_user_controls_is_not_joined(
        drain: LocalDrain, tmp_path: Path, how: str) -> None:
    """ASTRALOG_ATTACH naming a socket and counters another user owns (or may swap) is not
    followed: the app says so, starts its own listener, and every record reaches the drain,
    none the planted socket."""
    workdir = tmp_path / "attach"
    workdir.mkdir(mode=0o700)
    trap = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    trap.bind(str(workdir / "attach"))
    trap.setblocking(False)
    stats = SharedStats.create()
    try:
        for path in (workdir, workdir / "attach", stats.path):
            if how == "chown":
                os.chown(path, NOBODY, NOBODY)
        if how == "chmod":
            workdir.chmod(0o777)
        address = _address.Address(str(workdir / "attach"), stats.path, 1)
        key = _address.key_of(build(endpoint=drain.endpoint, token=drain.token))
        env = drain_env(drain.endpoint, drain.token, ASTRALOG_PROJECT_ID="tests",
                        ASTRALOG_SERVICE="pytest")
        env[_address.ENV] = '{"%s": ["%s", "%s", 1]}' % (key, *address[:2])
        out = run_program("hostile_ipc", "mine", env=env)
        assert out.stdout.split() == ["True"], out.stderr
        assert "not joining the listener advertised in ASTRALOG_ATTACH" in out.stderr
        assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(50))
        with pytest.raises(BlockingIOError):
            trap.recv(1 << 16)
    finally:
        trap.close()
        stats.close()
        stats.unlink()
