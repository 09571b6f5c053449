"""How a failed answer job is worded for the channel: by exception type, retry advice only where it helps."""

from __future__ import annotations

from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException

from jobs.answer import Failure, describe, failure_text
from jobs.failures import WorkHorseKilled
from training.weights import ModelUnavailable


def test_missing_weights_say_who_must_provide_them_and_not_to_ask_again() -> None:
    exc = ModelUnavailable("The weights for `mistral` aren't on this worker. Run `huggingface-cli download x`.")
    failure = describe(exc)
    assert failure.retry is False
    text = failure_text(failure)
    assert "whoever runs orgtune" in text and str(exc) in text
    assert "ask again in a moment" not in text and "internal error" not in text


def test_passing_failures_still_suggest_asking_again() -> None:
    for exc, reason in [
        (JobTimeoutException("slow"), "it took longer than its time limit"),
        (AbandonedJobError("gone"), "the worker answering it stopped"),
        (WorkHorseKilled("the worker process running it was killed (out of memory?)"), "killed (out of memory?)"),
        (MemoryError(), "ran out of memory"),
    ]:
        failure = describe(exc)
        assert failure.retry and reason in failure.reason
        assert failure_text(failure).endswith("Please ask again in a moment.")


def test_types_decide_not_names() -> None:
    class ModelUnavailableTimeout(Exception):  # a look-alike name is still just an internal error
        pass

    assert describe(ModelUnavailableTimeout()) == Failure("an internal error (ModelUnavailableTimeout)")


def test_the_reason_is_escaped_for_slack() -> None:
    text = failure_text(describe(ModelUnavailable("weights missing <!channel> & <@U1>")))
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;@U1&gt;" in text
