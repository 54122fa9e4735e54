"""pypi_site/gunicorn.conf.py as gunicorn itself reads it: a misspelt setting
would be ignored without a word, so each is read back from gunicorn's config."""

import pytest
from gunicorn.app.base import Application

import tests.liveserver as liveserver

CONF = liveserver.REPO / "pypi_site" / "gunicorn.conf.py"


class _App(Application):
    def init(self, parser, opts, args):
        return None

    def load(self):  # never called: only the configuration is read
        raise NotImplementedError


@pytest.fixture
def config(monkeypatch):
    monkeypatch.setattr("sys.argv", ["gunicorn", "--config", str(CONF), "x:y"])
    return _App().cfg


def test_in_flight_requests_get_a_minute_to_finish_on_shutdown(config):
    assert config.graceful_timeout == 60


def test_workers_are_replaced_rarely_and_not_together(config):
    assert config.max_requests == 1_000_000
    assert config.max_requests_jitter == 100_000


def test_keepalive_outlasts_load_balancers(config):
    assert config.keepalive == 75


def test_heartbeat_in_memory(config):
    assert config.worker_tmp_dir == "/dev/shm"


def test_each_worker_listens_on_its_own_socket(config):
    # The kernel then spreads connections over the workers (one shared socket
    # let one worker take them all).
    assert config.reuse_port is True
