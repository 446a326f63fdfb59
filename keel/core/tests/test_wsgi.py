"""Keel's WSGI application (``keel/wsgi.py``): whole responses handed over in one piece, streamed
ones as they are, and every one closed (Django's request finished) exactly once."""

from __future__ import annotations

import io
import json

import pytest
from django.core.signals import request_finished
from django.http import HttpResponse, StreamingHttpResponse

from keel import wsgi


def _environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }


class _Started:
    def __init__(self):
        self.status = None
        self.headers = None

    def __call__(self, status, headers, exc_info=None):
        self.status, self.headers = status, dict(headers)


@pytest.fixture
def finished():
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs["sender"])

    request_finished.connect(receiver)
    yield calls
    request_finished.disconnect(receiver)


@pytest.mark.django_db(transaction=True)
def test_a_page_is_handed_over_whole_and_the_request_is_finished(finished):
    started = _Started()

    body = wsgi.application(_environ("/api/v1/health"), started)

    assert isinstance(body, list)
    assert len(body) == 1
    assert started.status == "200 OK"
    assert int(started.headers["Content-Length"]) == len(body[0])
    assert "status" in json.loads(body[0])
    assert len(finished) == 1  # closed before the server writes: nothing more to do


@pytest.mark.django_db  # a finished request tidies the database connection
def test_a_streamed_response_is_left_to_the_server_to_iterate_and_close(monkeypatch, finished):
    streamed = StreamingHttpResponse(iter([b"a,b\n", b"1,2\n"]))
    monkeypatch.setattr(wsgi, "django_application", lambda environ, start: streamed)

    body = wsgi.application(_environ("/export.csv"), _Started())

    assert body is streamed
    assert finished == []  # still being sent
    assert b"".join(body) == b"a,b\n1,2\n"
    body.close()
    assert len(finished) == 1


@pytest.mark.django_db
def test_a_whole_response_is_closed_even_when_its_content_cannot_be_read(monkeypatch, finished):
    class Broken(HttpResponse):
        @property
        def content(self):
            raise RuntimeError("unreadable")

        @content.setter
        def content(self, value):
            self._container = [value]

    monkeypatch.setattr(wsgi, "django_application", lambda environ, start: Broken(b"x"))

    with pytest.raises(RuntimeError, match="unreadable"):
        wsgi.application(_environ("/"), _Started())
    assert len(finished) == 1
