import os

import pytest
from django.core.cache import cache

from packages import cache as packages_cache
from packages.cache import Generation, purge_project, simple_detail_key, simple_index_key


def test_generation_starts_at_zero_and_bumps(tmp_path):
    generation = Generation(tmp_path / "sub" / "gen")
    assert generation.read() == 0
    generation.bump()
    generation.bump()
    assert generation.read() == 2
    assert Generation(tmp_path / "sub" / "gen").read() == 2  # another process's view


def test_generation_reopens_its_file_in_a_forked_process(tmp_path, monkeypatch):
    generation = Generation(tmp_path / "gen")
    generation.bump()
    first = generation._descriptor()
    monkeypatch.setattr(os, "getpid", lambda: -1)
    generation.bump()
    assert generation._descriptor() != first
    assert generation.read() == 2


def test_generation_lock_is_released_when_the_write_fails(tmp_path, monkeypatch):
    generation = Generation(tmp_path / "gen")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "pwrite", broken)
    with pytest.raises(OSError, match="disk full"):
        generation.bump()
    monkeypatch.undo()
    generation.bump()  # would block forever if the lock had been kept
    assert generation.read() == 1


def test_purge_deletes_both_formats_and_the_index(monkeypatch):
    monkeypatch.setattr(packages_cache, "cache_is_per_process", lambda: False)
    keys = [simple_detail_key("demo", "html"), simple_detail_key("demo", "json")]
    keys += [simple_index_key("html"), simple_index_key("json"), simple_detail_key("other", "html")]
    for key in keys:
        cache.set(key, "page")
    purge_project("demo")
    assert [cache.get(key) for key in keys] == [None, None, None, None, "page"]
    assert packages_cache.current_generation() == 0


def test_purge_moves_the_generation_of_a_per_process_cache(monkeypatch):
    monkeypatch.setattr(packages_cache, "cache_is_per_process", lambda: True)
    before = packages_cache.current_generation()
    purge_project("demo")
    assert packages_cache.current_generation() == before + 1


def test_generation_file_follows_the_setting(settings, tmp_path):
    settings.CACHE_GENERATION_FILE = tmp_path / "elsewhere"
    assert packages_cache.generation().path == tmp_path / "elsewhere"
