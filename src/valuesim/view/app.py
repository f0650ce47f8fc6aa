"""The viewer's web application (Starlette + Jinja2, server-rendered, no external asset).

Routes:

* ``/``                      Runs: every run with CIs, calls, tokens, time; pick two to compare
* ``/runs/{key}``            one run: metrics, accounting, provenance
* ``/compare?a=&b=``         paired comparison of two runs (same split)
* ``/breakdown?by=&metric=`` drill-down by section, country, question kind or question
* ``/question/{qid}``        true vs predicted distributions, per-country split, confusion matrix
* ``/people``                respondents filtered by country, sex, age band, id
* ``/people/{id}``           one person: record, backstory, every run's predictions, LLM modules
* ``/prompt?run=&person=&q=&fold=&cond=``  the exact messages an LLM prediction read (verified)
* ``/ask``                   ask an LLM method (needs ``--model`` and ``--data``)
* ``/live/{key}``            a run still being written, refreshing
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from valuesim._redact import redact_text
from valuesim.errors import ValueSimError
from valuesim.survey.codebook import Codebook
from valuesim.survey.dataset import SurveyData
from valuesim.view import pages
from valuesim.view.ask import AskRunner, ask_methods
from valuesim.view.store import NotFound, People, RunStore

HERE = Path(__file__).parent
SERVER_TIMING_HEADER = "Server-Timing"


@dataclass
class ViewState:
    store: RunStore
    people: People
    survey: SurveyData | None
    codebook: Codebook
    model_spec: str | None
    asker: AskRunner | None


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: f"{100 * float(v):.0f}%"
    return env


def create_app(
    store: RunStore,
    *,
    survey: SurveyData | None = None,
    model_options: Mapping[str, Any] | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The ASGI app over loaded runs, an optional survey and an optional model (for Ask).

    ``model_options``: the method options of the model Ask uses (``model``, ``base_url``,
    ``api_key``, ``cache``: what the command line's model flags map to); None: no Ask.
    ``allowed_hosts``: the Host header values to serve (e.g. 127.0.0.1 and localhost when bound to
    loopback), so a web page cannot reach the viewer through a DNS name it controls; None = any.
    """
    codebook = survey.codebook if survey is not None else store.codebook
    state = ViewState(
        store=store,
        people=People(store, survey),
        survey=survey,
        codebook=codebook,
        model_spec=None if model_options is None else str(model_options.get("model", "local")),
        asker=AskRunner(survey, model_options) if (survey is not None and model_options is not None) else None,
    )
    env = _env()

    def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
        t0 = time.perf_counter()
        # the one boundary of every page: no page shows a secret (credentials in a server URL, API keys)
        text = redact_text(
            env.get_template(name).render(
                request=request,
                nav=name.split(".")[0],
                synthetic=bool(survey is not None and survey.synthetic)
                or any(r.data is not None and r.data.synthetic for r in store),
                **ctx,
            )
        )
        resp = HTMLResponse(text, status_code=status_code)
        build = request.scope.get("valuesim.t0")
        if isinstance(build, float):
            resp.headers[SERVER_TIMING_HEADER] = (
                f"total;dur={1000 * (time.perf_counter() - build):.1f}, render;dur={1000 * (time.perf_counter() - t0):.1f}"
            )
        return resp

    def page(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request.scope["valuesim.t0"] = time.perf_counter()
            try:
                return await handler(request)
            except NotFound as e:
                return render(request, "error.html", 404, title="Not found", message=e.message, hint=e.hint)
            except ValueSimError as e:
                return render(request, "error.html", 400, title="Bad request", message=e.message, hint=e.hint or "")

        return endpoint

    from starlette.concurrency import run_in_threadpool

    def q(request: Request, key: str, default: str = "") -> str:
        return request.query_params.get(key, default)

    @page
    async def runs(request: Request) -> Response:
        ctx = await run_in_threadpool(pages.runs_page, store)
        return render(request, "runs.html", **ctx)

    @page
    async def run_detail(request: Request) -> Response:
        ctx = await run_in_threadpool(pages.run_page, store, request.path_params["key"])
        return render(request, "run.html", **ctx)

    @page
    async def compare(request: Request) -> Response:
        a, b = q(request, "a"), q(request, "b")
        if not a or not b:
            raise NotFound("Choose two runs to compare.", "Use the form on the Runs page.")
        ctx = await run_in_threadpool(pages.compare_page, store, a, b)
        return render(request, "compare.html", **ctx)

    @page
    async def breakdown(request: Request) -> Response:
        keys = [k for k in q(request, "runs").split(",") if k]
        ctx = await run_in_threadpool(
            pages.breakdown_page, store, q(request, "by", "section"), q(request, "metric", "top1"), keys
        )
        return render(request, "breakdown.html", **ctx)

    @page
    async def question(request: Request) -> Response:
        ctx = await run_in_threadpool(pages.question_page, store, request.path_params["qid"], q(request, "run") or None)
        return render(request, "question.html", **ctx)

    @page
    async def questions(request: Request) -> Response:
        qid = q(request, "q").strip()
        if qid:
            return RedirectResponse(f"/question/{quote(qid.upper(), safe='')}", status_code=303)
        return RedirectResponse("/breakdown?by=question", status_code=303)

    @page
    async def people(request: Request) -> Response:
        ctx = await run_in_threadpool(pages.people_page, state.people, dict(request.query_params))
        return render(request, "people.html", **ctx)

    @page
    async def person(request: Request) -> Response:
        ctx = await run_in_threadpool(pages.person_page, store, state.people, request.path_params["rid"])
        return render(request, "person.html", **ctx)

    @page
    async def prompt(request: Request) -> Response:
        ctx = await run_in_threadpool(
            pages.prompt_page,
            store,
            state.people,
            q(request, "run"),
            q(request, "person"),
            q(request, "q"),
            q(request, "fold", "0"),
            q(request, "cond"),
        )
        return render(request, "prompt.html", **ctx)

    def ask_context(request: Request, **extra: Any) -> dict[str, Any]:
        disabled = ""
        if state.model_spec is None:
            disabled = "Asking is disabled: the viewer was started without --model."
        elif survey is None:
            disabled = "Asking is disabled: the viewer was started without --data (the person's answers are needed)."
        return {
            "disabled": disabled,
            "model_spec": state.model_spec,
            "methods": state.asker.methods if state.asker else ask_methods(),
            "form": {
                "person": q(request, "person"),
                "question": q(request, "question"),
                "method": q(request, "method", "valuesim"),
                "text": q(request, "text"),
                "options": q(request, "options"),
            },
            "jobs": list(reversed(list(state.asker.jobs.values())))[:10] if state.asker else [],
            "questions": [(x, codebook.get(x).short) for x in codebook.substantive()],
            **extra,
        }

    @page
    async def ask(request: Request) -> Response:
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.url.netloc:
                # another site's page posting to the local viewer (it would spend the user's model calls)
                return render(
                    request,
                    "error.html",
                    403,
                    title="Forbidden",
                    message="Questions can only be asked from the viewer's own pages.",
                    hint=f"Open {request.url.scheme}://{request.url.netloc}/ask.",
                )
            if state.asker is None:
                return render(request, "ask.html", 400, **ask_context(request))
            form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
            try:
                job = state.asker.submit(
                    form.get("person", "").strip(),
                    form.get("question", "").strip(),
                    form.get("method", "valuesim"),
                    text=form.get("text", ""),
                    options=form.get("options", ""),
                    unordered=form.get("unordered", "") == "on",
                )
            except ValueSimError as e:
                ctx = ask_context(request, error=e.message, hint=e.hint or "")
                ctx["form"] = {k: form.get(k, "") for k in ("person", "question", "method", "text", "options")}
                return render(request, "ask.html", 400, **ctx)
            return RedirectResponse(f"/ask/{job.id}", status_code=303)
        return render(request, "ask.html", **ask_context(request))

    @page
    async def ask_job(request: Request) -> Response:
        job = state.asker.get(request.path_params["job"]) if state.asker else None
        if job is None or state.asker is None or survey is None:
            raise NotFound(f"There is no Ask job {request.path_params['job']!r}.", "Start one on the Ask page.")
        qn = job.q if job.q is not None else codebook.get(job.question)
        person_obj = survey.respondent(job.respondent)
        status = job.status  # read once: the worker sets the prediction before "done"
        result = None
        if status == "done" and job.prediction is not None:
            pred = job.prediction
            probs = pred.get("probabilities") or {}
            result = {
                "label": pages.answer_label(qn, pred.get("prediction")),
                "confidence": (
                    f"{float(probs[str(pred['prediction'])]):.2f}"
                    if pred.get("prediction") is not None and str(pred["prediction"]) in probs
                    else ""
                ),
                "modules": pages.module_views(qn, pred.get("meta") or {}),
                "final": pages.module_views(
                    qn,
                    {"modules": {"final answer": {"answer": pred.get("prediction"), "probs": probs, "label": ""}}},
                )
                if probs
                else [],
                "error": (pred.get("meta") or {}).get("error", ""),
                "integration": (pred.get("meta") or {}).get("integration"),
                "usage": (pred.get("meta") or {}).get("usage") or {},
            }
        custom = job.codebook is not None and job.codebook is not codebook
        if custom:
            truth = "none (a new question: nobody has answered it)"
        elif qn.id in person_obj.answers:
            truth = pages.answer_label(qn, person_obj.answers[qn.id])
        else:
            truth = "none (missing in the data)"
        return render(
            request,
            "ask_job.html",
            job=job,
            custom=custom,
            status=status,
            q=qn,
            truth=truth,
            result=result,
            calls=job.calls if status == "running" else None,
            model_spec=state.model_spec,
        )

    @page
    async def live(request: Request) -> Response:
        ctx = await run_in_threadpool(pages.live_page, store, request.path_params["key"])
        return render(request, "live.html", **ctx)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return render(
            request,
            "error.html",
            status,
            title="Not found" if status == 404 else "Error",
            message=f"There is no page {request.url.path!r}." if status == 404 else str(exc),
            hint="Start from the Runs page.",
        )

    routes = [
        Route("/", runs),
        Route("/runs/{key}", run_detail),
        Route("/compare", compare),
        Route("/breakdown", breakdown),
        Route("/question", questions),
        Route("/question/{qid}", question),
        Route("/people", people),
        Route("/people/{rid:path}", person),
        Route("/prompt", prompt),
        Route("/ask", ask, methods=["GET", "POST"]),
        Route("/ask/{job}", ask_job),
        Route("/live/{key}", live),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found}, middleware=middleware)
    app.state.view = state
    return app
