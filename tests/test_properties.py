"""autograder.properties: shrunk counterexamples, determinism, and nothing written to the student's folder."""
import os

import numpy as np
import pytest
from hypothesis import strategies as st

from autograder.feedback import CheckFailed
from autograder.properties import (Violation, arrays, assert_close, check_properties, decimals,
                                   find_counterexample, layers)


def double(x):
    return 2 * x


def off_by_one_when_big(x):
    return 2 * x + (np.abs(x) > 3)


def prop_for(fn):
    def doubles(x):
        assert_close(fn(x), 2 * x, "fn(x)")
    return doubles


STRATEGY = st.fixed_dictionaries({"x": arrays((3,))})


def test_correct_function_passes(capsys):
    check_properties("double", {"doubles": prop_for(double)}, STRATEGY)
    assert "✓ double" in capsys.readouterr().out


def test_failure_reports_the_shrunk_counterexample():
    with pytest.raises(CheckFailed) as info:
        check_properties("double", {"doubles": prop_for(off_by_one_when_big)}, STRATEGY)
    msg = str(info.value)
    assert "property 'doubles'" in msg and "expected" in msg and "yours" in msg
    # shrinking leaves one entry just past the threshold and the others at zero
    assert "3.1" in msg and "0." in msg


def test_runs_are_deterministic():
    first = find_counterexample(prop_for(off_by_one_when_big), STRATEGY)
    second = find_counterexample(prop_for(off_by_one_when_big), STRATEGY)
    assert np.array_equal(first[0]["x"], second[0]["x"])


def test_student_exceptions_become_failed_checks():
    def crashes(x):
        raise ZeroDivisionError("oops")

    def not_done(x):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="ZeroDivisionError: oops"):
        check_properties("q", {"p": lambda x: crashes(x)}, STRATEGY)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check_properties("q", {"p": lambda x: not_done(x)}, STRATEGY)


def test_wrong_types_and_nans_are_named():
    with pytest.raises(Violation, match="expected an array of numbers"):
        assert_close(object(), np.zeros(2), "R")
    with pytest.raises(Violation, match="NaN"):
        assert_close(np.array([np.nan, 0.0]), np.zeros(2), "R")
    with pytest.raises(Violation, match="wrong shape"):
        assert_close(np.zeros(3), np.zeros(2), "R")


def test_nothing_is_written_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_properties("double", {"doubles": prop_for(double)}, STRATEGY)
    with pytest.raises(CheckFailed):
        check_properties("double", {"doubles": prop_for(off_by_one_when_big)}, STRATEGY)
    assert os.listdir(tmp_path) == []


def test_strategies_respect_their_bounds():
    examples = []
    check_properties("collect", {"collect": lambda a, w, R: examples.append((a, w, R))}, layers(), max_examples=30)
    for a, w, R in examples:
        assert (a >= 0).all() and (R >= 0).all()
        assert a.shape[-1] == w.shape[0] and R.shape[-1] == w.shape[1]
    values = []
    check_properties("d", {"d": lambda v: values.append(v)}, st.fixed_dictionaries({"v": decimals(0.1, 3.0)}))
    assert all(0.1 <= v <= 3.0 and round(v, 1) == v for v in values)


def test_shrinking_stops_at_its_budget_and_still_reports_a_failure():
    calls = []

    def always_wrong(x):
        calls.append(1)
        raise AssertionError("wrong")

    found = find_counterexample(always_wrong, STRATEGY, shrink_seconds=0.0)
    assert found is not None and isinstance(found[1], AssertionError)
    assert len(calls) == 1   # past the budget the student's code is not run again
    calls.clear()
    find_counterexample(always_wrong, STRATEGY, shrink_seconds=60.0)
    assert len(calls) > 1    # the control: with time to spare, Hypothesis shrinks


def test_a_right_answer_is_called_once_per_example_however_many_properties_use_it():
    from autograder.question import call

    runs = []

    def counted(x):
        runs.append(1)
        return double(x)

    def doubles(x):
        assert_close(call(counted, x), 2 * x, "fn(x)")

    def linear(x):
        assert_close(call(counted, x) + call(counted, -x), 0 * x, "fn(x) + fn(-x)")

    check_properties("double", {"doubles": doubles, "odd": linear}, STRATEGY, max_examples=20)
    assert 20 <= len(runs) <= 2 * 20   # x and -x per example, not three calls


def test_a_failing_answer_is_reported_by_the_property_that_breaks_as_before():
    from autograder.question import call

    def doubles(x):
        assert_close(call(off_by_one_when_big, x), 2 * x, "fn(x)")

    def shape(x):
        assert call(off_by_one_when_big, x).shape == x.shape

    with pytest.raises(CheckFailed, match="property 'doubles'"):
        check_properties("double", {"shape": shape, "doubles": doubles}, STRATEGY)
