"""Just enough of PromQL and of the Prometheus text format for
grafana_test.py: which metric names and label names an expression uses, and
which series a scrape has.

Not a PromQL parser: string literals are masked first (so a regex such as
"a{2}" or a Grafana "$instance" cannot confuse the rest), then label
matchers `{...}`, ranges `[...]`, `offset D` and grouping clauses
`by (...)` are read and cut out; what is left of the identifiers, except functions (followed by
"(") and keywords, are metric names.
"""
import re

# Words that are no metric names where an identifier may stand.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan", "atan2"}
# Labels Prometheus adds when it scrapes: no scrape carries them.
TARGET_LABELS = {"instance", "job"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(S\d+)")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")


class Expr:
    """What one expression uses. selectors: [(metric or None, {label: (op, value)})];
    metrics: every metric name, with or without matchers; grouping: the labels of
    by/without/on/ignoring/group_* clauses."""

    def __init__(self, text):
        self.text = text
        strings = []

        def mask(m):
            strings.append(m.group(0)[1:-1])
            return "S%d" % (len(strings) - 1)

        rest = _STRING.sub(mask, text)
        self.selectors = []
        for m in _SELECTOR.finditer(rest):
            name = m.group(1) if m.group(1) and m.group(1) not in KEYWORDS else None
            matchers = {label: (op, strings[int(ref[1:])])
                        for label, op, ref in _MATCHER.findall(m.group(2))}
            self.selectors.append((name, matchers))
        rest = _SELECTOR.sub(lambda m: " %s " % (m.group(1) or ""), rest)
        rest = re.sub(r"\[[^\]]*\]", " ", rest)
        rest = re.sub(r"\boffset\s+-?[\w$]+", " ", rest)
        self.grouping = set()
        for m in _GROUPING.finditer(rest):
            self.grouping |= {l.strip() for l in m.group(2).split(",") if l.strip()}
        rest = _GROUPING.sub(" ", rest)
        self.metrics = set()
        for m in _TOKEN.finditer(rest):
            word = m.group(0)
            if word[0].isdigit() or word in KEYWORDS or re.fullmatch(r"S\d+", word):
                continue
            if rest[m.end():].lstrip().startswith("("):
                continue  # a function or an aggregation
            self.metrics.add(word)


class Scrape:
    """A /metrics answer (or several, merged). types: {family: type} from
    `# TYPE`; labels: {series name: set of label names} from the samples."""

    def __init__(self):
        self.types = {}
        self.labels = {}

    def add(self, text):
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) >= 4:
                    self.types[parts[2]] = parts[3]
            elif line and not line.startswith("#"):
                m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{([^}]*)\})?", line)
                if m:
                    names = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=\"", m.group(3) or ""))
                    self.labels.setdefault(m.group(1), set()).update(names)

    def family(self, name):
        """The family a series name in a query belongs to, or None: a counter or
        gauge by its own name, a histogram only as NAME_bucket, NAME_sum or
        NAME_count (a summary as NAME_sum, NAME_count or NAME)."""
        if self.types.get(name) in ("counter", "gauge", "untyped", "summary"):
            return name
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[:-len(suffix)] if name.endswith(suffix) else None
            if base and self.types.get(base) == "histogram":
                return base
            if base and suffix != "_bucket" and self.types.get(base) == "summary":
                return base
        return None

    def problems(self, expr):
        """What in `expr` (an Expr) this scrape does not have, one phrase each."""
        out = []
        for name, _ in expr.selectors:
            if name is None:
                out.append("a selector without a metric name")
        for name in sorted(expr.metrics):
            if self.family(name) is None:
                why = ("a histogram: use %s_bucket, _sum or _count" % name
                       if self.types.get(name) == "histogram" else "no such family")
                out.append("%s (%s)" % (name, why))
            elif name not in self.labels:
                out.append("%s (declared, but the scrape has no sample of it)" % name)
        used = set()
        for name, matchers in expr.selectors:
            have = self.labels.get(name, set()) | TARGET_LABELS
            used |= have
            for label in sorted(set(matchers) - have):
                out.append("label %s on %s (its samples carry %s)"
                           % (label, name, sorted(self.labels.get(name, ()))))
        for name in expr.metrics:
            used |= self.labels.get(name, set()) | TARGET_LABELS
        for label in sorted(expr.grouping - used):
            out.append("grouping label %s (no metric of the expression has it)" % label)
        return out
