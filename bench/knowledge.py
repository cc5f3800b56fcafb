"""The Step 4 benchmark: the knowledge base's search (资料库检索, issue 5 "Benchmark").

``hotline bench knowledge [--articles N] [--latency-queries Q] [--no-service]``

What it measures:

- **quality**: the labelled queries of ``bench/knowledge_queries.json`` (written from the
  documents' content before anything was measured) over the demo corpus — the five seed
  documents as the import splits them (``import:<file>#<n>``, :func:`parse_document`) and the
  demo's hand-written entries (``demo:<key>``: every department's 部门职能, the 办事指南, the
  常见问答). recall@5 (the share of a query's relevant entries in its first five hits), hit@5
  (at least one in the first five) and MRR (1 / rank of the first relevant hit, 0 beyond the
  first 10), overall and per kind of query, with every miss listed. For a query with a typo the
  "did you mean" suggestion is followed too, as an agent would click it (reported apart).
- **index build**: a corpus of ``articles`` (default 10,000) articles — the demo corpus plus
  synthetic articles recombined deterministically (:func:`synthetic_corpus`, seeded) from the
  real texts' paragraphs with varied titles, types, departments and territories, so that the
  term statistics are those of Chinese government text. Analysed from scratch (jieba, OpenCC:
  the cold path, :func:`analyze` + :meth:`Index.put`), and rebuilt from the stored analysed
  rows (the restart path: JSON → :meth:`AnalyzedDocument.from_dict` → :meth:`Index.put`) in a
  fresh child process, which also measures the RSS the index costs (psutil, before/after).
- **latency in process**: :meth:`Index.search` (limit 10, snippets and "did you mean"
  included) over that index for a mix of queries: the labelled ones, random words from titles,
  fragments of article text, a few pasted order texts of 80–200 characters; a third with
  filters (type, department, territory, validity day).
- **latency through the service**: the whole system started isolated (:class:`IsolatedSystem`:
  fresh vhost, temporary data directory, SQLite), the same articles loaded through the
  knowledge service's own ``load_entries`` RPC (each entry created and published in its own
  transaction: versions, review log, analysed search row, event), the labelled queries run
  again through the ``search`` RPC before the synthetic articles are added (the service's
  ranking must equal the in-process one), then the latency mix through the ``search`` RPC (what
  an agent's console waits for; the search is recorded in the transaction, as in production)
  and through ``GET /api/v1/kb/search`` over HTTP (login as an agent; the route passes only
  ``q`` and ``limit``).

Results: ``bench/results/knowledge.json`` and ``.md`` (``knowledge-n<N>…`` for another size).
The measurement functions (metrics, corpus, query file) are unit tested in
``tests/unit/test_bench_knowledge.py``; no timing is asserted anywhere.
"""

from __future__ import annotations

import gc
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

QUERIES = Path(__file__).resolve().parent / "knowledge_queries.json"
TARGET_P95_MS = 30.0
K = 5
DEPTH = 10  # hits asked for, as the console asks

DEFAULTS: dict[str, Any] = {
    "articles": 10_000,         # corpus size for build and latency (demo corpus included)
    "latency_queries": 3000,    # in-process searches timed
    "service_queries": 1000,    # searches timed through the RPC, and again over HTTP
    "load_batch": 100,          # entries per load_entries RPC
    "seed": 12345,
    "service": True,            # False: in process only
    "quiet_wait_seconds": 60,
    "results_dir": None,
}
REFERENCE = {"articles": 10_000}

TYPE_MIX = (("policy", 0.40), ("guide", 0.25), ("faq", 0.25), ("responsibility", 0.10))
# characters of body text per type (median; a log-normal spread around it)
BODY_CHARS = {"policy": 1800, "guide": 350, "faq": 220, "responsibility": 260}
SUFFIXES = {
    "policy": ("实施办法", "管理规定", "工作方案", "实施意见", "工作规程", "的通知", "管理制度",
               "考核办法", "工作细则"),
    "guide": ("办理指南", "申请", "登记", "审批", "备案", "办事指南"),
    "faq": ("怎么办理", "找哪个部门", "如何投诉", "需要什么材料", "多久能办好", "在哪里办"),
    "responsibility": ("主要职责", "职能范围", "工作职责"),
}
VERSIONS = ("", "（2019年修订）", "（2021年版）", "（2023年修订）", "（试行）", "（暂行）")


# -- the demo corpus ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One knowledge entry as the demo loads it: ``key`` is stable across runs (``demo:<key>``
    for the hand-written entries, the import's source ``import:<file>#<n>`` for the seeds)."""

    key: str
    title: str
    body: str
    article_type: str
    department_code: str | None = None
    territories: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """What the index reads (the knowledge service's own rule: body, then guide fields)."""
        from services.knowledge.domain import document_text
        return document_text(self.body, self.fields)

    def form(self, actor_key: str | None = None) -> dict[str, Any]:
        """The entry as ``load_entries`` takes it (published at once)."""
        out: dict[str, Any] = {"key": actor_key or self.key, "article_type": self.article_type,
                               "title": self.title, "body": self.body,
                               "department_code": self.department_code,
                               "territories": list(self.territories),
                               "categories": list(self.categories), "publish": True}
        if self.fields:
            out["fields"] = dict(self.fields)
        return out


def seed_files(seeds: Path | None = None) -> list[Path]:
    from hotline.demo import seed_dir
    folder = seeds or seed_dir()
    if folder is None:
        raise RuntimeError("the seed documents (../shared/seeds) were not found; set "
                           "HOTLINE_SEEDS")
    return sorted(folder.glob("*.txt"))


