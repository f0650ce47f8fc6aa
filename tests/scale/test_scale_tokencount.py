"""The counting mock server: token accounting (sent / computed under an ideal prefix cache /
completion) and multi-question scoring over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from valuesim.llm import ChatMessage, GenerateConfig, get_model
from valuesim.llm.backends import openai as openai_backend
from valuesim.llm.backends.mock import MockBackend
from valuesim.llm.backends.openai import read_batch_logprobs
from valuesim.scale.mockserver import MockServer, question_items
from valuesim.scale.tokencount import ByteTokenizer, PrefixTrie, RequestLog, chatml


@pytest.fixture(autouse=True)
def _fresh_caps():
    openai_backend._CAPS.clear()
    yield
    openai_backend._CAPS.clear()


class RecordingTokenizer(ByteTokenizer):
    """Byte tokenizer that also keeps every templated prompt it saw (for prefix checks)."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        self.prompts.append(chatml(messages))
        return super().prompt_ids(messages)


def test_prefix_trie_returns_the_longest_shared_prefix_with_any_earlier_sequence() -> None:
    trie = PrefixTrie()
    assert trie.add([1, 2, 3, 4]) == 0
    assert trie.add([1, 2, 9]) == 2
    assert trie.add([1, 2, 9, 9]) == 3  # the second sequence, not the first
    assert trie.add([1, 2, 3, 4]) == 4
    assert trie.add([5]) == 0


def test_request_log_counts_sent_computed_and_completion_in_bytes(tmp_path) -> None:
    log = RequestLog(ByteTokenizer(), tmp_path / "log.jsonl")
    system = ChatMessage("system", "S" * 100)
    a = log.record([system, ChatMessage("user", "question one")], "B", "score")
    b = log.record([system, ChatMessage("user", "question two")], "AB", "score")
    prompt_b = chatml([system, ChatMessage("user", "question two")]).encode()
    assert a.sent == a.computed == len(chatml([system, ChatMessage("user", "question one")]).encode())
    assert b.sent == len(prompt_b)
    prompt_a = chatml([system, ChatMessage("user", "question one")]).encode()
    common = next(i for i, (x, y) in enumerate(zip(prompt_a, prompt_b)) if x != y)
    assert b.shared == common > 100
    assert b.computed == b.sent - b.shared and b.completion == 2
    assert log.totals() == {
        "requests": 2,
        "sent": a.sent + b.sent,
        "computed": a.computed + b.computed,
        "completion": 3,
        "system": 200,
    }
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2
    log.reset()
    assert log.totals()["requests"] == 0 and log.record([system], "", "generate").shared == 0


def test_server_reports_counted_tokens_as_usage() -> None:
    log = RequestLog(ByteTokenizer())
    msgs = [ChatMessage("user", "Pick one.\nA. yes\nB. no")]
    with MockServer(log=log) as srv:
        model = get_model("openai:mock", base_url=srv.url, cache=False)
        res = model.score_choices_sync(msgs, ["A", "B"])
    assert res.source == "logprobs"
    assert log.records[-1].kind == "score"
    assert res.usage.prompt_tokens == log.records[-1].sent == len(chatml(msgs).encode())


BATCH = (
    "Question 1: How important is family?\nA. Very\nB. Rather\nC. Not\n\n"
    "Question 2: How important is work?\nA. Very\nB. Not\n\n"
    "Question 3: Trust people?\nA. Yes\nB. No\nC. Depends\nD. Never\n\n"
    'Answer each question on its own line, as "1: B".'
)


def test_question_items_reads_each_numbered_question_s_letters() -> None:
    assert question_items((ChatMessage("user", BATCH),)) == [["A", "B", "C"], ["A", "B"], ["A", "B", "C", "D"]]
    assert question_items((ChatMessage("user", "Question: x?\nA. a\nB. b"),)) == []


def test_batch_scoring_over_http_matches_the_backend_per_position() -> None:
    msgs = (ChatMessage("system", "You are someone."), ChatMessage("user", BATCH))
    items = (("A", "B", "C"), ("A", "B"), ("A", "B", "C", "D"))
    expected = asyncio.run(MockBackend(0).score_batch(msgs, items, GenerateConfig()))
    log = RequestLog(ByteTokenizer())
    with MockServer(log=log) as srv:
        model = get_model("openai:mock", base_url=srv.url, cache=False)
        res = asyncio.run(model.score_batch(msgs, items))
    assert log.totals()["requests"] == 1 and log.records[0].kind == "batch"
    assert res.source == "logprobs"
    for got, want in zip(res.probs, expected.probs, strict=True):
        assert got is not None and want is not None
        assert got == pytest.approx(want, abs=1e-6)


