from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.api.errors import DataError
from harness.preferences.server import create_app
from harness.preferences.store import read_votes
from tests.harness.preferences.conftest import write_run

CODE = {"lora": "Alpha", "lora-kd": "Beta"}  # answers must not name their system
EVIL = '<script>alert("pwned")</script><b>bold</b> & more'


@pytest.fixture
def run2(tmp_path: Path) -> Path:
    return write_run(
        tmp_path / "run",
        ["lora", "lora-kd"],
        items=3,
        answer=lambda system, item: EVIL if (system, item) == ("lora", "q-001") else f"{CODE[system]} answer for {item}",
    )


def next_page(client, rater: str = "alice"):
    redirect = client.get(f"/rate/{rater}")
    if redirect.status_code == 200:
        return None, redirect.get_data(as_text=True)
    assert redirect.status_code == 303
    url = redirect.headers["Location"]
    return url, client.get(url).get_data(as_text=True)


def test_start_page_redirects_a_named_rater_and_remembers_the_name(run2: Path) -> None:
    client = create_app(run2).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "3 comparisons" in page and 'name="rater"' in page
    response = client.get("/?rater=alice")
    assert response.status_code == 303 and response.headers["Location"].endswith("/rate/alice")
    assert 'value="alice"' in client.get("/").get_data(as_text=True)
    assert client.get("/?rater=bad%20name").status_code == 400


def test_votes_are_logged_with_system_names_that_the_page_hides(run2: Path) -> None:
    client = create_app(run2).test_client()
    url, page = next_page(client)
    assert "lora" not in page and "lora" not in url
    assert "0 of 3 rated" in page and "Question q-00" in page
    answer_a = re.search(r'id="answer-a">.*?<pre class="text">(.*?)</pre>', page, re.S).group(1)
    response = client.post(url, data={"choice": "a", "b_unit_error": "on"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/rate/alice")
    (cast,) = read_votes(run2 / "preferences.jsonl")
    assert cast.rater == "alice" and cast.choice == "a" and cast.winner == cast.system_a
    assert answer_a.startswith(CODE[cast.system_a]) or (cast.system_a == "lora" and "&lt;script" in answer_a)  # A showed system_a's answer
    assert cast.flags == {cast.system_b: ("unit_error",)}
    _, page = next_page(client)
    assert "1 of 3 rated" in page


def test_answer_html_is_escaped(run2: Path) -> None:
    client = create_app(run2).test_client()
    from harness.preferences.schedule import Comparison, comparison_key, sides

    comparison = Comparison(item="q-001", pair=("lora", "lora-kd"), key=comparison_key("q-001", "lora", "lora-kd"))
    page = client.get(f"/rate/alice/{comparison.key}").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert sides("alice", comparison)  # the page rendered for a known comparison


def test_all_done_page_and_resume_after_restart(run2: Path) -> None:
    client = create_app(run2).test_client()
    url, _ = next_page(client)
    client.post(url, data={"choice": "tie"})
    restarted = create_app(run2).test_client()  # a new server over the same log
    url2, page = next_page(restarted)
    assert url2 != url and "1 of 3 rated" in page
    restarted.post(url2, data={"choice": "skip"})
    url3, _ = next_page(restarted)
    restarted.post(url3, data={"choice": "both_wrong"})
    assert next_page(restarted)[0] is None and "All done" in next_page(restarted)[1]
    assert [v.choice for v in read_votes(run2 / "preferences.jsonl")] == ["tie", "skip", "both_wrong"]
    # another rater starts from scratch
    assert "0 of 3 rated" in next_page(restarted, "bob")[1]


def test_revisiting_a_rated_comparison_shows_the_earlier_vote(run2: Path) -> None:
    client = create_app(run2).test_client()
    url, _ = next_page(client)
    client.post(url, data={"choice": "b"})
    assert "your choice: B is better" in client.get(url).get_data(as_text=True)


def test_bad_requests_are_refused(run2: Path) -> None:
    client = create_app(run2).test_client()
    url, _ = next_page(client)
    assert client.post(url, data={"choice": "maybe"}).status_code == 400
    assert client.post(url, data={"choice": "a"}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/rate/alice/0123456789abcdef").status_code == 404
    assert client.get("/rate/judge:x").status_code == 400
    assert not (run2 / "preferences.jsonl").exists() or read_votes(run2 / "preferences.jsonl") == []
    assert client.post(url, data={"choice": "a"}, headers={"Origin": "http://localhost"}).status_code == 303


def test_create_app_needs_two_systems(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="at least two systems"):
        create_app(write_run(tmp_path / "r", ["vanilla"]))
