"""Where a study lives, and cleaning up after workers that died.

    default           SQLite file ``study.db`` in the study directory (one process)
    --workers K       Optuna's journal file ``journal.log`` in the study directory (one machine)
    --storage URL     any SQLAlchemy URL Optuna accepts: ``postgresql://user@host:port/db`` lets
                      workers on many machines (each running the same command) join one study;
                      a path ending in ``.log`` is a journal file

Relational storages run Optuna's heartbeat: a worker records one every ``heartbeat`` seconds while
its trial runs; a trial whose last heartbeat is older than ``grace`` is marked FAIL by the next
worker to start a trial. Journal files have no heartbeat, so a trial stays RUNNING when its worker
dies; each worker records ``host:pid`` on its trials and, on start, fails the RUNNING trials of
processes that no longer exist on its host.

`limit_trials` makes ``--trials N`` exact under racing workers: counting the study's trials and
creating one happen under one lock shared by every process on the study — a PostgreSQL advisory
lock (held by a connection, so a killed worker's lock is released by the server), or an exclusive
``flock`` on ``FILE.claim`` next to a journal or SQLite file. Other databases get no lock (a race
may then overshoot by up to K − 1 trials).
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from ..errors import ConfigError

WORKER_ATTR = "worker"
SCHEMA_RACE_RETRIES = 5
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
LOCK_CLASS = 0x6E6E6F70  # first key of nnopt's PostgreSQL advisory locks ("nnop"); the second is the study id


class StudyFull(Exception):
    """Raised instead of creating a trial when the study already holds its `limit` counted trials."""


def storage_url(url: str | None, study_dir: Path, workers: int) -> str:
    """The storage a study uses: `url` as given, else the default for the worker count."""
    if url:
        if workers > 1 and url.startswith("sqlite"):
            raise ConfigError(f"--storage {url} with --workers {workers} — SQLite locks under concurrent "
                              "writers; leave --storage out (a journal file) or use postgresql://...")
        return url
    return str(study_dir / "journal.log") if workers > 1 else f"sqlite:///{study_dir / 'study.db'}"


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` with psycopg2 when psycopg (3), SQLAlchemy 2.1's default driver, is absent."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg") is None \
                and importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def open_storage(url: str, heartbeat: float = 10.0) -> BaseStorage:
    if "://" not in url:
        if not url.endswith(".log"):
            raise ConfigError(f"--storage {url!r} — must be a URL (sqlite:///FILE, postgresql://...) "
                              "or a journal file path ending in .log")
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    for attempt in range(SCHEMA_RACE_RETRIES + 1):
        try:
            with warnings.catch_warnings():  # heartbeat_interval is marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(sqlalchemy_url(url), heartbeat_interval=max(1, round(heartbeat)),
                                  grace_period=max(2, round(3 * heartbeat)),
                                  engine_kwargs={"pool_pre_ping": True} if not url.startswith("sqlite") else {})
        except (IntegrityError, ProgrammingError) as exc:
            # Workers starting together on a fresh database race to create Optuna's schema; the
            # loser sees "already exists" and succeeds once the winner has committed.
            if attempt == SCHEMA_RACE_RETRIES:
                raise ConfigError(f"--storage {url} — cannot create Optuna's tables: {exc}") from None
            time.sleep(0.5 * (attempt + 1))
        except Exception as exc:  # SQLAlchemy / driver errors: bad URL, server down, missing driver
            raise ConfigError(f"--storage {url} — cannot open it: {type(exc).__name__}: {exc}") from None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_workers(study: optuna.Study) -> list[int]:
    """Mark FAIL the RUNNING trials left by dead workers; returns their numbers.
    Relational storages: Optuna's stale-heartbeat check. Journal files: same-host dead pids."""
    storage = study._storage
    if isinstance(storage, RDBStorage):
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        optuna.storages.fail_stale_trials(study)
        after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        return sorted(before - after)
    failed = []
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(WORKER_ATTR, "")
        name, _, pid = owner.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            if storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                failed.append(t.number)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def limit_trials(study: optuna.Study, url: str, limit: int) -> optuna.Study:
    """Make `study` refuse (StudyFull) to create a trial when it already holds `limit` complete,
    pruned or running trials; the count and the creation are atomic across processes."""
    storage = study._storage  # what Study.ask creates trials through (RDB storages: Optuna's cache)
    create = storage.create_new_trial

    def create_within_limit(study_id: int, template_trial=None) -> int:
        with claim_lock(getattr(storage, "_backend", storage), url, study_id):
            held = len(storage.get_all_trials(study_id, deepcopy=False, states=COUNTED))
            if held >= limit:
                raise StudyFull(f"the study holds {held} of {limit} trials")
            return create(study_id, template_trial)

    storage.create_new_trial = create_within_limit
    return study


@contextlib.contextmanager
def claim_lock(storage: BaseStorage, url: str, study_id: int):
    """The inter-process lock of a study's trial creation (see the module docstring)."""
    if isinstance(storage, RDBStorage) and storage.engine.dialect.name == "postgresql":
        with storage.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:a, :b)"), {"a": LOCK_CLASS, "b": study_id})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": LOCK_CLASS, "b": study_id})
        return
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url if "://" not in url else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.claim", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
