"""Pages that answer htmx with a fragment say so, so that the browser keeps page and fragment
apart (going Back to the queue must not show its table alone)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.cache import has_vary_header

from keel.web.htmx import is_htmx

HTMX = {"HX-Request": "true"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["incidents:queue", "incidents:contacts", "cmdb:list"])
def test_a_page_that_may_answer_with_a_fragment_varies_with_htmx(client_for, administrator, name):
    client = client_for(administrator)
    whole = client.get(reverse(name))
    fragment = client.get(reverse(name), headers=HTMX)

    assert (whole.status_code, fragment.status_code) == (200, 200)
    assert "<html" in whole.content.decode()
    assert "<html" not in fragment.content.decode()
    for response in (whole, fragment):
        assert has_vary_header(response, "HX-Request")
        assert has_vary_header(response, "HX-History-Restore-Request")


def test_a_history_restore_asks_for_the_whole_page(rf):
    assert is_htmx(rf.get("/", headers=HTMX)) is True
    assert is_htmx(rf.get("/", headers={**HTMX, "HX-History-Restore-Request": "true"})) is False
    assert is_htmx(rf.get("/")) is False
