"""ServerProfiles on a real SQLite file and a real PostgreSQL: round trips, errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine.ports import NotFound, StoreError
from app.remote.ssh.profile import AuthKind, ServerProfile
from app.store.places import sqlite_url
from app.store.servers import InvalidProfile, ServerProfiles
from app.store.store import Store
from tests.servers.conftest import make_profile


@pytest.fixture
def profiles(store_url: str) -> Iterator[ServerProfiles]:
    """ServerProfiles over an empty database, once per backend."""
    with Store(store_url, busy_timeout=5.0) as store:
        yield ServerProfiles(store)


@pytest.mark.parametrize(
    "profile",
    [
        make_profile(),
        make_profile(name="agent.box_1", auth=AuthKind.AGENT, key_file=None, setup="",
                     gpus=None, allow_busy_gpus=False),
        make_profile(name="pw", auth=AuthKind.PASSWORD, key_file=None, gpus=()),
        ServerProfile(name="minimal", host="h", user="u"),
    ],
    ids=["every-field", "agent-all-gpus", "password-no-gpus", "defaults"],
)
def test_round_trip_keeps_every_field(profiles: ServerProfiles, profile: ServerProfile) -> None:
    assert profiles.add(profile) == profile
    assert profiles.get(profile.name) == profile
    assert profiles.list() == [profile]


def test_gpus_none_and_empty_stay_distinct(profiles: ServerProfiles) -> None:
    profiles.add(make_profile(name="all", gpus=None))
    profiles.add(make_profile(name="none", gpus=()))
    assert profiles.get("all").gpus is None
    assert profiles.get("none").gpus == ()


def test_list_is_sorted_by_name(profiles: ServerProfiles) -> None:
    for name in ("zeta", "alpha", "Mid"):
        profiles.add(make_profile(name=name))
    assert [p.name for p in profiles.list()] == sorted(["zeta", "alpha", "Mid"])


def test_taken_name_is_refused_by_name(profiles: ServerProfiles) -> None:
    profiles.add(make_profile())
    with pytest.raises(StoreError, match="a server profile named 'gpu-box' already exists"):
        profiles.add(make_profile(host="elsewhere"))
    assert profiles.get("gpu-box").host == "10.1.2.3"


def test_update_replaces_every_field(profiles: ServerProfiles) -> None:
    profiles.add(make_profile())
    changed = make_profile(host="new-host", port=22, auth=AuthKind.AGENT, key_file=None,
                           setup="", gpus=None, max_parallel=1, allow_busy_gpus=False)
    assert profiles.update(changed) == changed
    assert profiles.get("gpu-box") == changed


def test_update_and_remove_of_unknown_name_raise_not_found(profiles: ServerProfiles) -> None:
    with pytest.raises(NotFound, match="no server profile named 'ghost'"):
        profiles.update(make_profile(name="ghost"))
    with pytest.raises(NotFound, match="no server profile named 'ghost'"):
        profiles.remove("ghost")
    with pytest.raises(NotFound, match="no server profile named 'ghost'"):
        profiles.get("ghost")


def test_remove_forgets_only_that_profile(profiles: ServerProfiles) -> None:
    profiles.add(make_profile(name="a"))
    profiles.add(make_profile(name="b"))
    profiles.remove("a")
    assert [p.name for p in profiles.list()] == ["b"]
    profiles.add(make_profile(name="a"))  # the name is free again
    assert {p.name for p in profiles.list()} == {"a", "b"}


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"name": "has space"}, "name must be 1-64 letters"),
    ({"name": "local"}, "the name 'local' is this machine"),
    ({"host": "  "}, "host is empty"),
    ({"user": ""}, "user is empty"),
    ({"port": 0}, "port must be 1-65535, got 0"),
    ({"port": 70000}, "port must be 1-65535, got 70000"),
    ({"auth": AuthKind.KEY, "key_file": None}, "auth is 'key' but no key file is given"),
    ({"workdir": ""}, "workdir is empty"),
    ({"max_parallel": 0}, "max parallel must be >= 1, got 0"),
    ({"trials_per_gpu": 0}, "trials per GPU must be >= 1, got 0"),
    ({"gpus": (0, -1)}, "GPU indices must be >= 0, got [0, -1]"),
    ({"host": "h" * 256}, "host is longer than 255 characters"),
    ({"user": "u" * 256}, "user is longer than 255 characters"),
    ({"port": "22"}, "port must be an integer, got '22'"),
    ({"max_parallel": True}, "max parallel must be an integer, got True"),
    ({"auth": "key"}, "auth must be one of agent, key, password, got 'key'"),
    ({"gpus": [0, 1]}, "GPUs must be a tuple of indices or None, got [0, 1]"),
    ({"allow_busy_gpus": "yes"}, "allow busy GPUs must be true or false, got 'yes'"),
    ({"setup": None}, "setup must be text, got None"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_FIELDS,
                         ids=[next(iter(c)) + "-" + str(i) for i, (c, _) in enumerate(BAD_FIELDS)])
def test_each_bad_field_is_named_and_nothing_is_stored(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with Store(sqlite_url(tmp_path / "s.db")) as store:
        profiles = ServerProfiles(store)
        with pytest.raises(InvalidProfile) as caught:
            profiles.add(make_profile(**changes))
        name = changes.get("name", "gpu-box")
        assert any(p.startswith(f"server {name!r}: ") and message in p
                   for p in caught.value.problems), caught.value.problems
        assert profiles.list() == []


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    bad = make_profile(host="", user="", port=0, max_parallel=0)
    with (Store(sqlite_url(tmp_path / "s.db")) as store,
          pytest.raises(InvalidProfile) as caught):
        ServerProfiles(store).add(bad)
    assert len(caught.value.problems) == 4
    assert str(caught.value).count("\n") == 3


def test_update_validates_too(tmp_path: Path) -> None:
    with Store(sqlite_url(tmp_path / "s.db")) as store:
        profiles = ServerProfiles(store)
        profiles.add(make_profile())
        with pytest.raises(InvalidProfile, match="port must be 1-65535"):
            profiles.update(make_profile(port=-5))
        assert profiles.get("gpu-box").port == 2202


def test_not_a_profile_is_a_value_error(tmp_path: Path) -> None:
    with (Store(sqlite_url(tmp_path / "s.db")) as store,
          pytest.raises(ValueError, match="expected a ServerProfile, got dict")):
        ServerProfiles(store).add({"name": "x"})  # type: ignore[arg-type]


def test_profiles_survive_reopening_the_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "s.db")
    profile = make_profile()
    with Store(url) as store:
        ServerProfiles(store).add(profile)
    with Store(url) as store:
        assert ServerProfiles(store).get("gpu-box") == profile


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "s.db"))
    profiles = ServerProfiles(store)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        profiles.list()


def test_profile_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_profile().host = "x"  # type: ignore[misc]