def test_read_batch_logprobs_leaves_items_the_answer_did_not_reach_empty() -> None:
    def tok(t: str, top: list[tuple[str, float]] | None = None) -> dict:
        return {"token": t, "logprob": 0.0, "top_logprobs": [{"token": a, "logprob": b} for a, b in (top or [])]}

    content = [tok("1"), tok(":"), tok(" B", [(" B", -0.1), (" A", -2.0)]), tok("\n"), tok("2:"), tok(" Z")]
    out = read_batch_logprobs(content, (("A", "B"), ("A", "B"), ("A", "B")))
    assert out[0] is not None and out[0][1] > out[0][0]
    assert out[1] is None and out[2] is None


def _served_prompts(data, person, targets, train, **options):
    """Every templated prompt the counting server saw for one respondent's targets, and its log."""
    from valuesim.methods import Task, get_method

    task = Task(person.restricted([q for q in person.answered() if q not in targets]), targets)
    tokenizer = RecordingTokenizer()
    log = RequestLog(tokenizer)
    with MockServer(log=log) as srv:
        method = get_method("valuesim", data.codebook, model="openai:mock", base_url=srv.url, cache=False, **options)
        method.fit(train)
        preds = method.predict(task)
    assert all(p.prediction is not None for p in preds)
    return tokenizer.prompts, log, preds


def _system_block(prompt: str) -> str:
    return prompt[: prompt.index("<|im_end|>") + len("<|im_end|>\n")]


def test_requests_of_one_respondent_share_the_backstory_prefix_byte_for_byte(synthetic_data) -> None:
    """Through the counting server: every module request of a respondent starts with the same
    system block (persona + shared story), whatever the target; each target's own answers come
    after it, and the modules of one target share those answers and the question."""
    person = next(synthetic_data.respondents())
    known = [q for q in person.answered() if not synthetic_data.codebook.get(q).profile]
    targets = tuple(known[::25][:4])
    train = synthetic_data.subset([r for r in synthetic_data.frame.index if r != person.id])
    prompts, log, preds = _served_prompts(synthetic_data, person, targets, train)
    story_prompts = [p for p in prompts if "<|im_start|>system\nYou are the person described below" in p]
    coordinator = [p for p in prompts if p not in story_prompts]
    assert len(story_prompts) == 3 * len(targets)
    system_block = _system_block(story_prompts[0])
    assert len(system_block) > 300  # the shared story is in it
    assert all(p.startswith(system_block) for p in story_prompts)  # byte-identical for every module and target
    story_records = [r for r, p in zip(log.records, prompts, strict=True) if p in story_prompts]
    assert all(r.shared >= len(system_block.encode()) for r in story_records[1:])
    assert all(r.system > 0 for r in story_records)
    blocks = set()
    for q in targets:  # the three modules of one target share its answers and the question with its options
        question = "Question: " + synthetic_data.codebook.get(q).short
        mine = [p for p in story_prompts if question in p]
        assert len(mine) == 3
        shared = mine[0][: mine[0].index("\n\n", mine[0].index(question)) + 2]
        assert all(p.startswith(shared) for p in mine)
        user = shared[len(system_block) :]
        assert "Some of your earlier answers in this interview:" in user  # the target's own answers ...
        assert user.index("earlier answers") < user.index(question)  # ... before the question
        blocks.add(user[: user.index(question)])
    assert len(blocks) == len(targets)  # each target has its own answers
    assert all(p["history"]["target_facts"] > 0 for p in (x.meta for x in preds))
    backstory = system_block.split("\n\n", 1)[1][:200]
    assert all(backstory not in p for p in coordinator)  # the coordinator is not sent the story again
    assert all("earlier answers" not in p for p in coordinator)  # nor the target's answers (prompts v2 on)


def test_the_shared_story_is_the_same_bytes_whatever_the_targets(synthetic_data) -> None:
    """Two runs of one person with different targets send the same system block: the shared
    core depends on the person and the training people, never on the targets."""
    person = list(synthetic_data.respondents())[3]
    known = [q for q in person.answered() if not synthetic_data.codebook.get(q).profile]
    train = synthetic_data.subset([r for r in synthetic_data.frame.index if r != person.id])
    history = [q for q in known if q not in (known[5], known[40], known[60], known[80])]
    a, _, _ = _served_prompts(
        synthetic_data, person.restricted(history + [known[5], known[40]]), (known[5], known[40]), train
    )
    b, _, _ = _served_prompts(
        synthetic_data, person.restricted(history + [known[60], known[80]]), (known[60], known[80]), train
    )
    sys_a = {_system_block(p) for p in a if "You are the person described below" in p}
    sys_b = {_system_block(p) for p in b if "You are the person described below" in p}
    assert len(sys_a) == 1 and sys_a == sys_b