def demo_corpus(seeds: Path | None = None) -> list[Entry]:
    """The demo's knowledge base: its hand-written entries, then the seeds as imported."""
    from hotline.demo import knowledge_entries
    from services.knowledge.importing import parse_document

    out = [Entry(key=f"demo:{e['key']}", title=e["title"], body=e["body"],
                 article_type=e["article_type"], department_code=e.get("department_code"),
                 territories=tuple(e.get("territories") or ()),
                 categories=tuple(e.get("categories") or ()), fields=dict(e.get("fields") or {}))
           for e in knowledge_entries()]
    for path in seed_files(seeds):
        for d in parse_document(path.name, path.read_bytes()):
            out.append(Entry(key=d.source, title=d.title, body=d.body,
                             article_type=d.article_type, categories=tuple(d.categories)))
    return out


def documents(entries: Sequence[Entry], first_id: int = 1) -> list[Any]:
    """Index documents of ``entries``, article ids ``first_id``, ``first_id + 1`` …"""
    from services.knowledge.search import Document
    return [Document(article_id=first_id + i, version=1, title=e.title, text=e.text,
                     article_type=e.article_type, department_code=e.department_code,
                     categories=e.categories, territories=e.territories)
            for i, e in enumerate(entries)]


# -- the labelled queries ----------------------------------------------------------------------

def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    return list(json.loads(Path(path).read_text("utf-8"))["queries"])


def query_problems(queries: Sequence[dict[str, Any]], keys: Iterable[str],
                   minimum: int = 100) -> list[str]:
    """What is wrong with a query set over a corpus of ``keys`` (empty: nothing)."""
    known = set(keys)
    problems = []
    if len(queries) < minimum:
        problems.append(f"{len(queries)} queries, fewer than {minimum}")
    seen: set[str] = set()
    for i, q in enumerate(queries):
        text = q.get("q")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"query {i}: no text")
            continue
        if text in seen:
            problems.append(f"query {i} ({text}): repeated")
        seen.add(text)
        if not q.get("kind"):
            problems.append(f"query {i} ({text}): no kind")
        relevant = q.get("relevant") or []
        if not relevant:
            problems.append(f"query {i} ({text}): no relevant entry")
        problems += [f"query {i} ({text}): {key} is not an entry of the corpus"
                     for key in relevant if key not in known]
    return problems


# -- quality metrics ---------------------------------------------------------------------------

