import logging
import os
import sys

from crawler.logs import LogfmtFormatter, event, redact, setup_logging, under_journald


def test_redact_hides_userinfo_and_tokens() -> None:
    assert redact("mailtos://bob:hunter2@example.com") == "mailtos://***@example.com"
    assert "s3cret" not in redact("json://host/path?token=s3cret&x=1")
    assert redact("https://example.com/feed") == "https://example.com/feed"


def test_logfmt_quotes_values(caplog) -> None:
    logger = logging.getLogger("newswatch.test")
    record = logger.makeRecord("newswatch.test", logging.INFO, __file__, 1, "feed.polled", (), None,
                               extra={"fields": {"feed": "dawn", "error": 'bad "x"\nline', "n": 3, "t": 1.5}})
    line = LogfmtFormatter(with_time=False).format(record)
    assert line == ('level=info logger=newswatch.test event=feed.polled feed=dawn '
                    'error="bad \\"x\\"\\nline" n=3 t=1.5')
    assert "\n" not in line


def test_event_helper(caplog) -> None:
    caplog.set_level(logging.INFO)
    event(logging.getLogger("newswatch.x"), "thing.done", a=1)
    assert caplog.records[-1].fields == {"a": 1}


def _record(level: int, msg: str, **fields: object) -> logging.LogRecord:
    return logging.getLogger("newswatch.test").makeRecord(
        "newswatch.test", level, __file__, 1, msg, (), None, extra={"fields": fields})


def test_journald_lines_carry_their_syslog_priority() -> None:
    fmt = LogfmtFormatter(with_time=False, priority=True)
    assert fmt.format(_record(logging.WARNING, "feed.failed", feed="dawn")) == (
        "<4>level=warning logger=newswatch.test event=feed.failed feed=dawn")
    assert fmt.format(_record(logging.ERROR, "x")).startswith("<3>level=error ")
    assert fmt.format(_record(logging.INFO, "x")).startswith("<6>level=info ")
    assert fmt.format(_record(logging.DEBUG, "x")).startswith("<7>level=debug ")
    assert fmt.format(_record(logging.CRITICAL, "x")).startswith("<2>level=critical ")


def test_a_caret_message_is_written_beneath_the_event() -> None:
    problem = "rules/t.toml:3:12: expected a term\n    (india AND\n              ^"
    fmt = LogfmtFormatter(with_time=False, priority=True, multiline=True)
    lines = fmt.format(_record(logging.ERROR, "reload.refused", reason="SIGHUP", problem=problem)).split("\n")
    assert lines == [
        '<3>level=error logger=newswatch.test event=reload.refused reason=SIGHUP '
        'problem="rules/t.toml:3:12: expected a term"',
        "<3>  |     (india AND",
        "<3>  |               ^",
    ]
    # the caret stays under the column it points at
    assert lines[2].index("^") == lines[1].index("(") + len("(india AND")
    # into a file, the same event stays one line
    flat = LogfmtFormatter(with_time=False).format(_record(logging.ERROR, "reload.refused", problem=problem))
    assert "\n" not in flat and "\\n" in flat


def _stderr_env(path, monkeypatch, value: str | None) -> object:
    stream = open(path, "w")  # noqa: SIM115 - closed by the caller
    if value is None:
        st = os.fstat(stream.fileno())
        value = f"{st.st_dev}:{st.st_ino}"
    monkeypatch.setenv("JOURNAL_STREAM", value)
    return stream


def test_under_journald_only_when_stderr_is_the_journal_stream(tmp_path, monkeypatch) -> None:
    stream = _stderr_env(tmp_path / "journal", monkeypatch, None)
    try:
        assert under_journald(stream)
        monkeypatch.setenv("JOURNAL_STREAM", "8:12345")  # inherited, but stderr points elsewhere
        assert not under_journald(stream)
        monkeypatch.delenv("JOURNAL_STREAM")
        assert not under_journald(stream)
    finally:
        stream.close()


def test_setup_logging_under_journald_writes_priorities(tmp_path, monkeypatch) -> None:
    stream = _stderr_env(tmp_path / "journal", monkeypatch, None)
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info")
        event(logging.getLogger("newswatch.t"), "reload.refused", logging.ERROR, problem="a\n  b\n  ^")
        event(logging.getLogger("newswatch.t"), "feed.polled", feed="dawn")
        stream.flush()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        stream.close()
    lines = (tmp_path / "journal").read_text().splitlines()
    assert lines == [
        '<3>level=error logger=newswatch.t event=reload.refused problem=a',
        "<3>  |   b",
        "<3>  |   ^",
        "<6>level=info logger=newswatch.t event=feed.polled feed=dawn",
    ]
