import logging

from crawler.logs import LogfmtFormatter, event, redact


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