def first_relevant_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant key in ``ranked``, None when there is none."""
    wanted = set(relevant)
    for i, key in enumerate(ranked, 1):
        if key in wanted:
            return i
    return None


def recall_at(ranked: Sequence[str], relevant: Iterable[str], k: int = K) -> float:
    """Share of the relevant keys among the first ``k`` ranked."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return len(wanted & set(ranked[:k])) / len(wanted)


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    rank = first_relevant_rank(ranked, relevant)
    return 0.0 if rank is None else 1.0 / rank


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean recall@5, hit@5 and MRR of evaluated queries (:func:`evaluate`'s rows)."""
    n = len(rows)
    if not n:
        return {"n": 0, "recall_at_5": None, "hit_at_5": None, "mrr": None}
    return {"n": n,
            "recall_at_5": round(sum(r["recall_at_5"] for r in rows) / n, 3),
            "hit_at_5": round(sum(1 for r in rows if r["rank"] and r["rank"] <= K) / n, 3),
            "mrr": round(sum(r["rr"] for r in rows) / n, 3)}


def evaluate(queries: Sequence[dict[str, Any]],
             search: Callable[[str], tuple[list[str], str | None]]) -> dict[str, Any]:
    """Run every query through ``search`` (q → (ranked keys, did-you-mean or None)) and
    measure. Queries of kind ``typo`` are also measured after following the suggestion."""
    rows = []
    for q in queries:
        ranked, suggestion = search(q["q"])
        row = {"q": q["q"], "kind": q["kind"], "relevant": list(q["relevant"]),
               "top": ranked[:K], "rank": first_relevant_rank(ranked, q["relevant"]),
               "recall_at_5": recall_at(ranked, q["relevant"]),
               "rr": reciprocal_rank(ranked, q["relevant"]), "did_you_mean": suggestion}
        if q["kind"] == "typo":
            followed = search(suggestion)[0] if suggestion else ranked
            row["followed"] = {"rank": first_relevant_rank(followed, q["relevant"]),
                               "recall_at_5": recall_at(followed, q["relevant"]),
                               "rr": reciprocal_rank(followed, q["relevant"])}
        rows.append(row)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    traditional_target = [r for r in rows if any(key.startswith("import:004_")
                                                  for key in r["relevant"])]
    typos = [r for r in rows if r["kind"] == "typo"]
    return {"overall": aggregate(rows),
            "by_kind": {kind: aggregate(rs) for kind, rs in sorted(by_kind.items())},
            "target_in_traditional_characters": aggregate(traditional_target),
            "typo_after_did_you_mean": aggregate([r["followed"] for r in typos]),
            "typo_suggestions_offered": sum(1 for r in typos if r["did_you_mean"]),
            "misses": [r for r in rows if r["recall_at_5"] < 1.0],
            "rows": rows}


# -- the synthetic corpus ----------------------------------------------------------------------

def paragraphs(entries: Sequence[Entry], low: int = 20, high: int = 400) -> list[str]:
    """The real texts cut into paragraphs of ``low``–``high`` characters (long lines split at
    sentence ends), in corpus order."""
    out = []
    for e in entries:
        for line in e.text.splitlines():
            line = line.strip()
            if len(line) <= high:
                if len(line) >= low:
                    out.append(line)
                continue
            part = ""
            for sentence in line.replace("。", "。\n").splitlines():
                if part and len(part) + len(sentence) > high:
                    if len(part) >= low:
                        out.append(part)
                    part = ""
                part += sentence
            if len(part) >= low:
                out.append(part)
    return out


def _topics(entries: Sequence[Entry]) -> list[str]:
    """Phrases titles are made of: the real titles without their endings, the duties' items
    (占道经营和流动摊贩, 社会保障卡办理 …), the guides' project names."""
    import re
    topics: set[str] = set()
    for e in entries:
        title = re.sub(r"[（(].*?[)）]|第\d+篇|主要职责$", "", e.title).strip()
        if 4 <= len(title) <= 30:
            topics.add(title)
        for item in re.split(r"[、，,；;：:。（）()]", e.body):
            item = item.strip()
            if 4 <= len(item) <= 14 and not item.startswith(("负责", "按照")):
                topics.add(item)
    return sorted(topics)


def synthetic_corpus(entries: Sequence[Entry], n: int, seed: int) -> list[Entry]:
    """``n`` articles recombined from the real ones, the same for the same ``seed``: a type
    (40 % 政策法规, 25 % 办事指南, 25 % 常见问答, 10 % 部门职能), an owner department, no
    territory (60 %) or a district's or street's, sometimes categories; a title of a place, a
    topic and an ending of that type (unique); a body of real paragraphs drawn at random up to
    a log-normal length; guides get every guide field from the demo's guides."""
    from hotline.demo import DEPARTMENTS, TERRITORIES
    from shared.vocabulary import CATEGORIES

    rng = random.Random(seed)
    pool = paragraphs(entries)
    topics = _topics(entries)
    guides = [e for e in entries if e.article_type == "guide" and e.fields]
    departments = [d["code"] for d in DEPARTMENTS]
    places = [("", None)] * 4 + [(t["name"], t["code"]) for t in TERRITORIES
                                 if t["level"] in ("district", "street")]
    taken = {(e.article_type, e.title) for e in entries}
    types = [t for t, _ in TYPE_MIX]
    weights = [w for _, w in TYPE_MIX]
    out = []
    for i in range(n):
        article_type = rng.choices(types, weights)[0]
        place, code = rng.choice(places)
        if rng.random() < 0.6:
            code = None
        title = (place + rng.choice(topics) + rng.choice(SUFFIXES[article_type]))[:180]
        if (article_type, title) in taken:
            title = title + rng.choice(VERSIONS[1:])
        while (article_type, title) in taken:
            title = f"{title}（{i}）"
        taken.add((article_type, title))
        budget = int(BODY_CHARS[article_type] * math.exp(rng.gauss(0, 0.6)))
        parts: list[str] = []
        size = 0
        while size < budget:
            p = rng.choice(pool)
            parts.append(p)
            size += len(p)
        fields: dict[str, str] = {}
        if article_type == "guide" and guides:
            names = sorted({k for g in guides for k in g.fields})
            fields = {k: rng.choice([g.fields[k] for g in guides if k in g.fields])
                      for k in names}
            fields["project_name"] = title[:60]
        categories = tuple(sorted(rng.sample(sorted(CATEGORIES), rng.randint(1, 2)))) \
            if rng.random() < 0.2 else ()
        out.append(Entry(key=f"synthetic:{i + 1}", title=title, body="\n".join(parts),
                         article_type=article_type, department_code=rng.choice(departments),
                         territories=(code,) if code else (), categories=categories,
                         fields=fields))
    return out


# -- the latency mix ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TimedQuery:
    q: str
    group: str  # labelled / title words / text fragment / order text
    filters: dict[str, Any]


def latency_mix(labelled: Sequence[dict[str, Any]], corpus: Sequence[Entry], n: int,
                seed: int, analyzer: Any) -> list[TimedQuery]:
    """``n`` queries, the same for the same ``seed``: 40 % the labelled ones (cycled), 30 %
    one to three words of a random title, 25 % a 4–16 character fragment of a random
    paragraph, 5 % an order text of 80–200 characters (an agent pasting the caller's words);
    a third of them with one or two filters."""
    from hotline.demo import DEPARTMENTS, TERRITORIES

    rng = random.Random(seed + 1)
    pool = paragraphs(corpus[:2000])
    codes = [t["code"] for t in TERRITORIES]
    departments = [d["code"] for d in DEPARTMENTS]
    types = [t for t, _ in TYPE_MIX]
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.40:
            q, group = labelled[i % len(labelled)]["q"], "labelled"
        elif r < 0.70:
            words = [w for w in analyzer.terms(rng.choice(corpus).title) if len(w) >= 2]
            q = "".join(rng.sample(words, min(len(words), rng.randint(1, 3)))) or "办理"
            group = "title words"
        elif r < 0.95:
            p = rng.choice(pool)
            size = rng.randint(4, 16)
            start = rng.randrange(0, max(1, len(p) - size))
            q, group = p[start:start + size], "text fragment"
        else:
            text = ""
            while len(text) < 80:
                text += rng.choice(pool)
            q, group = text[:rng.randint(80, 200)], "order text"
        filters: dict[str, Any] = {}
        if rng.random() < 1 / 3:
            for name in rng.sample(["article_type", "department_code", "territory_code"],
                                   rng.randint(1, 2)):
                filters[name] = {"article_type": lambda: rng.choice(types),
                                 "department_code": lambda: rng.choice(departments),
                                 "territory_code": lambda: rng.choice(codes)}[name]()
        if not analyzer.terms(q):
            q = "办理" + q  # punctuation only: still a query an agent could type
        out.append(TimedQuery(q, group, filters))
    return out


# -- in-process measurements ------------------------------------------------------------------

def rss_mb() -> float:
    import psutil
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def evaluate_in_process(analyzer: Any, corpus: Sequence[Entry],
                        queries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Quality over an index of ``corpus`` alone (ids 1 … in corpus order)."""
    from services.knowledge.search import Index, analyze

    index = Index(analyzer)
    for doc in documents(corpus):
        index.put(analyze(doc, analyzer))
    key_of = {i + 1: e.key for i, e in enumerate(corpus)}

    def search(q: str) -> tuple[list[str], str | None]:
        res = index.search(q, limit=DEPTH)
        return [key_of[h.article_id] for h in res.hits], res.did_you_mean

    return evaluate(queries, search)


def calibrate(analyzer: Any, corpus: Sequence[Entry]) -> float:
    """Seconds to segment the demo corpus's text once (≈0.2 M characters): a fixed, CPU-bound
    piece of work timed before and after the in-process measurements, so that runs on a
    shared machine (whose other tenants may be invisible to psutil) can be compared."""
    t0 = time.perf_counter()
    for e in corpus:
        analyzer.terms(e.text)
    return round(time.perf_counter() - t0, 3)


def build_cold(analyzer: Any, docs: Sequence[Any]) -> tuple[Any, list[str], dict[str, Any]]:
    """Analyse every document and put it in a new index: (index, stored rows as JSON text,
    timings)."""
    from services.knowledge.search import Index, analyze

    index = Index(analyzer)
    rows: list[str] = []
    t_analyse = t_put = 0.0
    for doc in docs:
        t0 = time.perf_counter()
        analysed = analyze(doc, analyzer)
        t1 = time.perf_counter()
        index.put(analysed)
        t2 = time.perf_counter()
        t_analyse += t1 - t0
        t_put += t2 - t1
        rows.append(json.dumps(analysed.to_dict(), ensure_ascii=False))
    t0 = time.perf_counter()
    index.search("政务服务")  # the first search computes the length norms
    first = time.perf_counter() - t0
    chars = sum(len(d.title) + len(d.text) for d in docs)
    return index, rows, {"articles": len(docs), "characters": chars,
                         "analyse_s": round(t_analyse, 2), "put_s": round(t_put, 2),
                         "total_s": round(t_analyse + t_put, 2),
                         "first_search_ms": round(_ms(first), 1),
                         "per_article_ms": round(_ms(t_analyse + t_put) / max(1, len(docs)), 2),
                         "stored_rows_mb": round(sum(len(r.encode()) for r in rows) / 2**20, 1)}


def restart_child(rows_path: str) -> dict[str, Any]:
    """Runs in a fresh process: load the analyzer, then rebuild the index from stored rows
    streamed from a file (the knowledge service's start reads them from its database) and
    measure time and RSS; then build it once more under tracemalloc for the Python heap the
    index holds (RSS also counts freed memory the allocator keeps)."""
    import tracemalloc

    from services.knowledge.analysis import shared_analyzer
    from services.knowledge.search import AnalyzedDocument, Index

    def rebuild() -> tuple[Any, float]:
        index = Index(analyzer)
        parse = 0.0
        with open(rows_path, encoding="utf-8") as f:
            for line in f:
                t1 = time.perf_counter()
                doc = AnalyzedDocument.from_dict(json.loads(line))
                parse += time.perf_counter() - t1
                index.put(doc)
        index.search("政务服务")  # the first search computes the length norms
        return index, parse

    rss0 = rss_mb()
    t0 = time.perf_counter()
    analyzer = shared_analyzer()
    analyzer.terms("预热")
    load_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mb()
    t0 = time.perf_counter()
    index, parse = rebuild()
    build_s = time.perf_counter() - t0
    n = len(index)
    gc.collect()
    rss2 = rss_mb()
    del index
    gc.collect()
    tracemalloc.start()
    index, _ = rebuild()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"articles": n, "rebuild_s": round(build_s, 2),
            "of_which_json_and_from_dict_s": round(parse, 2),
            "analyzer_load_s": round(load_s, 2), "rss_start_mb": rss0,
            "rss_with_analyzer_mb": rss1, "rss_with_index_mb": rss2,
            "index_rss_mb": round(rss2 - rss1, 1),
            "index_python_heap_mb": round(held / 2**20, 1)}


def measure_restart(rows: Sequence[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8",
                                     delete=False) as f:
        f.write("\n".join(rows) + "\n")
        path = f.name
    try:
        out = subprocess.run([sys.executable, "-m", "bench.knowledge", "restart-child", path],
                             capture_output=True, text=True, timeout=900,
                             cwd=str(Path(__file__).resolve().parent.parent))
        if out.returncode != 0:
            return {"error": out.stderr[-2000:]}
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        Path(path).unlink(missing_ok=True)


TYPED = "typed (all but order texts)"


def other_cpu_mark() -> tuple[float, float, float]:
    """(wall, machine busy CPU s, this process's CPU s) now."""
    import psutil
    ct = psutil.cpu_times()
    busy = sum(getattr(ct, f, 0.0) for f in ("user", "system", "nice", "irq", "softirq", "steal"))
    own = psutil.Process().cpu_times()
    return time.perf_counter(), busy, own.user + own.system


def other_cpu_percent(mark: tuple[float, float, float]) -> float:
    """CPU other processes used since ``mark``, in % of one core (200 % = both cores): what
    else ran on the machine while this process measured."""
    wall, busy, own = mark
    now_wall, now_busy, now_own = other_cpu_mark()
    if now_wall <= wall:
        return 0.0
    return round(100 * max(0.0, (now_busy - busy) - (now_own - own)) / (now_wall - wall), 1)


def filters_of(d: dict[str, Any], on: date | None = None) -> Any:
    from services.knowledge.search import Filters
    return Filters(**d, on=on) if (d or on) else Filters()


def time_in_process(index: Any, mix: Sequence[TimedQuery], warmup: int = 100
                    ) -> dict[str, Any]:
    """Every query of ``mix`` once through :meth:`Index.search` (limit 10), after ``warmup``
    untimed ones; latency per group and with/without filters, and the slowest queries."""
    from bench.common import summarize

    today = date.today()
    for tq in mix[:warmup]:
        index.search(tq.q, filters_of(tq.filters, today), limit=DEPTH)
    all_ms: list[float] = []
    groups: dict[str, list[float]] = defaultdict(list)
    slowest: list[tuple[float, str, dict[str, Any], int]] = []
    before = other_cpu_mark()
    for tq in mix:
        t0 = time.perf_counter()
        res = index.search(tq.q, filters_of(tq.filters, today), limit=DEPTH)
        ms = _ms(time.perf_counter() - t0)
        all_ms.append(ms)
        groups[tq.group].append(ms)
        if tq.group != "order text":
            groups[TYPED].append(ms)
        groups["with filters" if tq.filters else "without filters"].append(ms)
        slowest.append((ms, tq.q, tq.filters, res.total))
    slowest.sort(key=lambda s: -s[0])
    return {"all": summarize(all_ms),
            "other_processes_cpu_percent": other_cpu_percent(before),
            "groups": {g: summarize(v) for g, v in sorted(groups.items())},
            "slowest": [{"ms": round(ms, 1), "q": q[:60], "filters": f, "total": t}
                        for ms, q, f, t in slowest[:8]]}


# -- through the service ----------------------------------------------------------------------

AGENT = {"name": "agent1", "role": "agent", "department_code": None}
LOADER = {"name": "bench", "role": "admin", "department_code": None}


def load_through_rpc(rpc: Any, entries: Sequence[Entry], batch: int) -> dict[str, Any]:
    """Create and publish ``entries`` through ``knowledge.load_entries`` (one transaction an
    entry); entries already there (same type and title, e.g. loaded by the demo) are skipped."""
    created = skipped = 0
    errors: list[Any] = []
    t0 = time.perf_counter()
    for start in range(0, len(entries), batch):
        chunk = [e.form() for e in entries[start:start + batch]]
        answer = rpc.knowledge.load_entries(chunk, LOADER)
        created += answer["created"]
        skipped += answer["skipped"]
        errors += answer["errors"]
        if (start // batch) % 10 == 0:
            print(f"  loaded {start + len(chunk)}/{len(entries)} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    seconds = time.perf_counter() - t0
    return {"entries": len(entries), "created": created, "skipped": skipped,
            "errors": len(errors), "first_errors": errors[:3], "seconds": round(seconds, 1),
            "per_entry_ms": round(_ms(seconds) / max(1, len(entries)), 1)}


def evaluate_through_rpc(rpc: Any, corpus: Sequence[Entry],
                         queries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Quality through the ``search`` RPC (ids mapped back to keys by type and title)."""
    key_of = {(e.article_type, e.title): e.key for e in corpus}

    def search(q: str) -> tuple[list[str], str | None]:
        res = rpc.knowledge.search({"q": q, "limit": DEPTH}, AGENT)
        return ([key_of.get((h["article_type"], h["title"]), f"other:{h['id']}")
                 for h in res["items"]], res["did_you_mean"])

    return evaluate(queries, search)


def time_rpc(rpc: Any, mix: Sequence[TimedQuery]) -> dict[str, Any]:
    from bench.common import summarize
    all_ms: list[float] = []
    groups: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    for tq in mix:
        t0 = time.perf_counter()
        try:
            rpc.knowledge.search({"q": tq.q, "limit": DEPTH, **tq.filters}, AGENT)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors[type(exc).__name__] += 1
            continue
        ms = _ms(time.perf_counter() - t0)
        all_ms.append(ms)
        groups["with filters" if tq.filters else "without filters"].append(ms)
    return {"all": summarize(all_ms), "groups": {g: summarize(v) for g, v in groups.items()},
            "errors": dict(errors)}


def time_http(client: Any, mix: Sequence[TimedQuery]) -> dict[str, Any]:
    from bench.common import summarize
    all_ms: list[float] = []
    errors: Counter[str] = Counter()
    for tq in mix:
        t0 = time.perf_counter()
        r = client.raw("GET", "/api/v1/kb/search", params={"q": tq.q, "limit": DEPTH})
        ms = _ms(time.perf_counter() - t0)
        if r.status_code != 200:
            errors[str(r.status_code)] += 1
            continue
        all_ms.append(ms)
    return {"all": summarize(all_ms), "errors": dict(errors),
            "note": "the route passes q and limit only (no filters)"}


def settle(max_seconds: float, quiet_percent: float = 30.0) -> dict[str, Any]:
    """Wait (bounded) until the machine's CPU is below ``quiet_percent`` of one core: after
    loading 10,000 entries the services are still consuming their events for a while."""
    from bench.common import background_load
    t0 = time.perf_counter()
    cpu = background_load()["cpu_percent_of_one_core"]
    while cpu > quiet_percent and time.perf_counter() - t0 < max_seconds:
        cpu = background_load()["cpu_percent_of_one_core"]
    return {"waited_s": round(time.perf_counter() - t0, 1), "machine_cpu_percent": cpu}


def measure_service(opts: dict[str, Any], corpus: Sequence[Entry],
                    synthetic: Sequence[Entry], queries: Sequence[dict[str, Any]],
                    mix: Sequence[TimedQuery]) -> dict[str, Any]:
    from bench.common import PASSWORD, IsolatedSystem, say
    from hotline.client import HotlineClient
    from hotline.commands import cluster_rpc

    system = IsolatedSystem("sqlite")
    out: dict[str, Any] = {"database": "sqlite"}
    failed = False
    try:
        say(f"service: starting an isolated system (vhost {system.vhost.name}) …")
        system.start(3600)
        out["versions"] = system.versions()
        with cluster_rpc(system.config, timeout=300) as rpc:
            out["demo_articles_before"] = rpc.knowledge.article_count()
            say(f"  the demo loaded {out['demo_articles_before']} entries; loading the demo "
                f"corpus ({len(corpus)}) through load_entries …")
            out["load_corpus"] = load_through_rpc(rpc, corpus, int(opts["load_batch"]))
            say("  quality through the search RPC …")
            quality = evaluate_through_rpc(rpc, corpus, queries)
            out["quality"] = {k: quality[k] for k in ("overall", "by_kind")}
            out["quality_rows_top"] = [r["top"] for r in quality["rows"]]
            say(f"  loading {len(synthetic)} synthetic entries through load_entries …")
            out["load_synthetic"] = load_through_rpc(rpc, synthetic, int(opts["load_batch"]))
            out["articles_in_service"] = rpc.knowledge.article_count()
            out["settle_before_searches"] = settle(120.0)
            n = int(opts["service_queries"])
            sample = list(mix[:n])
            for tq in sample[:50]:  # warm-up
                rpc.knowledge.search({"q": tq.q, "limit": DEPTH, **tq.filters}, AGENT)
            say(f"  {n} searches through the RPC …")
            cpu0 = system.monitor.cpu_snapshot() if system.monitor else None
            out["rpc"] = time_rpc(rpc, sample)
            if system.monitor and cpu0:
                out["rpc_cpu_percent"] = system.monitor.cpu_percent(
                    cpu0, system.monitor.cpu_snapshot())
        client = HotlineClient.login(system.url, "agent1", PASSWORD, timeout=30)
        for tq in sample[:50]:
            client.raw("GET", "/api/v1/kb/search", params={"q": tq.q, "limit": DEPTH})
        say(f"  {n} searches over HTTP …")
        out["http"] = time_http(client, sample)
        if system.monitor:
            system.monitor.sample()
            out["rss_mb"] = system.monitor.mb(system.monitor.rss_last)
            out["rss_max_mb"] = system.monitor.mb(system.monitor.rss_max)
    except Exception as exc:  # noqa: BLE001 - reported in the results, the rest stays
        failed = True
        out["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        say(f"  service measurement failed: {out['error']}")
    finally:
        system.stop(keep_logs=failed)
    return out


# -- the run ---------------------------------------------------------------------------------

def _options(options: dict[str, Any]) -> dict[str, Any]:
    from bench.common import parse_options
    opts = parse_options(options, DEFAULTS)
    if int(opts["articles"]) < 100:
        raise ValueError("articles must be at least 100")
    return opts


def run(config: dict[str, Any], **options: Any) -> int:
    """``hotline bench knowledge``: see the module docstring. 0 when the run completed
    (whether or not the target was met), 1 when it could not run, 2 on bad options."""
    from bench.common import (
        machine_info,
        say,
        versions,
        wait_for_quiet_machine,
        write_results,
    )
    from services.knowledge.analysis import shared_analyzer

    try:
        opts = _options(options)
    except ValueError as exc:
        print(f"bench knowledge: {exc}", file=sys.stderr)
        return 2
    seed = int(opts["seed"])
    started = time.perf_counter()
    background = wait_for_quiet_machine(float(opts["quiet_wait_seconds"]))
    result: dict[str, Any] = {"benchmark": "knowledge",
                              "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                              "database": "sqlite", "options": opts, "machine": machine_info(),
                              "background_before": background}
    corpus = demo_corpus()
    queries = load_queries()
    problems = query_problems(queries, [e.key for e in corpus])
    if problems:
        print("bench knowledge: the query file does not fit the corpus:\n  "
              + "\n  ".join(problems[:20]), file=sys.stderr)
        return 1
    say(f"corpus: {len(corpus)} entries; {len(queries)} labelled queries")

    t0 = time.perf_counter()
    rss_before_analyzer = rss_mb()
    analyzer = shared_analyzer()
    analyzer.terms("预热")
    result["analyzer"] = {"version": analyzer.version,
                          "load_s": round(time.perf_counter() - t0, 2),
                          "rss_mb": round(rss_mb() - rss_before_analyzer, 1)}

    result["calibration_s"] = {"before": calibrate(analyzer, corpus)}
    say("quality, in process …")
    quality = evaluate_in_process(analyzer, corpus, queries)
    result["quality"] = quality
    o = quality["overall"]
    say(f"  recall@5 {o['recall_at_5']}, hit@5 {o['hit_at_5']}, MRR {o['mrr']} "
        f"over {o['n']} queries")

    n = int(opts["articles"])
    synthetic = synthetic_corpus(corpus, max(0, n - len(corpus)), seed)
    everything = list(corpus) + synthetic
    docs = documents(everything)
    say(f"build: analysing {len(docs)} articles from scratch …")
    gc.collect()
    rss0 = rss_mb()
    index, rows, cold = build_cold(analyzer, docs)
    gc.collect()
    cold["rss_growth_mb"] = round(rss_mb() - rss0, 1)
    result["build_cold"] = cold
    say(f"  {cold['total_s']} s ({cold['per_article_ms']} ms an article)")
    say("build: the restart path in a fresh process …")
    result["build_restart"] = measure_restart(rows)
    say(f"  {result['build_restart']}")
    del rows

    mix = latency_mix(queries, everything, int(opts["latency_queries"]), seed, analyzer)
    say(f"latency in process: {len(mix)} searches over {len(index)} articles …")
    result["latency_in_process"] = time_in_process(index, mix)
    a = result["latency_in_process"]["all"]
    say(f"  p50/p95/p99 {a['p50']}/{a['p95']}/{a['p99']} ms")
    result["calibration_s"]["after_in_process"] = calibrate(analyzer, corpus)
    say(f"  calibration (segmenting the demo corpus once), s: {result['calibration_s']}")
    result["latency_mix"] = dict(Counter(tq.group for tq in mix))
    result["latency_mix"]["with filters"] = sum(1 for tq in mix if tq.filters)
    del index
    gc.collect()

    if opts["service"]:
        service = measure_service(opts, corpus, synthetic, queries, mix)
        in_process_top = [r["top"] for r in quality["rows"]]
        if "quality_rows_top" in service:
            service["same_top5_as_in_process"] = sum(
                1 for a_, b_ in zip(service.pop("quality_rows_top"), in_process_top,
                                    strict=True) if a_ == b_)
        result["service"] = service
        result["versions"] = service.get("versions")
    if not result.get("versions"):
        result["versions"] = versions(config.get("AMQP_URI", "amqp://127.0.0.1"), "sqlite", None)
    for pkg in ("jieba", "opencc", "pypinyin"):
        from importlib.metadata import PackageNotFoundError, version
        try:
            result["versions"][pkg] = version(pkg)
        except PackageNotFoundError:
            result["versions"][pkg] = None
    result["wall_s"] = round(time.perf_counter() - started, 1)
    stem = "knowledge" if n == REFERENCE["articles"] else f"knowledge-n{n}"
    if not opts["service"]:
        stem += "-inprocess"
    path = write_results(stem, result, render_md(result), opts.get("results_dir"))
    say(f"results: {path} and .md")
    return 0


# -- the report ------------------------------------------------------------------------------

def _q(row: dict[str, Any]) -> str:
    return row["q"]


def summary_table(r: dict[str, Any]) -> str:
    """The short table for the README."""
    from bench.common import fmt_value, trio
    q = r["quality"]["overall"]
    lat = r["latency_in_process"]["all"]
    svc = r.get("service") or {}
    rpc = (svc.get("rpc") or {}).get("all") or {}
    http = (svc.get("http") or {}).get("all") or {}
    cold, restart = r["build_cold"], r["build_restart"]
    typed = r["latency_in_process"]["groups"].get(TYPED) or {}
    typed_met = "✔" if (typed.get("p95") or 1e9) <= TARGET_P95_MS else "✘"
    p95 = lat.get("p95")
    met = "✔" if p95 is not None and p95 <= TARGET_P95_MS else "✘"
    rpc_p95 = rpc.get("p95")
    rpc_met = "" if rpc_p95 is None else (" ✔" if rpc_p95 <= TARGET_P95_MS else " ✘")
    lines = [
        "| Target (issue 5) | Goal | Measured |",
        "|---|---|---|",
        f"| Labelled queries ({q['n']}): recall@5 / hit@5 / MRR | — | **{q['recall_at_5']} / "
        f"{q['hit_at_5']} / {q['mrr']}** |",
        f"| Search p50 / p95 / p99 over {cold['articles']:,} articles, in process | p95 ≤ 30 ms "
        f"| **{trio(lat)} ms {met}** |",
        f"| … typed queries only (without the 5 % pasted order texts of 80–200 characters) "
        f"| p95 ≤ 30 ms | {trio(typed)} ms {typed_met} |",
        "| … through the knowledge service's search RPC | — | "
        + (f"**{trio(rpc)} ms{rpc_met}** |" if rpc else "not measured |"),
        "| … over HTTP `GET /api/v1/kb/search` | — | "
        + (f"{trio(http)} ms |" if http else "not measured |"),
        f"| Index build, {cold['articles']:,} articles analysed from scratch | — | "
        f"{fmt_value(cold['total_s'])} s ({cold['per_article_ms']} ms an article) |",
        f"| Index rebuild from stored analysed rows (restart) | — | "
        f"{fmt_value(restart.get('rebuild_s'))} s |",
        f"| RSS of the index ({cold['articles']:,} articles) | — | "
        f"+{fmt_value(restart.get('index_rss_mb'))} MB RSS (Python heap held: "
        f"{fmt_value(restart.get('index_python_heap_mb'))} MB; the process with the analyzer "
        f"alone: {fmt_value(restart.get('rss_with_analyzer_mb'))} MB) |",
    ]
    return "\n".join(lines)


def render_md(r: dict[str, Any]) -> str:
    from bench.common import fmt_value, trio
    v, m = r.get("versions") or {}, r["machine"]
    qual = r["quality"]
    svc = r.get("service") or {}
    out = [f"#### `hotline bench knowledge` ({r['timestamp'][:10]}, {m['cpu_count']} cores, "
           f"{m['cpu_model']}, {m['memory_total_mb']} MB; Python {v.get('python')}, jieba "
           f"{v.get('jieba')}, OpenCC {v.get('opencc')}, pypinyin {v.get('pypinyin')}, nameko "
           f"{v.get('nameko')}, eventlet {v.get('eventlet')}, kombu {v.get('kombu')}, SQLAlchemy "
           f"{v.get('SQLAlchemy')}, SQLite {v.get('sqlite')}, RabbitMQ {v.get('rabbitmq')})", "",
           f"Machine before the run: {r['background_before']}. Analyzer "
           f"`{r['analyzer']['version']}`.", "", summary_table(r), "",
           "**Quality by kind of query** (in process, demo corpus of the five seeds as imported "
           "and the demo's entries):", "",
           "| Kind | Queries | recall@5 | hit@5 | MRR |", "|---|---|---|---|---|"]
    rows = [("all", qual["overall"]), *qual["by_kind"].items(),
            ("relevant entry in traditional characters (seed 004)",
             qual["target_in_traditional_characters"]),
            ("typo, after following “did you mean”", qual["typo_after_did_you_mean"])]
    for name, a in rows:
        out.append(f"| {name} | {a['n']} | {a['recall_at_5']} | {a['hit_at_5']} | {a['mrr']} |")
    out += ["", f"“Did you mean” offered for {qual['typo_suggestions_offered']} of "
            f"{qual['by_kind'].get('typo', {}).get('n', 0)} queries with a typo.", ""]
    if svc.get("quality"):
        sq = svc["quality"]["overall"]
        out += [f"Through the service's search RPC (same corpus, before the synthetic articles): "
                f"recall@5 {sq['recall_at_5']}, hit@5 {sq['hit_at_5']}, MRR {sq['mrr']}; "
                f"same first five as in process for {svc.get('same_top5_as_in_process')} of "
                f"{sq['n']} queries.", ""]
    out += [f"**Misses** (recall@5 < 1: {len(qual['misses'])} of {qual['overall']['n']}; rank = "
            "first relevant hit in the first 10, – none):", "",
            "| Query | Kind | Relevant | Rank | recall@5 | First five hits | Did you mean |",
            "|---|---|---|---|---|---|---|"]
    for row in qual["misses"]:
        out.append(f"| {row['q']} | {row['kind']} | {', '.join(_short(k) for k in row['relevant'])}"
                   f" | {fmt_value(row['rank'])} | {row['recall_at_5']:.2f} | "
                   f"{', '.join(_short(k) for k in row['top'])} | {row['did_you_mean'] or ''} |")
    lat = r["latency_in_process"]
    out += ["", f"**Latency in process** ({lat['all']['n']} searches, limit 10, over "
            f"{r['build_cold']['articles']:,} articles; mix {r['latency_mix']}), ms:", "",
            "| Group | n | p50 / p95 / p99 | max |", "|---|---|---|---|"]
    for g, s in [("all", lat["all"]), *lat["groups"].items()]:
        out.append(f"| {g} | {s['n']} | {trio(s)} | {fmt_value(s['max'])} |")
    out += ["", f"CPU used by other processes on the machine meanwhile: "
            f"{lat.get('other_processes_cpu_percent')} % of one core. Calibration (segmenting "
            f"the demo corpus once, the same work every run; lower is a faster machine), s: "
            f"{r.get('calibration_s')}.", ""]
    out += ["Slowest: " + "; ".join(f"{s['ms']} ms `{s['q']}` {s['filters'] or ''} "
                                         f"({s['total']} found)" for s in lat["slowest"][:5]), ""]
    cold, restart = r["build_cold"], r["build_restart"]
    out += ["**Index build**:", "",
            f"- cold: {cold['articles']:,} articles ({cold['characters']:,} characters) analysed "
            f"in {cold['analyse_s']} s and put in {cold['put_s']} s — {cold['total_s']} s, "
            f"{cold['per_article_ms']} ms an article; stored rows {cold['stored_rows_mb']} MB of "
            f"JSON; first search after the build {cold['first_search_ms']} ms (length norms)",
            f"- restart (fresh process): {restart}",
            f"- analyzer (jieba trimmed dictionary + OpenCC) load in this process: "
            f"{r['analyzer']['load_s']} s, +{r['analyzer']['rss_mb']} MB", ""]
    if svc:
        out += ["**Through the service** (isolated system, SQLite):", ""]
        if svc.get("error"):
            out += [f"- error: `{svc['error']}`"]
        for name in ("load_corpus", "load_synthetic"):
            if svc.get(name):
                out.append(f"- {name}: {svc[name]}")
        if svc.get("articles_in_service") is not None:
            out.append(f"- entries in the service: {svc['articles_in_service']} (the demo "
                       f"loaded {svc.get('demo_articles_before')})")
        for name in ("rpc", "http"):
            if svc.get(name):
                s = svc[name]
                out.append(f"- {name}: p50/p95/p99 {trio(s['all'])} ms, max "
                           f"{fmt_value(s['all']['max'])} ms over {s['all']['n']} searches; "
                           f"errors {s.get('errors')}"
                           + (f"; {s['groups']}" if s.get("groups") else ""))
        if svc.get("settle_before_searches"):
            out.append(f"- before the searches, waited for the loading's aftermath (events "
                       f"consumed) to settle: {svc['settle_before_searches']}")
        if svc.get("rpc_cpu_percent"):
            out.append(f"- CPU during the RPC searches (% of one core): {svc['rpc_cpu_percent']}")
        if svc.get("rss_mb"):
            out.append(f"- RSS after the searches, MB: {svc['rss_mb']}")
    else:
        out.append("Through the service: not measured (`--no-service`).")
    out.append("")
    return "\n".join(out)


def _short(key: str) -> str:
    """``000#1`` for ``import:000_….txt#1``, ``duty:center`` for ``demo:duty:center``."""
    if key.startswith("import:"):
        return key[len("import:"):].split("_", 1)[0] + "#" + key.rsplit("#", 1)[1]
    return key.removeprefix("demo:")


if __name__ == "__main__":  # the restart measurement's child process
    if len(sys.argv) == 3 and sys.argv[1] == "restart-child":
        print(json.dumps(restart_child(sys.argv[2])))
        sys.exit(0)
    sys.exit(2)
