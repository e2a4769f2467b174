"""Rate-limit arithmetic over PlayCanvas's headers."""

from __future__ import annotations

from email.utils import formatdate

from playcanvas_backup.ratelimit import Window, retry_after, window_from_headers

NOW = 1_800_000_000.0


def test_reads_the_window_from_the_headers() -> None:
    headers = {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 42),
    }
    window = window_from_headers(headers, NOW)
    assert window == Window(limit=10, remaining=0, reset_at=NOW + 42)
    assert window is not None and window.wait(NOW) == 42


def test_no_headers_no_window() -> None:
    assert window_from_headers({}, NOW) is None


def test_remaining_requests_mean_no_wait() -> None:
    assert Window(limit=10, remaining=3, reset_at=NOW + 42).wait(NOW) == 0


def test_spending_the_last_request_means_waiting_for_the_reset() -> None:
    window = Window(limit=10, remaining=1, reset_at=NOW + 5).spend()
    assert window.remaining == 0 and window.wait(NOW) == 5


def test_a_past_reset_means_no_wait() -> None:
    assert Window(limit=10, remaining=0, reset_at=NOW - 1).wait(NOW) == 0


def test_retry_after_in_seconds_wins() -> None:
    assert retry_after({"Retry-After": "7", "X-RateLimit-Reset": str(int(NOW) + 50)}, NOW) == 7


def test_retry_after_as_an_http_date() -> None:
    assert retry_after({"Retry-After": formatdate(NOW + 90, usegmt=True)}, NOW) == 90


def test_without_retry_after_the_reset_tells() -> None:
    assert retry_after({"X-RateLimit-Reset": str(int(NOW) + 30)}, NOW) == 30


def test_a_small_reset_is_seconds_from_now() -> None:
    assert retry_after({"X-RateLimit-Reset": "12"}, NOW) == 12


def test_nothing_said_means_unknown() -> None:
    assert retry_after({"Retry-After": "soon"}, NOW) is None
