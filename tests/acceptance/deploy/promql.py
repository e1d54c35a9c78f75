"""A small PromQL well-formedness check for our own rules and dashboards (promtool is not
always installed): balanced brackets, known functions, durations, label matchers, and every
metric name one that a service really exports, with labels it really has."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

FUNCTIONS = frozenset({
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "day_of_month", "day_of_week", "delta",
    "deriv", "exp", "floor", "histogram_quantile", "holt_winters", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log2", "log10",
    "max_over_time", "min_over_time", "predict_linear", "quantile_over_time", "rate",
    "resets", "round", "scalar", "sort", "sort_desc", "sqrt", "stddev_over_time",
    "sum_over_time", "time", "timestamp", "vector",
})  # fmt: skip
AGGREGATIONS = frozenset({
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group",
})  # fmt: skip
GROUPING = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right"])
BINARY_WORDS = frozenset(["and", "or", "unless", "bool"])
SCRAPE_LABELS = frozenset({"job", "instance", "service"})  # added by prometheus.yml
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$job": "herald"}

_DURATION = r"\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*"
_RANGE = re.compile(rf"\[\s*{_DURATION}\s*(?::\s*(?:{_DURATION})?\s*)?\]")
_OFFSET = re.compile(rf"\boffset\s+{_DURATION}")
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"""|(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)"""
    r"""|(?P<range>\x00)"""
    r"""|(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)"""
    r"""|(?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},]))"""
)
_PAIRS = {"(": ")", "{": "}"}


@dataclass(frozen=True)
class Exported:
    """What the services' metrics modules register: sample names and their label names."""

    labels: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def collect(cls, modules: list[object]) -> Exported:
        declared: dict[str, frozenset[str]] = {}
        for module in modules:
            for value in vars(module).values():
                if isinstance(value, MetricWrapperBase):
                    declared[value._name] = frozenset(value._labelnames)
        labels: dict[str, frozenset[str]] = {"up": frozenset()}
        for family in REGISTRY.collect():
            if family.name not in declared:
                continue  # the process's own metrics (python_gc_…): no dashboard relies on them
            base = declared[family.name]
            for name in sample_names(family.name, family.type):
                labels[name] = base | {"le"} if name.endswith("_bucket") else base
        return cls(labels)


def sample_names(name: str, kind: str) -> list[str]:
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
    if kind == "summary":
        return [f"{name}_count", f"{name}_sum", name]
    return [name]


def problems(expr: str, exported: Exported) -> list[str]:
    """Everything wrong with ``expr``; empty when it is well formed."""
    text = expr
    for variable, value in GRAFANA_VARIABLES.items():
        text = text.replace(variable, value)
    if "$" in text:
        return [f"unknown dashboard variable in {expr!r}"]
    text = _OFFSET.sub(" ", _RANGE.sub("\x00", text))
    if "[" in text or "]" in text:
        return [f"malformed range selector in {expr!r}"]
    tokens, error = tokenize(text)
    if error:
        return [error]
    return _Walker(tokens, exported).walk()


def tokenize(text: str) -> tuple[list[tuple[str, str]], str | None]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            return [], f"unexpected character at {pos}: {text[pos : pos + 20]!r}"
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens, None


class _Walker:
    def __init__(self, tokens: list[tuple[str, str]], exported: Exported) -> None:
        self.tokens, self.exported = tokens, exported
        self.found: list[str] = []
        self.metrics: list[str] = []
        self.grouped: list[str] = []

    def walk(self) -> list[str]:
        stack: list[str] = []
        i = 0
        while i < len(self.tokens):
            kind, value = self.tokens[i]
            nxt = self.tokens[i + 1][1] if i + 1 < len(self.tokens) else ""
            if value in _PAIRS:
                stack.append(_PAIRS[value])
            elif value in (")", "}") and (not stack or stack.pop() != value):
                self.found.append(f"unbalanced {value!r}")
            if kind == "ident":
                i = self._ident(i, value, nxt)
                continue
            i += 1
        if stack:
            self.found.append(f"unclosed {''.join(stack)!r}")
        known = SCRAPE_LABELS.union(
            *(self.exported.labels.get(m, frozenset()) for m in self.metrics)
        )
        self.found += [f"grouping by unknown label {g!r}" for g in self.grouped if g not in known]
        return self.found

    def _ident(self, i: int, value: str, nxt: str) -> int:
        if value in GROUPING:
            return self._label_list(i + 1)
        if value in AGGREGATIONS and nxt in ("by", "without"):
            return i + 1  # sum by (le) (...)
        if nxt == "(":
            if value not in FUNCTIONS | AGGREGATIONS:
                self.found.append(f"unknown function {value!r}")
            return i + 1
        if value in BINARY_WORDS:
            return i + 1
        self.metrics.append(value)
        if value not in self.exported.labels:
            self.found.append(f"metric {value!r} is not exported by any service")
        if nxt == "{":
            return self._matchers(i + 1, value)
        return i + 1

    def _label_list(self, i: int) -> int:
        if i >= len(self.tokens) or self.tokens[i][1] != "(":
            return i
        j = i + 1
        while j < len(self.tokens) and self.tokens[j][1] != ")":
            kind, value = self.tokens[j]
            if kind == "ident":
                self.grouped.append(value)
            elif value != ",":
                self.found.append(f"bad label list near {value!r}")
            j += 1
        return j + 1

    def _matchers(self, i: int, metric: str) -> int:
        """``{name op "value", ...}`` with names the metric has."""
        allowed = self.exported.labels.get(metric, frozenset()) | SCRAPE_LABELS
        j = i + 1
        while j < len(self.tokens) and self.tokens[j][1] != "}":
            part = self.tokens[j : j + 3]
            kinds = [k for k, _ in part]
            if kinds != ["ident", "op", "string"] or part[1][1] not in ("=", "!=", "=~", "!~"):
                self.found.append(f"bad label matcher in {metric}: {part}")
                return j + 1
            if part[0][1] not in allowed:
                self.found.append(f"{metric} has no label {part[0][1]!r}")
            j += 3
            if j < len(self.tokens) and self.tokens[j][1] == ",":
                j += 1
        if j >= len(self.tokens):
            self.found.append(f"unclosed label matchers of {metric}")
        return j + 1
