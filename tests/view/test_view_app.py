"""HTTP tests of every route of `valuesim view` (ASGI test client, no server, no browser)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from view_testlib import HOSTILE, make_partial

from valuesim.survey import SurveyData
from valuesim.view import RunStore, create_app


@pytest.fixture(scope="module")
def client(view_runs: dict[str, Path], view_survey: SurveyData) -> TestClient:
    store = RunStore([view_runs[k] for k in ("majority", "knn", "valuesim", "hostile")], view_survey.codebook)
    return TestClient(create_app(store, survey=view_survey))


def _person(view_runs: dict[str, Path]) -> str:
    first = (view_runs["valuesim"] / "predictions.jsonl").read_text("utf-8").splitlines()[0]
    return str(json.loads(first)["respondent"])


def _readable_404(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 404
    assert "text/html" in resp.headers["content-type"]
    assert '<section class="error"' in resp.text and "<h1>Not found</h1>" in resp.text


def test_runs_page_lists_runs_with_cis_and_comparison_form(client: TestClient, view_runs: dict[str, Path]) -> None:
    r = client.get("/")
    assert r.status_code == 200
    for name in ("majority", "knn", "valuesim"):
        assert f'href="/runs/{name}"' in r.text
    for name in ("majority", "knn", "valuesim"):  # each run's mean [95% CI], as recorded in its metrics.json
        metrics = json.loads((view_runs[name] / "metrics.json").read_text("utf-8"))
        for key in ("top1", "within1"):
            mean, (lo, hi) = metrics[key]["mean"], metrics[key]["ci95"]
            assert lo < hi, (name, key)
            assert f"{mean:.3f} [{lo:.3f}, {hi:.3f}]" in r.text, (name, key)
    assert 'id="compare-form"' in r.text and 'name="a"' in r.text and 'name="b"' in r.text
    assert "<svg" in r.text and "SYNTHETIC" in r.text
    assert "LLM calls" in r.text and "Tokens / pred." in r.text
    assert r.headers["Server-Timing"].startswith("total;dur=")


def test_run_page_and_unknown_run(client: TestClient) -> None:
    r = client.get("/runs/knn")
    assert r.status_code == 200
    assert "Provenance" in r.text and "pytest" in r.text and "Top-1" in r.text
    # individuation: lifts over the demographic group with CIs, correlations, per question
    assert 'id="individuation"' in r.text and "Top-1 lift over the group" in r.text
    assert re.search(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", r.text)
    assert 'id="individuation-questions"' in r.text and "r beyond the group" in r.text
    assert "std over folds" in r.text  # five folds: the spread over folds is shown
    one_fold = client.get("/runs/valuesim")  # fold 0 only: no spread over folds anywhere
    assert one_fold.status_code == 200 and "std over folds" not in one_fold.text and "±" not in one_fold.text
    _readable_404(client.get("/runs/nope"))
    assert "nope" in client.get("/runs/nope").text


@pytest.mark.parametrize("by", ["section", "country", "kind", "question"])
def test_breakdowns(client: TestClient, by: str) -> None:
    r = client.get(f"/breakdown?by={by}&metric=within1")
    assert r.status_code == 200
    assert 'id="breakdown-table"' in r.text and "Within-1 by" in r.text
    if by == "question":
        assert 'href="/question/Q' in r.text
    r = client.get(f"/breakdown?by={by}&runs=knn")
    assert r.status_code == 200 and ">majority</a>" in r.text  # other runs offered as links


def test_bad_breakdown_is_a_readable_404(client: TestClient) -> None:
    _readable_404(client.get("/breakdown?by=planet"))
    _readable_404(client.get("/breakdown?by=section&metric=nope"))
    _readable_404(client.get("/breakdown?by=section&runs=nope"))


def _compare(client: TestClient, url: str) -> str:
    """The comparison page once its background tests are done."""
    for _ in range(600):
        r = client.get(url)
        assert r.status_code == 200
        if 'id="paired-pending"' not in r.text:
            return r.text
        assert 'http-equiv="refresh"' in r.text
        time.sleep(0.1)
    raise AssertionError("the paired tests did not finish")


def test_paired_comparison(client: TestClient) -> None:
    text = _compare(client, "/compare?a=knn&b=majority")
    assert 'id="paired-table"' in text and "p (permutation)" in text
    assert re.search(r"-?0\.\d{3} \[-?0\.\d{3}, -?0\.\d{3}\]", text)
    other = _compare(client, "/compare?a=valuesim&b=majority")  # made on another split: no test, a note
    assert "different split" in other and 'id="paired-table"' not in other
    assert "Choose two different runs" in client.get("/compare?a=knn&b=knn").text
    _readable_404(client.get("/compare?a=knn"))


def test_question_page(client: TestClient, view_survey: SurveyData) -> None:
    p = client.app.state.view.store.get("knn").pred  # type: ignore[attr-defined]
    qid = str(p["question"].iloc[0])
    r = client.get(f"/question/{qid}")
    assert r.status_code == 200
    q = view_survey.codebook.get(qid)
    assert q.short.replace("'", "&#39;") in r.text
    assert "True vs predicted answers" in r.text and r.text.count("<svg") >= 2
    assert 'id="country-table"' in r.text and 'id="confusion"' in r.text
    assert 'id="individuation-table"' in r.text
    r2 = client.get(f"/question/{qid.lower()}?run=majority")
    assert r2.status_code == 200 and "Confusion matrix: majority" in r2.text
    empty = client.get("/question/Q260")  # a profile item: never a target
    assert empty.status_code == 200 and "No run predicted Q260" in empty.text
    _readable_404(client.get("/question/Q999"))
    assert client.get("/question?q=q1", follow_redirects=False).headers["location"] == "/question/Q1"


def test_people_filters(client: TestClient, view_survey: SurveyData) -> None:
    r = client.get("/people")
    assert r.status_code == 200 and 'id="people-table"' in r.text
    n_all = int(re.search(r"([\d,]+) people", r.text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert n_all >= 6
    everyone = client.get("/people?scope=all")
    assert f"{len(view_survey)} people" in everyone.text
    country = str(view_survey.frame["country"].iloc[0])
    by_country = client.get(f"/people?scope=all&country={country}")
    n_c = int((view_survey.frame["country"] == country).sum())
    assert f"{n_c} people" in by_country.text
    women = client.get("/people?scope=all&sex=Female")
    n_f = int((view_survey.frame["Q260"] == 2).sum())
    assert f"{n_f} people" in women.text
    # age bands counted here from the raw ages: negative codes (refused, missing) are in no band
    age = view_survey.frame["Q262"].to_numpy(float)
    expected = {"under 30": (age >= 0) & (age < 30), "30-49": (age >= 30) & (age < 50), "50 and over": age >= 50}
    assert 0 < sum(int(m.sum()) for m in expected.values()) < len(view_survey)  # the fixture has invalid ages
    for label, members in expected.items():
        page = client.get("/people", params={"scope": "all", "band": label})
        assert page.status_code == 200
        n_band = int(re.search(r"([\d,]+) people", page.text).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert 0 < n_band == int(members.sum()) < len(view_survey), label
    young_women = client.get("/people", params={"scope": "all", "band": "under 30", "sex": "Female"})
    n_yw = int((expected["under 30"] & (view_survey.frame["Q260"] == 2).to_numpy()).sum())
    assert f"{n_yw} people" in young_women.text or (n_yw == 0 and "Nobody matches" in young_women.text)
    rid = view_survey.ids[3]
    one = client.get(f"/people?scope=all&id={rid}")
    assert f'href="/people/{rid}"' in one.text
    assert "Nobody matches" in client.get("/people?id=no-such-person").text


def test_person_page_shows_every_run_next_to_the_truth(client: TestClient, view_runs: dict[str, Path]) -> None:
    rid = _person(view_runs)
    r = client.get(f"/people/{rid}")
    assert r.status_code == 200
    assert 'id="predictions"' in r.text
    for name in ("majority", "knn", "valuesim"):
        assert f"<th>{name}</th>" in r.text
    assert 'class="truth"' in r.text and ('class="hit"' in r.text or 'class="miss"' in r.text)
    # LLM modules: each module's option bars and rationale
    assert "<b>cognitive</b>" in r.text and "<b>affective</b>" in r.text and "<b>behavioral</b>" in r.text
    assert "<blockquote>" in r.text and "option probabilities" in r.text
    # record and backstory from --data
    assert 'id="backstory"' in r.text and 'id="record"' in r.text
    assert "No prediction read this" in r.text  # the whole-record story is labelled as such
    _readable_404(client.get("/people/no-such-person"))


def test_prompt_page_shows_the_exact_verified_prompt_without_held_out_answers(
    client: TestClient, view_runs: dict[str, Path], view_survey: SurveyData
) -> None:
    import html
    import json

    from valuesim.bench.rundir import open_run
    from valuesim.methods.story import compose

    rid = _person(view_runs)
    page = client.get(f"/people/{rid}")
    links = re.findall(r'class="prompt-link" href="([^"]+)"', page.text)
    assert links  # every LLM prediction links to its prompt
    r = client.get(html.unescape(links[0]))
    assert r.status_code == 200, r.text
    assert "verified" in r.text and "not verified" not in r.text and 'id="prompt-problem"' not in r.text
    shown = html.unescape(" ".join(re.findall(r'<pre class="prompt-text">(.*?)</pre>', r.text, flags=re.S)))
    # what the model read: the unit's story, not the whole-record story with the held-out answers
    row = next(
        json.loads(line)
        for line in (view_runs["valuesim"] / "predictions.jsonl").read_text().splitlines()
        if json.loads(line)["respondent"] == rid
    )
    unit = next(u for u in open_run(view_runs["valuesim"]).split.units if u.respondent == rid and u.fold == row["fold"])
    person = view_survey.respondent(rid)
    whole = compose(person, view_survey.codebook, style="facts").text
    held_out = compose(person.restricted(list(unit.targets)), view_survey.codebook, style="facts").text
    assert whole not in shown
    sentences = [x for x in held_out.split(". ") if len(x) > 25][:5]
    assert sentences
    for sentence in sentences:
        assert sentence not in shown, sentence
    _readable_404(client.get(f"/prompt?run=valuesim&person=no-such&q={row['question']}&fold=0"))
    no_data = TestClient(create_app(client.app.state.view.store))  # type: ignore[attr-defined]
    assert "--data" in no_data.get(html.unescape(links[0])).text


def test_ask_is_disabled_without_a_model(client: TestClient) -> None:
    r = client.get("/ask")
    assert r.status_code == 200 and 'id="ask-disabled"' in r.text and "--model" in r.text
    assert "<fieldset disabled>" in r.text
    assert client.post("/ask", data={"person": "1", "question": "Q1"}).status_code == 400
    _readable_404(client.get("/ask/1"))


def test_ask_runs_the_method_with_the_mock_model(
    view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    store = RunStore([view_runs["valuesim"]], view_survey.codebook)
    c = TestClient(create_app(store, survey=view_survey, model_options={"model": "mock"}))
    page = c.get("/ask")
    assert page.status_code == 200 and "ask-disabled" not in page.text and "<code>mock</code>" in page.text
    rid = view_survey.ids[0]
    r = c.post("/ask", data={"person": rid, "question": "Q46", "method": "valuesim"}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    for _ in range(300):
        job = c.get(url)
        if 'data-status="done"' in job.text or 'data-status="failed"' in job.text:
            break
        assert 'http-equiv="refresh"' in job.text
        time.sleep(0.1)
    assert 'data-status="done"' in job.text, job.text
    assert 'id="ask-result"' in job.text and "Real answer" in job.text, job.text
    assert "<b>cognitive</b>" in job.text and "<svg" in job.text, job.text
    bad = c.post("/ask", data={"person": rid, "question": "Q999", "method": "valuesim"})
    assert bad.status_code == 400 and "Unknown question id" in bad.text
    nobody = c.post("/ask", data={"person": "nobody", "question": "Q46", "method": "valuesim"})
    assert nobody.status_code == 400 and "No respondent with id" in nobody.text
    assert "Recent questions" in c.get("/ask").text
    # a new question, written on the page (like `valuesim ask --text --options`)
    new = c.post(
        "/ask",
        data={"person": rid, "text": "How much do you trust <b>robots</b>?", "options": "A lot|Some|None at all"},
        follow_redirects=False,
    )
    assert new.status_code == 303, new.text
    for _ in range(300):
        job = c.get(new.headers["location"])
        if 'data-status="done"' in job.text or 'data-status="failed"' in job.text:
            break
        time.sleep(0.1)
    assert 'data-status="done"' in job.text, job.text
    assert "a new question" in job.text and "Some" in job.text and "<b>robots</b>" not in job.text
    assert "&lt;b&gt;robots&lt;/b&gt;" in job.text and "<b>cognitive</b>" in job.text
    no_options = c.post("/ask", data={"person": rid, "text": "Why?", "options": ""})
    assert no_options.status_code == 400 and "answer options" in no_options.text
    state = c.app.state.view  # type: ignore[attr-defined]
    state.asker.close()


def test_live_page_follows_a_run_being_written(
    view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path
) -> None:
    run = tmp_path / "growing"
    rest = make_partial(view_runs["knn"], run, keep=0.4)
    store = RunStore([run], view_survey.codebook, refresh_seconds=0)
    c = TestClient(create_app(store, survey=view_survey))
    r = c.get("/live/growing")
    assert r.status_code == 200 and 'data-status="running"' in r.text and 'http-equiv="refresh"' in r.text
    first = int(re.search(r"([\d,]+) of [\d,]+ predictions", r.text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 0 < first < store.runs[0].n_targets
    assert 'id="latest"' in r.text
    assert 'href="/live/growing"' in c.get("/").text  # the runs page links the live view
    # the runner appends the remaining units: the page shows them on the next request
    text = (run / "predictions.jsonl").read_text("utf-8")
    (run / "predictions.jsonl").write_text(text[: text.rfind("\n") + 1] + "".join(rest), "utf-8")
    later = c.get("/live/growing")
    done = int(re.search(r"([\d,]+) of [\d,]+ predictions", later.text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert done == store.runs[0].n_targets > first
    _readable_404(c.get("/live/nope"))


def test_a_run_without_any_finished_unit_waits(
    view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path
) -> None:
    run = tmp_path / "fresh"
    make_partial(view_runs["knn"], run, keep=0.0, torn_line=True)
    store = RunStore([run], view_survey.codebook, refresh_seconds=0)
    c = TestClient(create_app(store, survey=view_survey))
    assert "Waiting for a first finished unit" in c.get("/").text
    r = c.get("/live/fresh")
    assert r.status_code == 200 and 'data-status="waiting"' in r.text
    assert c.get("/runs/fresh").status_code == 200


def test_hostile_names_are_escaped(client: TestClient) -> None:
    pages = ["/", "/breakdown?by=country", "/people", "/people?scope=all"]
    key = next(r.key for r in client.app.state.view.store if r.name == HOSTILE)  # type: ignore[attr-defined]
    pages += [f"/runs/{key}", f"/live/{key}", f"/breakdown?by=country&runs={key}", "/compare?a=knn&b=" + key]
    rid = client.app.state.view.store.get(key).pred["respondent"].iloc[0]  # type: ignore[attr-defined]
    qid = client.app.state.view.store.get(key).pred["question"].iloc[0]  # type: ignore[attr-defined]
    pages += [f"/people/{rid}", f"/question/{qid}"]
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, url
        assert "<script>alert" not in r.text and "<img src=x" not in r.text, url
        assert "onerror=alert" not in r.text or "&lt;img src=x onerror=alert(1)&gt;" in r.text, url
    body = client.get("/").text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;$HOME&lt;script&gt;" in body
    assert "&lt;script&gt;alert(2)" in client.get("/breakdown?by=country").text
    # a hostile path segment in the URL itself
    r = client.get("/runs/%3Cscript%3Ealert(3)%3C")
    assert r.status_code == 404 and "<script>alert(3)" not in r.text


def test_static_assets_and_unknown_pages(client: TestClient) -> None:
    css = client.get("/static/view.css")
    assert css.status_code == 200 and "url(" not in css.text  # nothing fetched from elsewhere
    js = client.get("/static/view.js")
    assert js.status_code == 200 and "http" not in js.text
    _readable_404(client.get("/no/such/page"))
    page = client.get("/").text
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no CDN, works offline


def test_the_viewer_never_writes_into_run_directories(view_runs: dict[str, Path], view_survey: SurveyData) -> None:
    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns) for d in view_runs.values() for p in sorted(d.rglob("*"))
        }

    before = snapshot()
    store = RunStore(list(view_runs.values()), view_survey.codebook, refresh_seconds=0)
    c = TestClient(create_app(store, survey=view_survey))
    for r in store:
        for url in (f"/runs/{r.key}", f"/live/{r.key}", f"/breakdown?by=question&runs={r.key}"):
            assert c.get(url).status_code == 200
    assert c.get(f"/people/{_person(view_runs)}").status_code == 200
    assert snapshot() == before


def test_other_sites_cannot_use_the_viewer(view_runs: dict[str, Path], view_survey: SurveyData) -> None:
    store = RunStore([view_runs["knn"]], view_survey.codebook)
    app = create_app(store, survey=view_survey, model_options={"model": "mock"}, allowed_hosts=["127.0.0.1"])
    local = TestClient(app, base_url="http://127.0.0.1:8765")
    assert local.get("/").status_code == 200
    # DNS rebinding: a page on another name that resolves to 127.0.0.1
    assert TestClient(app, base_url="http://evil.example:8765").get("/").status_code == 400
    # a form on another site posting to the viewer would spend the user's model calls
    r = local.post(
        "/ask",
        data={"person": view_survey.ids[0], "question": "Q46", "method": "valuesim"},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and not app.state.view.asker.jobs
    app.state.view.asker.close()
