"""Progress of long commands (`topnn_jax.cli.progress`): plain lines when not on a terminal."""

from __future__ import annotations

import io

from topnn_jax.cli.progress import Counter


def test_a_log_gets_plain_status_lines_not_escape_codes():
    log = io.StringIO()  # not a terminal
    with Counter("Betti jobs", "job", stream=log) as counter:
        counter.add(3)
        counter.update()
        counter.write("skipped one")
        counter.update(2)
    text = log.getvalue()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "Betti jobs: 0/3 jobs"  # the first line at once, later ones every 15 s
    assert "skipped one" in lines
    assert lines[-1] == "Betti jobs: 3/3 jobs"  # and one when it closes


def test_time_left_is_measured_from_the_first_finished_item():
    counter = Counter("figures", "figure", total=10, stream=io.StringIO())
    assert counter._time_left() is None
    counter.update()  # the first item may come after a long wait: no rate from it alone
    assert counter._time_left() is None
    counter.update()
    assert counter._time_left() is not None
    steps = Counter("train", "step", total=36000, stream=io.StringIO())
    steps.set(500)  # counts that jump (steps per accuracy check) give no rate from one update
    assert steps._time_left() is None
    steps.set(1000)
    assert steps._time_left() is not None


def test_a_disabled_counter_writes_nothing():
    log = io.StringIO()
    with Counter("train", "step", total=5, stream=log, enabled=False) as counter:
        counter.set(5)
    assert log.getvalue() == ""
